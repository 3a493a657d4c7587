"""Episodes: a patient's notes under one plan of care, built from a batch's reviewed notes.

A note joins its patient by keyed hashes of its identifiers (`identity.patient_keys`): notes that
share an MRN hash or a name + date-of-birth hash are one patient. A patient's notes of one
discipline form one episode, in date order; an initial evaluation, or a gap of more than
`EPISODE_GAP_DAYS` days, starts the next one. Nothing stored here identifies the patient: the
patient and episode ids are truncated keyed hashes, and the narratives compared for cloned notes
are compared while the batch runs and never written out (only the best score and the note it matches).
"""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import date
from typing import Literal

from pydantic import BaseModel, Field
from rapidfuzz import fuzz

from reviewer.findings import Finding
from reviewer.identity import authorization_key, identity_at, keyed_hash, patient_keys
from reviewer.parsing import read_date
from reviewer.report import NoteReport, report_provider
from reviewer.schema import EpisodeKeys, Evidence, Grounded

EPISODE_GAP_DAYS = 60
_DISCIPLINE_MODIFIERS = {"GP": "PT", "GO": "OT", "GN": "SLP"}


class BilledLine(BaseModel):
    code: str
    units: int
    modifiers: list[str] = Field(default_factory=list)


class CloneMatch(BaseModel):
    """The earlier note whose narrative is most like this one's (0-100, rapidfuzz ratio)."""

    note_id: str
    score: float
    same_patient: bool


class Visit(BaseModel):
    """One note of an episode: what the episode rules read, without note text or identifiers."""

    note_id: str
    result_key: str = ""
    date_of_service: date
    date_evidence: Evidence | None = None
    visit_number: int | None = None
    discipline: str | None = None
    clinician: str | None = None
    assistant_signed: bool = False
    payer: str = "medicare"
    keys: EpisodeKeys = Field(default_factory=EpisodeKeys)
    authorization: str | None = Field(default=None, description="keyed hash of the authorization number written")
    billing: list[BilledLine] = Field(default_factory=list)
    note_flags: list[str] = Field(default_factory=list)
    measures: list[Grounded[str]] = Field(default_factory=list, description="outcome measures with their values")
    clone_match: CloneMatch | None = None

    @property
    def units(self) -> int:
        return sum(line.units for line in self.billing)

    @property
    def kind(self) -> str:
        return self.keys.document_kind.value if self.keys.document_kind else "daily_note"


class EpisodeFinding(Finding):
    scope: Literal["note", "episode"] = "episode"
    episode_id: str
    note_id: str | None = Field(default=None, description="the visit it concerns; None: the whole episode")


class Episode(BaseModel):
    episode_id: str
    patient: str = Field(description="a truncated keyed hash: the same patient has the same id in every batch")
    discipline: str | None = None
    payer: str = "medicare"
    visits: list[Visit]
    findings: list[EpisodeFinding] = Field(default_factory=list)

    @property
    def first_date(self) -> date:
        return self.visits[0].date_of_service

    @property
    def last_date(self) -> date:
        return self.visits[-1].date_of_service

    @property
    def treatment_days(self) -> int:
        return len({v.date_of_service for v in self.visits})


class EpisodeSet(BaseModel):
    """A batch's episodes, and how many reviewed notes could not be placed in one."""

    episodes: list[Episode] = Field(default_factory=list)
    unidentified: int = Field(default=0, description="notes with no MRN or name + date of birth")
    undated: int = Field(default=0, description="notes without a readable date of service")


def build_episodes(
    reports: list[NoteReport],
    *,
    secret: bytes,
    keys_by_note: dict[str, str] | None = None,
    earlier: list[NoteReport] | None = None,
) -> EpisodeSet:
    """Group the ok reports that carry their note text into episodes, by the episode keys their
    extractions read. `keys_by_note`: each note's result-store key by note id. `earlier`: reports of
    earlier batches that join their patients' episodes (a note of theirs not placed is not counted)."""
    result = EpisodeSet()
    visits: list[tuple[list[str], Visit, str]] = []
    for report, counted in [(r, True) for r in reports] + [(r, False) for r in earlier or []]:
        if report.status != "ok" or report.extraction is None or report.note_text is None:
            continue
        keys = report.extraction.episode
        patients = patient_keys(identity_at(report.note_text, keys), secret)
        visit = _visit(report, (keys_by_note or {}).get(report.note_id, ""))
        if visit is not None and patients:
            visit.authorization = authorization_key(report.note_text, keys, secret)
            visit.measures = _measure_values(report)
            visits.append((patients, visit, _narrative(report.note_text)))
        elif counted and visit is None:
            result.undated += 1
        elif counted:
            result.unidentified += 1
    patient_of = _patients([p for p, _, _ in visits])
    _match_clones(visits, patient_of)
    by_patient_discipline: dict[tuple[str, str], list[Visit]] = defaultdict(list)
    for patients, visit, _ in visits:
        by_patient_discipline[(patient_of[patients[0]], visit.discipline or "")].append(visit)
    for (patient, _), group in sorted(by_patient_discipline.items()):
        result.episodes += _split(patient, sorted(group, key=lambda v: (v.date_of_service, v.note_id)), secret)
    result.episodes.sort(key=lambda e: (e.patient, e.first_date, e.discipline or ""))
    return result


def similarity(first: str, second: str) -> float:
    """How alike two narratives are, 0-100 (rapidfuzz `fuzz.ratio`: normalised Indel similarity)."""
    return float(fuzz.ratio(first, second))


