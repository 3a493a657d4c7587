"""What the batch dashboard shows: a result store's reports, their totals and a filterable table."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from reviewer.batch_items import Progress, batch_progress, latest_batch
from reviewer.db import ReviewResult
from reviewer.episode_outputs import cloned_note_rates, cloned_rate_text
from reviewer.episodes import Episode, EpisodeSet
from reviewer.providers import provider_patterns
from reviewer.report import NoteReport
from reviewer.store import ResultStore, report_provider


class StoreNotFound(Exception):
    """The result store named does not exist; the message says where it looked."""


@dataclass(frozen=True)
class StoredReport:
    result_key: str
    report: NoteReport


@dataclass(frozen=True)
class BatchTotals:
    notes: int
    reviewed: int
    failed: int
    flagged: int
    high_risk: int
    units_at_risk: int
    mean_score: float | None


def store_url(location: str) -> str:
    """A database URL as given, or a SQLite file path turned into one (it must exist)."""
    location = location.strip()
    if "://" in location:
        return location
    path = Path(location).expanduser().resolve()
    if not path.is_file():
        raise StoreNotFound(f"No result store at {path}; run `reviewer batch` first or give a database URL.")
    return f"sqlite:///{path}"


def load_reports(store: ResultStore) -> list[StoredReport]:
    """The newest report of each note in the store (a note re-run under new rules is shown once)."""
    query = select(ReviewResult.result_key, ReviewResult.note_id, ReviewResult.report_json).order_by(
        ReviewResult.created_at.desc(), ReviewResult.id.desc()
    )
    newest: dict[str, StoredReport] = {}
    with Session(store.engine) as session:
        for key, note_id, data in session.execute(query):
            if note_id not in newest:
                newest[note_id] = StoredReport(key, NoteReport.model_validate_json(data))
    return list(newest.values())


def queue_progress(store: ResultStore) -> Progress | None:
    """The progress of the batch sent to the job queue last, across all its workers (None: none sent)."""
    batch = latest_batch(store.engine)
    return batch_progress(store.engine, batch) if batch else None


def batch_totals(reports: list[NoteReport]) -> BatchTotals:
    reviewed = [r for r in reports if r.status == "ok"]
    scores = [r.score for r in reviewed if r.score is not None]
    return BatchTotals(
        notes=len(reports),
        reviewed=len(reviewed),
        failed=len(reports) - len(reviewed),
        flagged=sum(1 for r in reviewed if r.flags),
        high_risk=sum(1 for r in reviewed if r.risk_band == "high"),
        units_at_risk=sum(row.at_risk for r in reviewed for row in r.units),
        mean_score=round(sum(scores) / len(scores), 1) if scores else None,
    )


def flag_counts(reports: list[NoteReport]) -> dict[str, int]:
    """How many notes raise each flag, most frequent first."""
    return dict(Counter(flag for r in reports for flag in set(r.flags)).most_common())


def provider_rows(reports: list[NoteReport], episodes: list[Episode]) -> list[dict]:
    """One row per clinician, then the batch's row; with stored episodes, each one's cloned-note rate
    as summary.html gives it (EPI007 notes of the notes placed in episodes)."""
    patterns = provider_patterns(reports)
    cloned = cloned_note_rates(EpisodeSet(episodes=episodes), patterns.overall.provider) if episodes else None
    return [
        {
            "provider": p.provider,
            "notes": p.notes,
            "59/X rate": p.modifier_59_share,
            "minutes per unit": p.minutes_per_unit,
            "97530 share of 97530+97110": p.share_97530,
            "mean score": p.mean_score,
            "units at risk": p.units_at_risk,
            **({"cloned notes": cloned_rate_text(cloned.get(p.provider))} if cloned is not None else {}),
            "audit triggers": "; ".join(p.triggers),
        }
        for p in [*patterns.providers, patterns.overall]
    ]


def note_rows(reports: list[NoteReport]) -> list[dict]:
    """One table row per note, for filtering and sorting."""
    return [
        {
            "note": r.note_id,
            "provider": report_provider(r) or "",
            "status": r.status,
            "score": r.score,
            "band": r.risk_band or "",
            "units at risk": sum(row.at_risk for row in r.units),
            "findings": len(r.findings),
            "flags": ", ".join(r.flags),
        }
        for r in reports
    ]


def filter_rows(
    rows: list[dict], *, flags: list[str], bands: list[str], providers: list[str], sort_by: str
) -> list[dict]:
    """Rows raising all of `flags`, in one of `bands` and `providers` (empty = any), sorted riskiest first."""
    kept = [
        row
        for row in rows
        if set(flags) <= set(filter(None, row["flags"].split(", ")))
        and (not bands or row["band"] in bands)
        and (not providers or row["provider"] in providers)
    ]
    if sort_by == "score":  # 100 is clean, so the lowest score is the riskiest
        return sorted(kept, key=lambda row: (row["score"] is None, row["score"] if row["score"] is not None else 0))
    return sorted(kept, key=lambda row: -row[sort_by])
