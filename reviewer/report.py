"""The report for one note: the shape of `reviewer review --json`, the batch store and the UI."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, Field

from reviewer.findings import Finding
from reviewer.schema import Extraction


class ModelInfo(BaseModel):
    backend: str
    model: str
    prompt_version: str


class Timing(BaseModel):
    total_s: float = 0.0
    model_s: float = 0.0
    attempts: int = 0
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cached_tokens: int | None = Field(default=None, description="prompt tokens reused from the model's cache")
    prompt_s: float | None = None
    output_s: float | None = None
    questions: int | None = None


class UnitRow(BaseModel):
    """One CPT code's line in the unit table."""

    code: str
    minutes: int | None
    billed: int | None
    supported: int | None
    at_risk: int = 0  # billed - supported when positive
    uncertain: bool = False  # the minutes could not be settled: no units judged, a human reads them


class Locality(BaseModel):
    state: str
    jurisdiction: str
    contractor: str
    lcd: str | None = None
    note: str | None = None


class EditTableUse(BaseModel):
    """Which CMS edit table a review applied (or that none was imported)."""

    table: Literal["ncci_ptp", "mue"]
    version: str | None = Field(default=None, description="the imported table version; None: none imported")
    verified: bool = Field(default=False, description="a CMS file imported by the user, not the bundled pairs")
    effective_from: date | None = None
    effective_to: date | None = None
    note: str | None = None

    @property
    def summary(self) -> str:
        name = {"ncci_ptp": "NCCI PTP", "mue": "MUE"}[self.table]
        if self.version is None:
            return f"{name}: none imported" + (
                " (bundled pairs, unverified edit table)" if self.table == "ncci_ptp" else ""
            )
        span = f"{self.effective_from.isoformat() if self.effective_from else '?'}"
        span += f" to {self.effective_to.isoformat()}" if self.effective_to else " on"
        return f"{name} {self.version} ({span})" + (f"; {self.note}" if self.note else "")


def edit_tables_summary(uses: list[EditTableUse]) -> str:
    """One line naming the edit-table versions a review applied."""
    return "; ".join(use.summary for use in uses) if uses else "not recorded"


class NoteReport(BaseModel):
    note_id: str
    status: Literal["ok", "failed"]
    error: str | None = None
    payer: str
    state: str | None = None
    flags: list[str] = Field(default_factory=list)
    needs_human: bool = Field(default=False, description="a value is uncertain: send the note to a human reading")
    findings: list[Finding] = Field(default_factory=list)
    score: int | None = None
    risk_band: Literal["low", "medium", "high"] | None = None
    units: list[UnitRow] = Field(default_factory=list)
    locality: Locality | None = None
    extraction: Extraction | None = None
    model: ModelInfo
    timing: Timing = Field(default_factory=Timing)
    content_hash: str = ""
    rules_version: str = ""
    edit_tables: list[EditTableUse] = Field(default_factory=list, description="the CMS edit tables applied")
    edit_tables_loaded: str = Field(
        default="", description="the imported table versions the review could choose from (part of the store key)"
    )
    raw_model_output: str | None = Field(default=None, description="the model's last raw output, for re-scoring")
    note_text: str | None = Field(default=None, description="the note text the offsets refer to (kept local)")


def report_provider(report: NoteReport) -> str | None:
    """The signing clinician, the key of the provider-level patterns."""
    signature = report.extraction.signature if report.extraction else None
    return signature.name if signature and signature.name else None
