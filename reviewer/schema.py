"""The extraction: what a note documents, each value tied to the note text it came from.

The model's output contract is a constrained choice per question (`backends.base.choice_schema`):
a line number, a kind, one of the numbers written in a block. `Extraction` is what the rules read.
The program builds it from those answers and its own reading of the note's numbers, and computes
every evidence offset itself (see `grounding`).
"""

from __future__ import annotations

from typing import Generic, Literal, TypeVar

from pydantic import BaseModel, Field

T = TypeVar("T")

ActivityKind = Literal[
    "functional",  # dynamic functional task: transfers, lifting, carrying, stairs, reaching (97530)
    "exercise",  # isolated strengthening, ROM, stretching, endurance (97110)
    "balance",  # balance, coordination, proprioception, posture (97112)
    "gait",  # gait training (97116)
    "selfcare",  # ADL/IADL training: dressing, bathing, meal prep, adaptive equipment (97535)
    "manual",  # mobilisation, soft tissue, manual therapy (97140)
    "passive",  # modalities, hot/cold packs, e-stim, passive ROM, massage, rest
    "cognitive",  # memory, attention, problem solving, speech or language work
    "other",
]

DocumentType = Literal["treatment_note", "unbilled_note", "other"]  # unbilled: a treatment note with no billing lines
RecordPart = Literal["subjective", "objective", "assessment", "plan"]
Discipline = Literal["PT", "OT", "SLP"]


# ---------------------------------------------------------------------------
# The extraction the rules read
# ---------------------------------------------------------------------------

MatchKind = Literal["exact", "normalized", "fuzzy", "none"]


class Evidence(BaseModel):
    """A span of the note. `start`/`end` are computed by the program, never by the model."""

    text: str
    start: int | None = None
    end: int | None = None
    match: MatchKind = "none"
    supports: str = Field(default="", description="what this span supports: goal, activity, minutes, skill, ...")

    @property
    def verified(self) -> bool:
        return self.match != "none" and self.start is not None


class Grounded(BaseModel, Generic[T]):
    """A value with the note text it came from."""

    value: T
    evidence: Evidence | None = None
    source: Literal["parser", "model", "both", "computed"] = "parser"

    @property
    def verified(self) -> bool:
        return self.source == "computed" or (self.evidence is not None and self.evidence.verified)


class Goal(BaseModel):
    text: str
    measurable: bool
    functional: bool | None = Field(
        default=None,
        description="False when the goal names no daily-life activity and the model agrees it is about none",
    )
    evidence: Evidence | None = None

    @property
    def verified(self) -> bool:
        return self.evidence is not None and self.evidence.verified


class RecordElement(BaseModel):
    """One part of the SOAP record (the patient's report, what was observed or measured, the
    assessment, the plan), judged by what the note's lines say rather than by its headings."""

    part: RecordPart
    present: bool | None = Field(description="None: the witnesses could not settle it (no finding rests on it)")
    evidence: Evidence | None = None
    source: Literal["parser", "model", "none"] = "none"

    @property
    def verified(self) -> bool:
        return self.evidence is not None and self.evidence.verified


class TreatmentBlock(BaseModel):
    """One documented intervention, e.g. "Therapeutic activities (97530) x 25 min: ..."."""

    code: str | None = None
    minutes: int | None = None
    start_time: str | None = None
    stop_time: str | None = None
    description: str = ""
    kind: ActivityKind = "other"
    daily_task: str | None = None
    daily_task_verified: bool = False
    group: bool = False
    billed_as_not_billed: bool = Field(default=False, description="the note says this block was not billed")
    includes_passive: bool = Field(default=False, description="passive treatment is counted within this block's time")
    minutes_source: Literal["parser", "model", "both", "total", "none"] = "none"
    minutes_candidates: list[int] = Field(
        default_factory=list, description="the minute readings of the block's witnesses"
    )
    counted: bool = Field(
        default=True, description="its minutes count for its code (not a restatement, mention or summary)"
    )
    kind_confidence: float | None = None
    charge_restatement: bool = Field(default=False, description="a charge line restating minutes documented elsewhere")
    assistant_named: bool = Field(default=False, description="the block names a PTA/OTA who took part")
    assistant_minutes: int | None = Field(default=None, description="the assistant's minutes the block states")
    evidence: Evidence | None = None

    @property
    def passive(self) -> bool:
        return self.kind == "passive"

    @property
    def verified(self) -> bool:
        return self.evidence is not None and self.evidence.verified


class BillingLine(BaseModel):
    code: str
    units: int | None = None
    modifiers: list[str] = Field(default_factory=list)
    evidence: Evidence | None = None
    source: Literal["parser", "model", "both"] = "parser"


class Clinician(BaseModel):
    name: str | None = None
    credentials: list[str] = Field(default_factory=list)
    evidence: Evidence | None = None


class IdentitySpan(BaseModel):
    """Where the note writes a patient identifier or an authorization number: offsets only, never the
    text, so an extraction can be stored and shown without them (`identity.patient_keys` hashes them)."""

    supports: Literal["mrn", "name", "date_of_birth", "authorization_number"]
    start: int
    end: int


