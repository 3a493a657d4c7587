"""Episodes in the result store's database, so the dashboard and the triage queue read what a batch found.

A batch writes the episodes it built from its notes (`save_episodes`). The latest batch that reviewed
a patient's notes defines that patient's episodes: their rows are replaced, rows of other patients are
kept. Re-running the same batch therefore changes nothing. The rows hold no note text and no
identifier (see `reviewer.db.EpisodeRow`).
"""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import delete, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from reviewer.db import EpisodeRow, utcnow
from reviewer.episodes import Episode, EpisodeSet, Visit
from reviewer.findings import Finding
from reviewer.report import NoteReport
from reviewer.schema import Evidence


def save_episodes(engine: Engine, episodes: EpisodeSet) -> int:
    """Store `episodes`, replacing the stored episodes of their patients; how many rows changed."""
    patients = sorted({e.patient for e in episodes.episodes})
    changed = 0
    with Session(engine) as session, session.begin():
        stored = {
            row.episode_id: row for row in session.scalars(select(EpisodeRow).where(EpisodeRow.patient.in_(patients)))
        }
        kept = {e.episode_id for e in episodes.episodes}
        gone = [key for key in stored if key not in kept]
        if gone:
            session.execute(delete(EpisodeRow).where(EpisodeRow.episode_id.in_(gone)))
            changed += len(gone)
        for episode in episodes.episodes:
            data = episode.model_dump_json()
            row = stored.get(episode.episode_id)
            if row is not None and row.data_json == data:
                continue
            if row is None:
                row = EpisodeRow(episode_id=episode.episode_id)
                session.add(row)
            row.patient = episode.patient
            row.discipline = episode.discipline
            row.first_date = episode.first_date
            row.last_date = episode.last_date
            row.visits = len(episode.visits)
            row.findings = len(episode.findings)
            row.data_json = data
            row.updated_at = utcnow()
            changed += 1
    return changed


def load_episodes(engine: Engine) -> list[Episode]:
    """Every stored episode, by patient and first date."""
    query = select(EpisodeRow.data_json).order_by(EpisodeRow.patient, EpisodeRow.first_date, EpisodeRow.episode_id)
    with Session(engine) as session:
        return [Episode.model_validate_json(data) for data in session.scalars(query)]


def findings_by_note(episodes: list[Episode]) -> dict[tuple[str, str], list[Finding]]:
    """Each visit's episode findings by (result key, note id), as note findings of scope "episode".

    A finding of the whole episode goes to its last visit, so that one note in the queue carries it.
    Evidence is kept only where it lies in that visit's own note (a finding may also cite, say, the
    certification date written in an earlier note; its message names that)."""
    found: dict[tuple[str, str], list[Finding]] = defaultdict(list)
    for episode in episodes:
        visits = {v.note_id: v for v in episode.visits}
        for finding in episode.findings:
            visit = visits.get(finding.note_id or "") or episode.visits[-1]
            own = _own_evidence(visit)
            found[(visit.result_key, visit.note_id)].append(
                Finding.model_validate(
                    finding.model_dump(include=set(Finding.model_fields))
                    | {"evidence": [e for e in finding.evidence if e in own]}
                )
            )
    return dict(found)


def attach_episode_findings(report: NoteReport, findings: list[Finding]) -> NoteReport:
    """`report` with its episode findings replaced by `findings` (after the note's own findings)."""
    own = [f for f in report.findings if f.scope != "episode"]
    return report.model_copy(update={"findings": own + list(findings)})


def _own_evidence(visit: Visit) -> list[Evidence]:
    spans = [visit.date_evidence, *(k.evidence for k in visit.measures), *visit.keys.evidence()]
    return [span for span in spans if span is not None]
