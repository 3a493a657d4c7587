"""A draft authorization request from an episode: a template filled from verified values only.

Each sentence carries the evidence spans it rests on (note id and span); a value the notes do not
give is left as a visible placeholder in square brackets, never guessed. The program fills every
slot: an outcome measure's first and latest values, and whether that change is an improvement by the
measure's direction (data/outcome_measures.yaml); the therapist's own assessment, quoted from the
latest note that records one. No model writes or judges anything here: measured on the embedded
model, it called 10 of 10 changes improvements (three were declines) and named the better direction
of 6 of 13 measures, so its reading would add facts the notes do not support. Identifiers are not
filled in: the patient's name and the authorization number are placeholders the reviewer fills.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from pydantic import BaseModel, Field

from reviewer.episodes import Episode
from reviewer.parsing import OUTCOME_MEASURES
from reviewer.report import NoteReport
from reviewer.schema import Evidence


class Cited(BaseModel):
    note_id: str
    evidence: Evidence


class Sentence(BaseModel):
    text: str
    evidence: list[Cited] = Field(default_factory=list)

    @property
    def placeholders(self) -> int:
        return self.text.count("[")


class AuthorizationDraft(BaseModel):
    episode_id: str
    sentences: list[Sentence]

    def text(self, with_evidence: bool = True) -> str:
        lines = []
        for sentence in self.sentences:
            lines.append(sentence.text)
            if with_evidence:
                lines += [f"    evidence: {c.note_id} [{c.evidence.start}:{c.evidence.end}] \"{c.evidence.text}\""
                          for c in sentence.evidence]  # fmt: skip
        return "\n".join(lines)


def load_reports(out_dir: Path) -> dict[str, NoteReport]:
    """The batch's reports (results.jsonl) by note id."""
    reports = {}
    for line in (Path(out_dir) / "results.jsonl").read_text(encoding="utf-8").splitlines():
        if line.strip():
            report = NoteReport.model_validate(json.loads(line))
            reports[report.note_id] = report
    return reports


def draft_request(episode: Episode, reports: dict[str, NoteReport]) -> AuthorizationDraft:
    discipline = {"PT": "physical therapy", "OT": "occupational therapy", "SLP": "speech-language pathology"}.get(
        episode.discipline or "", "[discipline]"
    )
    sentences = [
        _course(episode, discipline),
        _goals(episode, reports),
        _measures(episode),
        _assessment(episode, reports),
        _skill(episode, reports),
    ]
    plan = next((v for v in reversed(episode.visits) if v.keys.certified_through), None)
    if plan and plan.keys.certified_through and plan.keys.certified_through.evidence:
        sentences.append(Sentence(
            text=f"Plan: continue {discipline} under the plan of care certified through {plan.keys.certified_through.value};"
            " [number of further visits requested] visits requested.",
            evidence=[Cited(note_id=plan.note_id, evidence=plan.keys.certified_through.evidence)],
        ))  # fmt: skip
    else:
        sentences.append(
            Sentence(text="Plan: [plan-of-care end date]; [number of further visits requested] visits requested.")
        )
    return AuthorizationDraft(episode_id=episode.episode_id, sentences=sentences)


def _course(episode: Episode, discipline: str) -> Sentence:
    first, last = episode.visits[0], episode.visits[-1]
    cited = [Cited(note_id=v.note_id, evidence=v.date_evidence) for v in (first, last) if v.date_evidence]
    return Sentence(
        text=f"Request for continued {discipline} for [patient name], authorization [authorization number]:"
        f" {len(episode.visits)} visits from {first.date_of_service.isoformat()} to {last.date_of_service.isoformat()}.",
        evidence=cited,
    )


def _goals(episode: Episode, reports: dict[str, NoteReport]) -> Sentence:
    for visit in reversed(episode.visits):
        report = reports.get(visit.note_id)
        goals = [g for g in (report.extraction.goals if report and report.extraction else []) if g.verified]
        if goals:
            return Sentence(
                text="Functional goals: " + "; ".join(g.text for g in goals) + ".",
                evidence=[Cited(note_id=visit.note_id, evidence=g.evidence) for g in goals if g.evidence],
            )
    return Sentence(text="Functional goals: [no verified goal in the notes].")


def _measures(episode: Episode) -> Sentence:
    """Each outcome measure's first and latest value over the visits, and whether that is progress."""
    series: dict[str, list[tuple[str, Cited]]] = {}
    for visit in episode.visits:
        for measure in visit.measures:
            if measure.evidence is None:
                continue
            name = measure.value.split()[0]
            series.setdefault(name, []).append((measure.value, Cited(note_id=visit.note_id, evidence=measure.evidence)))
    if not series:
        return Sentence(text="Outcome measures: [no outcome measure with a value in the notes].")
    parts, cited = [], []
    for name, values in series.items():
        (start, first), (end, last) = values[0], values[-1]
        if len(values) == 1:
            parts.append(f"{start} at {first.note_id}")
            cited.append(first)
            continue
        parts.append(f"{start} at {first.note_id}, {end} at {last.note_id} ({progress(name, start, end)})")
        cited += [first, last]
    return Sentence(text="Outcome measures: " + "; ".join(parts) + ".", evidence=cited)


def progress(measure: str, first: str, last: str) -> str:
    """ "improved", "declined" or "unchanged" by the measure's direction; a placeholder where the
    direction or a value is not known."""
    direction = _DIRECTIONS.get(measure.lower())
    before, after = (_value(text[len(measure) :]) for text in (first, last))
    if direction is None or before is None or after is None:
        return "[improved or not]"
    if before == after:
        return "unchanged"
    return "improved" if (after < before) == (direction == "lower") else "declined"


_DIRECTIONS = {name.lower(): direction for name, direction in OUTCOME_MEASURES.items()}
_NUMBER_RE = re.compile(r"\d+(?:\.\d+)?")


def _value(text: str) -> float | None:
    found = _NUMBER_RE.search(text)
    return float(found.group()) if found else None


def _assessment(episode: Episode, reports: dict[str, NoteReport]) -> Sentence:
    """The therapist's own assessment, quoted from the latest note whose assessment the reading verified."""
    for visit in reversed(episode.visits):
        report = reports.get(visit.note_id)
        record = report.extraction.record if report and report.extraction else []
        found = next((r for r in record if r.part == "assessment" and r.present and r.verified and r.evidence), None)
        if found is not None and found.evidence is not None:
            return Sentence(
                text=f"Progress, as the latest assessment states it: {found.evidence.text.strip()}",
                evidence=[Cited(note_id=visit.note_id, evidence=found.evidence)],
            )
    return Sentence(text="Progress: [therapist's assessment of progress].")


def _skill(episode: Episode, reports: dict[str, NoteReport]) -> Sentence:
    for visit in reversed(episode.visits):
        report = reports.get(visit.note_id)
        spans = [
            e for e in (report.extraction.skilled_justification if report and report.extraction else []) if e.verified
        ]
        if spans:
            return Sentence(
                text="Skilled need, as the latest note documents it: " + " ".join(e.text for e in spans[:2]),
                evidence=[Cited(note_id=visit.note_id, evidence=e) for e in spans[:2]],
            )
    return Sentence(text="Skilled need: [no verified skilled-care statement in the notes].")
