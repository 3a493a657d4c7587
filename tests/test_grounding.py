"""Grounding: offsets are computed by the program, and a fabricated quote is caught."""

from reviewer.grounding import NumberedNote, locate

NOTE = "S: Pt reports R knee is tight.\nO:\n  Therapeutic activities (97530) x 25 min:   STS from 17\" chair\nA: Needed CGA."


def test_exact_match_offsets_equal_the_note_text():
    ev = locate(NOTE, "Therapeutic activities (97530) x 25 min")
    assert ev.match == "exact" and ev.verified
    assert NOTE[ev.start : ev.end] == ev.text


def test_whitespace_and_case_insensitive_match_keeps_the_note_text():
    ev = locate(NOTE, "x 25 MIN: STS from")
    assert ev.match == "normalized"
    assert NOTE[ev.start : ev.end] == ev.text == "x 25 min:   STS from"


def test_fabricated_quote_is_not_verified():
    ev = locate(NOTE, "Patient completed 40 minutes of gait training on the treadmill")
    assert ev.match == "none" and not ev.verified and ev.start is None


def test_near_quote_matches_fuzzily_and_points_at_note_text():
    ev = locate(NOTE, "Therapeutic activity (97530) x 25 min")
    assert ev.match == "fuzzy"
    assert NOTE[ev.start : ev.end] == ev.text


def test_units_are_lines_and_long_paragraphs_are_split_into_sentences():
    paragraph = "Subjective she reports pain. " * 4 + "Therapeutic activities for twenty minutes, lifting a basket. Plan continue."
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
