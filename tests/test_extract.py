"""Extraction from the model's pointers: grounding, cross-checks, retry and failure."""

import json

from fakes import DEV_0001, ScriptedBackend, dev0001_output

import pytest

from reviewer.extract import ExtractionFailed, extract
from reviewer.grounding import NumberedNote
from reviewer.prompts import load_prompt
from reviewer.settings import Settings

PROMPT = load_prompt(Settings().prompts_dir, "extract")

HANDLES = NumberedNote.from_text(DEV_0001.read_text(encoding="utf-8")).handles if DEV_0001.exists() else [""] * 20
GOOD = dev0001_output()


def test_every_evidence_span_equals_the_note_text(dev_note):
    result = extract(dev_note, ScriptedBackend(json.dumps(GOOD)), PROMPT)
    ext = result.extraction
    spans = ext.all_evidence()
    assert spans and all(dev_note[e.start : e.end] == e.text for e in spans)
    assert ext.minutes_by_code() == {"97530": 25, "97110": 15}
    assert ext.billed_units() == {"97530": 2, "97110": 1}
    assert ext.total_timed_minutes.value == 40 and ext.total_treatment_minutes.value == 50
    assert ext.signature.credentials[:2] == ["PT", "DPT"] and ext.signature.name == "Megan Castillo"
    assert ext.goals[0].text.startswith("pt will negotiate 4 steps")
    assert ext.blocks[2].billed_as_not_billed and ext.blocks[2].kind == "passive" and not ext.blocks[0].includes_passive
    assert ext.blocks[0].daily_task_verified
    assert ext.date_of_service.value == "03/11/2025"
    assert not ext.discrepancies


def test_model_numbers_that_disagree_with_the_note_are_reported_and_the_note_wins(dev_note):
    wrong = dict(GOOD, timed=45, acts=[dict(GOOD["acts"][0], min=30)], bill=["97530 GP x3", "97110 GP x1"])
    ext = extract(dev_note, ScriptedBackend(json.dumps(wrong)), PROMPT).extraction
    fields = {d.field for d in ext.discrepancies}
    assert {"block.minutes", "total_timed_minutes", "billing.97530.units"} <= fields
    assert ext.blocks[0].minutes == 25 and ext.total_timed_minutes.value == 40 and ext.billed_units()["97530"] == 2
    # the 97110 block the model skipped is still found by the parser, and said so
    assert "block.missed_by_model" in fields and ext.minutes_by_code()["97110"] == 15


def test_pointers_that_are_not_lines_of_the_note_are_not_evidence(dev_note):
    bad = dict(GOOD, goals=["pt will run a marathon"], skill=["made-up line"], resp=[])
    ext = extract(dev_note, ScriptedBackend(json.dumps(bad)), PROMPT).extraction
    assert [g.verified for g in ext.goals] == [False]
    assert [e.verified for e in ext.skilled_justification] == [False] and ext.patient_response == []


def test_assistant_pointer_must_name_an_assistant(dev_note):
    claimed = dict(GOOD, asst=HANDLES[18])  # the PT's own signature line
    ext = extract(dev_note, ScriptedBackend(json.dumps(claimed)), PROMPT).extraction
    assert not ext.assistant_involved and any(d.field == "assistant" for d in ext.discrepancies)


def test_group_line_marks_its_block(dev_note):
    ext = extract(dev_note, ScriptedBackend(json.dumps(dict(GOOD, group=HANDLES[8]))), PROMPT).extraction
    assert [b.group for b in ext.blocks] == [True, False, False]


def test_invalid_output_is_retried_once_with_the_error(dev_note):
    backend = ScriptedBackend('{"doc": "treatment_note", "acts": "oops"}', json.dumps(GOOD))  # invalid, then valid
    result = extract(dev_note, backend, PROMPT)
    assert result.attempts == 2
    assert "did not validate" in backend.calls[1][-1]["content"]


def test_output_still_invalid_after_retry_fails(dev_note):
    with pytest.raises(ExtractionFailed, match="invalid after a retry"):
        extract(dev_note, ScriptedBackend("not json", "{}{}"), PROMPT)


def test_prompt_prefix_is_the_same_for_every_note(dev_note):
    backend = ScriptedBackend(json.dumps(GOOD), json.dumps(GOOD))
    extract(dev_note, backend, PROMPT)
    extract("Another note\nTherapeutic activities 97530 x 10 min\nSigned A. B, PT", backend, PROMPT)  # valid JSON; pointers simply miss
    assert backend.calls[0][:-1] == backend.calls[1][:-1]
    assert backend.calls[0][-1] != backend.calls[1][-1]
