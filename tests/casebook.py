"""Rule test cases as data: `tests/rule_cases/<RULECODE>.yaml`, each an extraction in and findings out.

A case lists only what it is about; `build_extraction` fills the rest from `CLEAN_NOTE`, a signed,
consistent Medicare PT note that raises no finding. Shorthands keep the YAML short:

- an `evidence` given as a string, or left out of a block, goal or billing line, is a verified span
  (each at its own offset, so no two items cite the same span unless the case says so);
  `evidence: null` makes the item unverified (not documented);
- a total, time or date given as a plain value is verified (`{value: 30, evidence: null}` is not);
- `skilled_justification` / `patient_response` may be lists of strings (verified spans).

Case file shape::

    rule: UNIT001
    cases:
      - name: cms_example_3_overbilled
        payer: medicare            # default medicare; state optional
        extraction: {blocks: [...], billing: [...]}
        expect: [{code: "97110", units_at_risk: 1}]   # this rule's findings, in order; [] = none
        flags: [...]               # optional: the exact flags of the whole result
        edit_tables:               # optional: imported CMS tables in force (default: none imported)
          ptp: {version: v321r0, effective_from: 2025-10-01, pairs: [{column1: "97140", column2: "97530", modifier_indicator: 1}]}
          mue: {version: 2025Q4, effective_from: 2025-10-01, values: [{code: "97530", value: 4, indicator: 2}]}
"""

from __future__ import annotations

from datetime import date
from itertools import count
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, Field

from reviewer.edit_tables import EditTables, MueTable, MueValue, PtpPair, PtpTable, TableVersion
from reviewer.schema import Extraction

CLEAN_NOTE: dict[str, Any] = {
    "document_type": "treatment_note",
    "discipline": "PT",
    "date_of_service": "03/11/2025",
    "signature": {"name": "Megan Castillo", "credentials": ["PT", "DPT"]},
    "goals": [{"text": "independent car transfers in 4 wks", "measurable": True}],
    "blocks": [
        {
            "code": "97530",
            "minutes": 30,
            "kind": "functional",
            "daily_task": "car transfer",
            "daily_task_verified": True,
        },
        {"code": "97110", "minutes": 15, "kind": "exercise"},
    ],
    "total_timed_minutes": 45,
    "total_treatment_minutes": 50,
    "billing": [{"code": "97530", "units": 2, "modifiers": ["GP"]}, {"code": "97110", "units": 1, "modifiers": ["GP"]}],
    "skilled_justification": ["cues for anterior weight shift"],
    "patient_response": ["pain 4/10 after stair training"],
    "outcome_measures": ["TUG 12 s"],
}

_GROUNDED = (
    "date_of_service",
    "signature_date",
    "plan_of_care_start",
    "visit_number",
    "visits_planned",
    "total_timed_minutes",
    "total_treatment_minutes",
    "time_in",
    "time_out",
)
_SPANNED_LISTS = ("goals", "blocks", "billing", "clinicians", "named_codes", "record")
_span_offsets = count()


class RuleCase(BaseModel):
    rule: str
    name: str
    payer: str = "medicare"
    state: str | None = None
    extraction: dict[str, Any] = Field(default_factory=dict)
    expect: list[dict[str, Any]]
    flags: list[str] | None = None
    edit_tables: dict[str, Any] | None = None

    @property
    def id(self) -> str:
        return f"{self.rule}-{self.name}"


def build_edit_tables(spec: dict[str, Any] | None) -> EditTables | None:
    """Edit tables from a case's `edit_tables` (pair `effective` defaults to 2000-01-01)."""
    if spec is None:
        return None
    ptp = mue = None
    if "ptp" in spec:
        table = spec["ptp"]
        pairs = tuple(PtpPair(**{"effective": date(2000, 1, 1), **pair}) for pair in table.get("pairs") or [])
        ptp = PtpTable(_table_version("ncci_ptp", table), pairs)
    if "mue" in spec:
        table = spec["mue"]
        values = {value["code"]: MueValue(**value) for value in table.get("values") or []}
        mue = MueTable(_table_version("mue", table), values)
    newest = {table.version.kind: table.version for table in (ptp, mue) if table is not None}
    return EditTables(ptp=ptp, mue=mue, newest=newest)


def _table_version(kind: Any, table: dict[str, Any]) -> TableVersion:
    return TableVersion(
        kind=kind,
        version=table["version"],
        effective_from=table.get("effective_from", date(2000, 1, 1)),
        effective_to=table.get("effective_to"),
    )


def verified_span(text: Any, start: int = 0) -> dict[str, Any]:
    text = str(text)
    return {"text": text, "start": start, "end": start + len(text), "match": "exact"}


def build_extraction(overrides: dict[str, Any]) -> Extraction:
    """The clean note with `overrides` replacing its top-level fields, shorthands expanded."""
    data = {**CLEAN_NOTE, **overrides}
    for key in _GROUNDED:
        if data.get(key) is not None and not isinstance(data[key], dict):
            data[key] = {"value": data[key]}
        if isinstance(data.get(key), dict):
            data[key] = _with_evidence(data[key])
    for key in _SPANNED_LISTS:
        data[key] = [_with_evidence(item) for item in data.get(key) or []]
    for key in ("signature",):
        if isinstance(data.get(key), dict):
            data[key] = _with_evidence(data[key])
    for key in ("skilled_justification", "patient_response", "instructions"):
        data[key] = [verified_span(item) if isinstance(item, str) else item for item in data.get(key) or []]
    data["outcome_measures"] = [
        _with_evidence({"value": item}) if isinstance(item, str) else _with_evidence(item)
        for item in data.get("outcome_measures") or []
    ]
    if isinstance(data.get("assistant_evidence"), str):
        data["assistant_evidence"] = verified_span(data["assistant_evidence"])
    return Extraction.model_validate(data)


def _with_evidence(item: dict[str, Any]) -> dict[str, Any]:
    item = dict(item)
    offset = 100 * next(_span_offsets)
    if "evidence" not in item:
        item["evidence"] = verified_span(
            item.get("text") or item.get("value") or item.get("code") or item.get("name") or "span", offset
        )
    elif isinstance(item["evidence"], str):
        item["evidence"] = verified_span(item["evidence"], offset)
    return item


def case_files() -> dict[str, Any]:
    """Rule code -> the parsed case file, for every file in tests/rule_cases/."""
    folder = Path(__file__).resolve().parent / "rule_cases"
    files = sorted((f for f in folder.iterdir() if f.name.endswith(".yaml")), key=lambda f: f.name)
    return {f.name.removesuffix(".yaml"): yaml.safe_load(f.read_text(encoding="utf-8")) for f in files}


def load_cases() -> list[RuleCase]:
    cases = []
    for code, content in case_files().items():
        if content.get("rule") != code:
            raise ValueError(f"rule_cases/{code}.yaml declares rule {content.get('rule')!r}")
        cases += [RuleCase(rule=code, **case) for case in content.get("cases") or []]
    return cases
