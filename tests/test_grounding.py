"""Grounding: the numbered units the model sees, with offsets computed by the program."""

from reviewer.grounding import NumberedNote

NOTE = 'S: Pt reports R knee is tight.\nO:\n  Therapeutic activities (97530) x 25 min:   STS from 17" chair\nA: Needed CGA.'


def test_units_are_lines_and_long_paragraphs_are_split_into_sentences():
    paragraph = (
        "Subjective she reports pain. " * 4
        + "Therapeutic activities for twenty minutes, lifting a basket. Plan continue."
    )
    text = NOTE + "\n\n" + paragraph + "\n| a | b | c |"
    note = NumberedNote.from_text(text)
    assert note.lines[2].strip().startswith("Therapeutic activities (97530) x 25 min")
    assert all(text[o : o + len(line)] == line for o, line in zip(note.offsets, note.lines))
    assert any(line.startswith("Therapeutic activities for twenty") for line in note.lines)  # a sentence of its own
    last = len(note.lines)
    assert note.joined[last - 2] and not note.joined[last - 1] and note.lines[-1] == "| a | b | c |"
    assert note.breaks[0] and not note.breaks[1]
    ev = note.line_evidence(3, "activity")
    assert ev.text.startswith("Therapeutic activities") and text[ev.start : ev.end] == ev.text
    assert note.line_evidence(400) is None
    assert "[3] Therapeutic activities (97530) x 25 min: STS from" in note.render()  # numbered, spaces collapsed
