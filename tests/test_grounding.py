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


def test_line_handles_point_at_the_stripped_line():
    note = NumberedNote.from_text(NOTE + "\n\nO:")
    assert note.handles[2] == "Therapeutic activities (97530) x 25 min:"
    assert note.handles[4] == "O: #2"  # repeated line starts are made unique
    ev = note.line_evidence(note.line_of_handle(note.handles[2]), "activity")
    assert ev.text.startswith("Therapeutic activities") and NOTE[ev.start : ev.end] == ev.text
    assert note.line_of_handle("not a handle") is None and note.line_evidence(40) is None
    assert "x 25 min: STS from" in note.render()  # runs of spaces collapsed for the model
