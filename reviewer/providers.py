"""Provider-level billing patterns over a batch: what triggers an audit of one clinician.

An auditor looks past single notes to a clinician's habits, each set against the batch as a whole:
- the share of notes billing 59 or X{E,P,S,U} (routine 59 use is a known NCCI audit target);
- average minutes per billed timed unit (under 15 is a CMS review trigger: units billed faster
  than the time documented supports);
- the 97530 share of 97530 + 97110 units (97530 pays more; a heavy tilt invites a look).
"""

from __future__ import annotations

from collections import defaultdict

from pydantic import BaseModel, Field

from reviewer.codes import is_timed, normalize_modifier
from reviewer.report import NoteReport, report_provider
from reviewer.schema import Extraction

DISTINCT_SERVICE_MODIFIERS = frozenset({"59", "XE", "XP", "XS", "XU"})
MIN_MINUTES_PER_UNIT = 15.0
SHARE_ABOVE_BATCH_TRIGGER = 0.20  # a provider share this far above the batch share is a trigger
UNSIGNED = "(no signature)"


class ProviderPattern(BaseModel):
    """One clinician's (or the whole batch's) billing pattern."""

    provider: str
    notes: int
    modifier_59_share: float | None = Field(description="share of notes billing 59 or X{E,P,S,U}")
    minutes_per_unit: float | None = Field(description="documented timed minutes per billed timed unit")
    share_97530: float | None = Field(description="97530 units / (97530 + 97110 units)")
    mean_score: float | None = None
    units_at_risk: int = 0
    triggers: list[str] = Field(default_factory=list)


class BatchPatterns(BaseModel):
    overall: ProviderPattern
    providers: list[ProviderPattern]


def provider_patterns(reports: list[NoteReport]) -> BatchPatterns:
    """Patterns per provider and for the whole batch, over the ok reports; providers by note count."""
    reviewed = [r for r in reports if r.status == "ok" and r.extraction is not None]
    overall = _pattern("all providers", reviewed)
    by_provider: dict[str, list[NoteReport]] = defaultdict(list)
    for report in reviewed:
        by_provider[report_provider(report) or UNSIGNED].append(report)
    providers = [_with_triggers(_pattern(name, notes), overall) for name, notes in by_provider.items()]
    providers.sort(key=lambda p: (-p.notes, p.provider))
    return BatchPatterns(overall=overall, providers=providers)


def _pattern(provider: str, reports: list[NoteReport]) -> ProviderPattern:
    extractions = [r.extraction for r in reports if r.extraction is not None]
    with_59 = sum(1 for ext in extractions if _bills_distinct_service(ext))
    minutes = units = 0
    for report in reports:
        note_minutes = _timed_minutes(report)
        note_units = sum(row.billed or 0 for row in report.units if is_timed(row.code))
        if note_minutes is not None and note_units:
            minutes, units = minutes + note_minutes, units + note_units
    billed: dict[str, int] = defaultdict(int)
    for ext in extractions:
        for code, count in ext.billed_units().items():
            billed[code] += count
    mix_total = billed["97530"] + billed["97110"]
    scores = [r.score for r in reports if r.score is not None]
    return ProviderPattern(
        provider=provider,
        notes=len(reports),
        modifier_59_share=with_59 / len(reports) if reports else None,
        minutes_per_unit=minutes / units if units else None,
        share_97530=billed["97530"] / mix_total if mix_total else None,
        mean_score=sum(scores) / len(scores) if scores else None,
        units_at_risk=sum(row.at_risk for r in reports for row in r.units),
    )


def _with_triggers(pattern: ProviderPattern, overall: ProviderPattern) -> ProviderPattern:
    triggers = []
    if pattern.minutes_per_unit is not None and pattern.minutes_per_unit < MIN_MINUTES_PER_UNIT:
        triggers.append(f"{pattern.minutes_per_unit:.1f} min per timed unit (< {MIN_MINUTES_PER_UNIT:.0f})")
    if _above(pattern.modifier_59_share, overall.modifier_59_share):
        triggers.append("59/X on more notes than the batch")
    if _above(pattern.share_97530, overall.share_97530):
        triggers.append("97530 share of 97530+97110 above the batch")
    return pattern.model_copy(update={"triggers": triggers})


def _above(share: float | None, batch_share: float | None) -> bool:
    return share is not None and batch_share is not None and share - batch_share >= SHARE_ABOVE_BATCH_TRIGGER


def _bills_distinct_service(extraction: Extraction) -> bool:
    modifiers = {normalize_modifier(m) for mods in extraction.modifiers_by_code().values() for m in mods}
    return bool(DISTINCT_SERVICE_MODIFIERS & modifiers)


def _timed_minutes(report: NoteReport) -> int | None:
    """The note's timed minutes: its stated total, else the sum over the unit table's timed codes."""
    stated = report.extraction.total_timed_minutes if report.extraction else None
    if stated is not None:
        return stated.value
    per_code = [row.minutes for row in report.units if row.minutes is not None and is_timed(row.code)]
    return sum(per_code) if per_code else None