class EpisodeKeys(BaseModel):
    """What places a note in a patient's episode of care (`episodes.py`), each with its evidence."""

    identity_spans: list[IdentitySpan] = Field(default_factory=list)
    document_kind: Grounded[str] | None = Field(
        default=None, description="evaluation, progress_report or reevaluation, from the document's title"
    )
    certified_from: Grounded[str] | None = Field(default=None, description="ISO date")
    certified_through: Grounded[str] | None = Field(default=None, description="ISO date")
    visits_authorized: Grounded[int] | None = None

    def span(self, supports: str) -> IdentitySpan | None:
        return next((s for s in self.identity_spans if s.supports == supports), None)

    def evidence(self) -> list[Evidence]:
        """The spans of the keys with a value (identifiers have offsets only, no evidence)."""
        keys = (self.document_kind, self.certified_from, self.certified_through, self.visits_authorized)
        return [key.evidence for key in keys if key is not None and key.evidence is not None]


class Discrepancy(BaseModel):
    """The model and the deterministic parser disagree; shown to the user, never hidden."""

    field: str
    parser: str | None
    model: str | None
    chosen: str | None
    line: int | None = None


class Uncertain(BaseModel):
    """A value no consistent reading settles: shown to a human, never used for a billing flag."""

    field: str  # e.g. "minutes"
    code: str | None = None
    reason: str
    candidates: list[int] = Field(default_factory=list)
    evidence: Evidence | None = None


class Judgement(BaseModel):
    """The model's answer to one question, with its probability among the allowed answers."""

    answer: str
    confidence: float | None = None


class Extraction(BaseModel):
    document_type: DocumentType = "treatment_note"
    document_evidence: Evidence | None = Field(
        default=None, description="the line that shows what else the document is"
    )
    date_of_service: Grounded[str] | None = None
    date_of_service_labelled: bool = Field(default=False, description="the date is labelled as the date of service")
    signature_date: Grounded[str] | None = Field(default=None, description="the latest date on a signature line")
    plan_of_care_start: Grounded[str] | None = None
    visit_number: Grounded[int] | None = None
    visits_planned: Grounded[int] | None = Field(
        default=None, description='visits the note says are planned: "visit 8 of 16", or "2x/wk x 6 wks"'
    )
    named_codes: list[Grounded[str]] = Field(
        default_factory=list,
        description="codes the note names: by service name anywhere, or by number outside its billing lines",
    )
    discipline: Discipline | None = None
    signature: Clinician | None = None
    clinicians: list[Clinician] = Field(default_factory=list)
    assistant_involved: bool = False
    assistant_evidence: Evidence | None = None
    goals: list[Goal] = Field(default_factory=list)
    blocks: list[TreatmentBlock] = Field(default_factory=list)
    total_timed_minutes: Grounded[int] | None = None
    total_treatment_minutes: Grounded[int] | None = None
    time_in: Grounded[str] | None = None
    time_out: Grounded[str] | None = None
    billing: list[BillingLine] = Field(default_factory=list)
    group_evidence: Evidence | None = Field(
        default=None, description="a line showing patients treated at the same time"
    )
    skilled_justification: list[Evidence] = Field(default_factory=list)
    patient_response: list[Evidence] = Field(default_factory=list)
    outcome_measures: list[Grounded[str]] = Field(default_factory=list)
    record: list[RecordElement] = Field(default_factory=list, description="the SOAP parts the note records")
    instructions: list[Evidence] = Field(
        default_factory=list, description="text addressed to the reviewer or the model, left out of the reading"
    )
    episode: EpisodeKeys = Field(default_factory=EpisodeKeys, description="the keys of the note's episode of care")
    discrepancies: list[Discrepancy] = Field(default_factory=list)
    uncertain: list[Uncertain] = Field(default_factory=list)
    judgements: dict[str, Judgement] = Field(default_factory=dict)
    doubtful: list[str] = Field(
        default_factory=list,
        description="elements (skill, response, goal) the model could not confidently call present or absent",
    )

    def uncertain_codes(self) -> set[str]:
        return {u.code for u in self.uncertain if u.code}

    def minutes_by_code(self) -> dict[str, int]:
        """Documented minutes per CPT code (blocks with a code and minutes; summed per code)."""
        out: dict[str, int] = {}
        for block in self.blocks:
            if block.code and block.minutes is not None and block.verified and block.counted:
                out[block.code] = out.get(block.code, 0) + block.minutes
        return out

    def billed_units(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for line in self.billing:
            out[line.code] = out.get(line.code, 0) + (line.units if line.units is not None else 1)
        return out

    def modifiers_by_code(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for line in self.billing:
            mods = out.setdefault(line.code, [])
            mods.extend(m for m in line.modifiers if m not in mods)
        return out

    def all_evidence(self) -> list[Evidence]:
        """Every evidence span, for highlighting and for the verified-share metric."""
        spans: list[Evidence] = [self.document_evidence] if self.document_evidence else []
        for item in [
            self.date_of_service,
            self.signature_date,
            self.plan_of_care_start,
            self.visit_number,
            self.visits_planned,
            self.total_timed_minutes,
            self.total_treatment_minutes,
            self.time_in,
            self.time_out,
        ]:
            if item is not None and item.evidence is not None:
                spans.append(item.evidence)
        if self.signature and self.signature.evidence:
            spans.append(self.signature.evidence)
        if self.assistant_evidence:
            spans.append(self.assistant_evidence)
        if self.group_evidence:
            spans.append(self.group_evidence)
        spans += [g.evidence for g in self.goals if g.evidence]
        spans += [b.evidence for b in self.blocks if b.evidence]
        spans += [b.evidence for b in self.billing if b.evidence]
        spans += self.skilled_justification + self.patient_response
        spans += [r.evidence for r in self.record if r.evidence]
        spans += self.instructions
        spans += [m.evidence for m in self.outcome_measures if m.evidence]
        spans += self.episode.evidence()
        spans += [u.evidence for u in self.uncertain if u.evidence]
        return spans
