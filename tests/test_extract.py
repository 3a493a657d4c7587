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


SUB_ITEM_NOTE = """OT visit 08/05/2025
- Manual: radiocarpal glides - 10 min (97140)
- TherAct - 25 min (97530):
  - jar opening w/ L hand
  - keyboarding 3 min
| Intervention | Detail | Min | CPT |
|---|---|---|---|
| Hot pack | R wrist, 2 x 4 min | 8 | 97010 |
Billing: 97140-GO x1, 97530-GO x2
Kelsey Moran, OTR/L
"""


def test_indented_sub_items_belong_to_their_block_and_passive_claims_are_checked():
    handles = NumberedNote.from_text(SUB_ITEM_NOTE).handles
    output = dev0001_output(
        goals=[], acts=[
            {"line": handles[1], "code": "97140", "min": 10, "kind": "manual", "task": None},
            {"line": handles[2], "code": "97530", "min": 25, "kind": "functional", "task": "jar opening"},
            {"line": handles[4], "code": "97140", "min": 3, "kind": "exercise", "task": None},
            {"line": handles[7], "code": "97010", "min": 4, "kind": "passive", "task": None},
        ],
        passive=[handles[2], handles[7]], skill=[], resp=[], timed=None, total=None, bill=["97140 GO x1", "97530 GO x2"],
    )
    ext = extract(SUB_ITEM_NOTE, ScriptedBackend(json.dumps(output)), PROMPT).extraction
    assert ext.minutes_by_code() == {"97140": 10, "97530": 25, "97010": 8}  # the table's Min column, not "4 min"
    by_code = {b.code: b for b in ext.blocks}
    assert not by_code["97530"].includes_passive and by_code["97010"].includes_passive
    assert {d.field for d in ext.discrepancies} >= {"block.sub_item", "block.includes_passive"}


PAIRED_ROW_NOTE = """DAILY NOTE -- PHYSICAL THERAPY
| Time | Intervention | CPT | Min |
|---|---|---|---|
| 9:08-9:45 | Cervical glides interspersed with overhead dish placing | 97140 / 97530 | 12 / 25 |
| 9:45-9:55 | Manual therapy + Ther activities: STM during step-downs | | 10 |
Billing: 97140-GP x1; 97530-GP-59 x1
Signed: Noah Fitzgerald, PT, DPT
"""


def test_a_row_pairing_codes_and_minutes_gives_each_code_its_minutes_and_a_lump_row_gives_none():
    handles = NumberedNote.from_text(PAIRED_ROW_NOTE).handles
    output = dev0001_output(
        goals=[], passive=[], skill=[], resp=[], timed=None, total=None, bill=["97140 GP x1", "97530 GP 59 x1"],
        acts=[{"line": handles[3], "code": "97140", "min": 12, "kind": "manual", "task": None}],
    )
    ext = extract(PAIRED_ROW_NOTE, ScriptedBackend(json.dumps(output)), PROMPT).extraction
    rows = [(b.code, b.minutes, b.kind, b.start_time) for b in ext.blocks]
    assert rows[:2] == [("97140", 12, "manual", "9:08"), ("97530", 25, "other", "9:08")]
    assert rows[2:] == [("97140", None, "other", "9:45"), ("97530", None, "other", "9:45")]  # found by the parser
