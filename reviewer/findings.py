"""Findings: what the rules return. Data, never exceptions."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from reviewer.schema import Evidence

Severity = Literal["error", "warning", "info"]

# The fixed finding vocabulary of ../shared/corpus/FORMAT.md ("flags").
FLAGS: tuple[str, ...] = (
    "total_timed_minutes_missing",
    "total_treatment_time_missing",
    "timed_minutes_missing",
    "minutes_total_mismatch",
    "units_exceed_minutes",
    "units_below_minutes",
    "no_functional_goal",
    "no_functional_activity",
    "passive_treatment_billed",
    "no_skilled_justification",
    "no_patient_response",
    "modifier_59_unsupported",
    "ncci_pair_missing_modifier",
    "group_billed_as_individual",
    "missing_signature",
    "missing_discipline_modifier",
    "assistant_modifier_missing",
    "not_a_treatment_note",
)


class Finding(BaseModel):
    """One problem a compliance reviewer can act on."""

    rule: str = Field(description="stable rule code, e.g. UNIT001")
    name: str = Field(default="", description="dotted rule name, e.g. units.exceed_minutes")
    flag: str | None = Field(default=None, description="FORMAT.md vocabulary flag this finding raises, if any")
    severity: Severity
    message: str
    citation: str
    fix: str
    evidence: list[Evidence] = Field(default_factory=list)
    code: str | None = Field(default=None, description="CPT code concerned, if one")
    units_at_risk: int = 0
    scope: Literal["note", "episode"] = Field(
        default="note", description="episode: raised on the patient's visits together (rules/episode.py)"
    )