def _visit(report: NoteReport, result_key: str) -> Visit | None:
    """The visit a note documents, on the date of service the extraction verified (None without one)."""
    extraction = report.extraction
    assert extraction is not None
    dos = extraction.date_of_service
    if dos is None or not dos.verified or (written := read_date(dos.value)) is None:
        return None
    billing = [BilledLine(code=b.code, units=b.units or 1, modifiers=list(b.modifiers)) for b in extraction.billing]
    discipline: str | None = extraction.discipline or next(
        (_DISCIPLINE_MODIFIERS[m] for line in billing for m in line.modifiers if m in _DISCIPLINE_MODIFIERS), None
    )
    credentials = [
        c.upper().replace(".", "") for c in (extraction.signature.credentials if extraction.signature else [])
    ]
    return Visit(
        note_id=report.note_id,
        result_key=result_key,
        date_of_service=written,
        date_evidence=dos.evidence,
        visit_number=extraction.visit_number.value if extraction.visit_number else None,
        discipline=discipline,
        clinician=report_provider(report),
        assistant_signed=bool(credentials) and all(c in {"PTA", "OTA", "COTA", "COTA/L", "LPTA"} for c in credentials),
        payer=report.payer,
        keys=extraction.episode,
        billing=billing,
        note_flags=list(report.flags),
    )


_MEASURE_VALUE_RE = re.compile(
    r"[ \t:=]{0,3}(\d{1,3}(?:\.\d)?\s*(?:sec(?:onds)?|s|%|/\d{1,3}|deg|ft|points?)?)(?![x\d])"
)


def _measure_values(report: NoteReport) -> list[Grounded[str]]:
    """Each verified outcome measure the extraction names, with the value written right after it
    ("TUG 14.8 sec"): the span runs from the measure's name to the end of its value."""
    assert report.extraction is not None and report.note_text is not None
    found = []
    for measure in report.extraction.outcome_measures:
        span = measure.evidence
        if span is None or not span.verified or span.end is None or span.start is None:
            continue
        value = _MEASURE_VALUE_RE.match(report.note_text, span.end)
        if value:
            text = report.note_text[span.start : value.end()].rstrip()
            found.append(
                Grounded[str](
                    value=text,
                    evidence=Evidence(
                        text=text, start=span.start, end=span.start + len(text), match="exact", supports="outcome"
                    ),
                )
            )
    return found


def _patients(key_lists: list[list[str]]) -> dict[str, str]:
    """Each patient key's patient: keys that appear on one note are one patient (union-find)."""
    parent: dict[str, str] = {}

    def root(key: str) -> str:
        while parent.setdefault(key, key) != key:
            parent[key] = parent[parent[key]]
            key = parent[key]
        return key

    for keys in key_lists:
        for other in keys[1:]:
            first, second = root(keys[0]), root(other)
            if first != second:
                parent[max(first, second)] = min(first, second)
    return {key: "P-" + root(key)[:10] for keys in key_lists for key in keys}


def _split(patient: str, visits: list[Visit], secret: bytes) -> list[Episode]:
    """A patient's visits of one discipline, cut into episodes at each initial evaluation or long gap."""
    episodes: list[list[Visit]] = []
    for visit in visits:
        starts = visit.kind == "evaluation" or (
            episodes and (visit.date_of_service - episodes[-1][-1].date_of_service).days > EPISODE_GAP_DAYS
        )
        if not episodes or (starts and episodes[-1]):
            episodes.append([])
        episodes[-1].append(visit)
    return [
        Episode(
            episode_id="E-"
            + keyed_hash(secret, "episode", f"{patient}|{group[0].discipline}|{group[0].date_of_service}")[:10],
            patient=patient,
            discipline=group[0].discipline,
            payer=group[0].payer,
            visits=group,
        )
        for group in episodes
    ]


_DROP_LINE_RE = re.compile(
    r"\b(?:signed|DOB|MRN|DOS)\b|^\s*(?:Pt|Patient|Name|Billing|Charges?|Billed|CPT|Insurance|Ins)\b\s*[:.]?", re.I
)
_DATE_TOKEN_RE = re.compile(r"\b\d{1,2}/\d{1,2}/\d{2,4}\b|\b\d{4}-\d{2}-\d{2}\b")  # "3/10" is a pain score
_VISIT_TOKEN_RE = re.compile(r"\bvisit\s*#?\s*\d+(?:\s*(?:of|/)\s*\d+)?", re.I)


def _narrative(text: str) -> str:
    """The note's own words, as the clone check compares them: without the header, identifier,
    billing and signature lines, dates and visit numbers, lower-cased with spaces collapsed."""
    lines = [line for line in text.splitlines() if line.strip() and not _DROP_LINE_RE.search(line)]
    body = _VISIT_TOKEN_RE.sub(" ", _DATE_TOKEN_RE.sub(" ", "\n".join(lines)))
    return " ".join(body.lower().split())


def _match_clones(visits: list[tuple[list[str], Visit, str]], patient_of: dict[str, str]) -> None:
    """Give each visit its most similar earlier note: the same patient's, or another patient's by
    the same clinician (earlier by date; on one date, by note id)."""
    ordered = sorted(visits, key=lambda item: (item[1].date_of_service, item[1].note_id))
    for index, (patients, visit, narrative) in enumerate(ordered):
        best: CloneMatch | None = None
        for earlier_patients, earlier, earlier_narrative in ordered[:index]:
            same_patient = patient_of[earlier_patients[0]] == patient_of[patients[0]]
            if earlier.date_of_service == visit.date_of_service and same_patient:
                continue  # the same day's notes of one patient (e.g. a note and its addendum) are not clones
            if not same_patient and (not visit.clinician or earlier.clinician != visit.clinician):
                continue
            score = similarity(narrative, earlier_narrative)
            if best is None or score > best.score:
                best = CloneMatch(note_id=earlier.note_id, score=round(score, 1), same_patient=same_patient)
        visit.clone_match = best
