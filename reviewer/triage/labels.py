"""Reviewer overrides as labelled cases (../shared/corpus/FORMAT.md), so they become regression cases.

A case is the note text plus a labels.jsonl line. Its gold flags are the report's flags minus
those whose every finding a reviewer overrode; the other gold fields are the report's extraction,
which the reviewer saw and did not dispute. The patient's identifiers that the extraction locates
(MRN, name, date of birth, authorization number) are masked in the text, the id and the goals.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

from reviewer.data import load_yaml
from reviewer.identity import identifier_words, mask_words, redact_identifiers
from reviewer.triage.service import ItemDetail, TriageQueue


@dataclass(frozen=True)
class LabelledCase:
    case_id: str
    note_text: str
    label: dict


def override_case(item: ItemDetail) -> LabelledCase | None:
    """The case for a decided item with at least one override; None when there is nothing to learn."""
    report = item.report
    overridden = {i for i, v in item.verdicts.items() if v.action == "override"}
    if not overridden or report.note_text is None or report.extraction is None:
        return None
    kept_flags = {f.flag for i, f in enumerate(report.findings) if f.flag and i not in overridden}
    dropped_flags = {report.findings[i].flag for i in overridden} - kept_flags
    extraction = report.extraction
    timed_codes, untimed_codes = _codes_by_timing()
    minutes = {code: m for code, m in extraction.minutes_by_code().items() if code in timed_codes}
    total_timed = extraction.total_timed_minutes.value if extraction.total_timed_minutes else None
    if total_timed is None and minutes:  # FORMAT.md: computed from the per-code minutes when not stated
        total_timed = sum(minutes.values())
    treatment = extraction.total_treatment_minutes
    words = identifier_words(report.note_text, extraction.episode)
    case_id = f"{_safe(mask_words(report.note_id, words))}-r{item.id}"
    label = {
        "id": case_id,
        "payer": report.payer,
        "state": report.state,
        "discipline": extraction.discipline,
        "gold": {
            "timed_minutes": minutes,
            "untimed_codes": sorted(code for code in extraction.billed_units() if code in untimed_codes),
            "total_timed_minutes": total_timed,
            "total_treatment_minutes": treatment.value if treatment else None,
            "billed_units": extraction.billed_units(),
            "modifiers": extraction.modifiers_by_code(),
            "correct_units": {row.code: row.supported for row in report.units if row.supported is not None},
            "goals": [mask_words(goal.text, words) for goal in extraction.goals],
            "flags": [flag for flag in report.flags if flag not in dropped_flags],
        },
    }
    return LabelledCase(
        case_id=case_id, note_text=redact_identifiers(report.note_text, extraction.episode), label=label
    )


def export_overrides(queue: TriageQueue, *, actor: str) -> list[LabelledCase]:
    """The cases of every decided item with an override; the export itself goes in the audit trail."""
    cases = [case for case in map(override_case, queue.decided_with_overrides()) if case is not None]
    queue.record(actor=actor, action="export_overrides", details={"cases": [case.case_id for case in cases]})
    return cases


def write_corpus(cases: list[LabelledCase], out_dir: Path) -> None:
    """`out_dir/notes/<id>.txt` and `out_dir/labels.jsonl`, as FORMAT.md lays a corpus out."""
    notes = Path(out_dir) / "notes"
    notes.mkdir(parents=True, exist_ok=True)
    for case in cases:
        (notes / f"{case.case_id}.txt").write_text(case.note_text, encoding="utf-8")
    (Path(out_dir) / "labels.jsonl").write_text(_jsonl(cases), encoding="utf-8")


def corpus_zip(cases: list[LabelledCase]) -> bytes:
    """The same corpus as one zip file, for a download button."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for case in cases:
            archive.writestr(f"notes/{case.case_id}.txt", case.note_text)
        archive.writestr("labels.jsonl", _jsonl(cases))
    return buffer.getvalue()


def _jsonl(cases: list[LabelledCase]) -> str:
    return "".join(json.dumps(case.label, ensure_ascii=False) + "\n" for case in cases)


def _codes_by_timing() -> tuple[set[str], set[str]]:
    """(timed, untimed) codes of the code table; a code it does not know is in neither."""
    codes = load_yaml("codes.yaml")["codes"]
    return {c for c, info in codes.items() if info.get("timed") is True}, {
        c for c, info in codes.items() if info.get("timed") is False
    }


def _safe(note_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", note_id).strip("._") or "note"
