"""The extraction: what a note documents, each value tied to the note text it came from.

Two layers:
- `ModelOutput` is the language model's output contract. It is deliberately terse: the model
  points at numbered note lines and names categories; it never copies prose (each output token
  costs ~0.13 s on the embedded model).
- `Extraction` is what the rules read. The program builds it from the model's pointers and its
  own deterministic parsing, and computes every evidence offset itself (see `grounding`).
"""

from __future__ import annotations

from typing import Annotated, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

T = TypeVar("T")

ActivityKind = Literal[
    "functional",  # dynamic functional task: transfers, lifting, carrying, stairs, reaching (97530)
    "exercise",  # isolated strengthening, ROM, stretching, endurance (97110)
    "balance",  # balance, coordination, proprioception, posture (97112)
    "gait",  # gait training (97116)
    "selfcare",  # ADL/IADL training: dressing, bathing, meal prep, adaptive equipment (97535)
    "manual",  # mobilisation, soft tissue, manual therapy (97140)
    "passive",  # modalities, hot/cold packs, e-stim, passive ROM, massage, rest
    "other",
]

DocumentType = Literal["treatment_note", "other"]
Discipline = Literal["PT", "OT", "SLP"]


# ---------------------------------------------------------------------------
# The model's output contract
# ---------------------------------------------------------------------------
# A small model matches text far more reliably than it counts lines, so the model points at a
# line by its handle: the line's own first words. The per-note JSON schema makes each pointer an
# enum of the note's handles, so the model cannot point at text that is not there, and the
# lists are bounded so it cannot loop.


class ModelActivity(BaseModel):
    line: str = Field(description="handle of the treatment line")
    code: str | None = Field(max_length=5, description="CPT code of the block, 5 digits, null if none")
    min: int | None = Field(description="minutes of the block, null if not stated")
    kind: ActivityKind
    task: str | None = Field(max_length=40, description="daily-life task trained, 1-4 words from the note")


class ModelOutput(BaseModel):
    """What the language model returns. Every field is required (the grammar then makes the model
    decide each one); keys are short (every token is decoded); booleans are per note, not per
    item, because greedy decoding of a small model copies an item's values into the next."""

    model_config = ConfigDict(extra="ignore")

    doc: DocumentType = Field(description="treatment_note for a daily therapy treatment note, else other")
    disc: Literal["PT", "OT", "SLP", "unknown"]
    goals: list[str] = Field(max_length=3, description="handles of lines stating functional goals")
    measurable: bool = Field(description="a stated goal has a measurable target (distance, assist level, reps, time, score)")
    acts: list[ModelActivity] = Field(max_length=8)
    passive: list[str] = Field(max_length=3, description="handles of treatment lines whose time includes passive treatment")
    group: str | None = Field(description="handle of a line showing other patients were treated at the same time")
    skill: list[str] = Field(max_length=3, description="handles of lines showing skilled care")
    resp: list[str] = Field(max_length=3, description="handles of lines recording the patient's response")
    asst: str | None = Field(description="handle of the line showing a PTA/OTA/COTA gave treatment")
    timed: int | None = Field(description="total timed-code minutes as stated")
    total: int | None = Field(description="total treatment minutes as stated")
    bill: list[Annotated[str, Field(max_length=30)]] = Field(max_length=8, description='billing lines as "CODE MODS xUNITS"')


def model_output_schema(handles: list[str], goal_lines: list[str] | None = None, act_lines: list[str] | None = None) -> dict:
    """The JSON schema for one note: every pointer is one of the note's line handles; goals and
    activities are narrowed to the lines the parser finds plausible for them (goal vocabulary;
    a code, minutes or a named service)."""
    schema = ModelOutput.model_json_schema()
    every = {"enum": list(handles)}
    props = schema["properties"]
    activity = {"enum": list(act_lines)} if act_lines else every
    schema["$defs"]["ModelActivity"]["properties"]["line"] = activity
    props["acts"]["maxItems"] = max(1, min(8, len(act_lines or handles)))
    props["passive"]["items"] = activity
    props["passive"]["maxItems"] = max(1, min(3, len(act_lines or handles)))
    if goal_lines:
        props["goals"]["items"] = {"enum": list(goal_lines)}
        props["goals"]["maxItems"] = min(3, len(goal_lines))
    else:  # no line reads like a goal: the model may not invent one
        props["goals"]["items"] = every
        props["goals"]["maxItems"] = 0
    for key in ("skill", "resp"):
        props[key]["items"] = every
    for key in ("group", "asst"):
        props[key] = {"anyOf": [every, {"type": "null"}]}
    return schema


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
    evidence: Evidence | None = None

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
    minutes_source: Literal["parser", "model", "both", "none"] = "none"
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


class Discrepancy(BaseModel):
    """The model and the deterministic parser disagree; shown to the user, never hidden."""

    field: str
    parser: str | None
    model: str | None
    chosen: str | None
    line: int | None = None


class Extraction(BaseModel):
    document_type: DocumentType = "treatment_note"
    date_of_service: Grounded[str] | None = None
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
    skilled_justification: list[Evidence] = Field(default_factory=list)
    patient_response: list[Evidence] = Field(default_factory=list)
    outcome_measures: list[Grounded[str]] = Field(default_factory=list)
    discrepancies: list[Discrepancy] = Field(default_factory=list)

    def minutes_by_code(self) -> dict[str, int]:
        """Documented minutes per CPT code (blocks with a code and minutes; summed per code)."""
        out: dict[str, int] = {}
        for block in self.blocks:
            if block.code and block.minutes is not None and block.verified:
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
        spans: list[Evidence] = []
        for item in [self.date_of_service, self.total_timed_minutes, self.total_treatment_minutes, self.time_in, self.time_out]:
            if item is not None and item.evidence is not None:
                spans.append(item.evidence)
        if self.signature and self.signature.evidence:
            spans.append(self.signature.evidence)
        if self.assistant_evidence:
            spans.append(self.assistant_evidence)
        spans += [g.evidence for g in self.goals if g.evidence]
        spans += [b.evidence for b in self.blocks if b.evidence]
        spans += [b.evidence for b in self.billing if b.evidence]
        spans += self.skilled_justification + self.patient_response
        spans += [m.evidence for m in self.outcome_measures if m.evidence]
        return spans
