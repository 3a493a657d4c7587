"""The triage queue: enqueue reviewed notes, claim one, decide its findings and the note.

Every write names the item `version` the reviewer was looking at. The change and its audit event
commit together, and the item row is updated with `WHERE version = <that version>` (SQLAlchemy's
version counter), so when two reviewers act on the same version exactly one commit succeeds and
the other gets a `ConflictError` saying who got there first. Claims add a lock on top: only the
reviewer holding the claim may decide.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, defer, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from reviewer.db import ReviewResult, make_engine, utcnow
from reviewer.episode_store import attach_episode_findings, findings_by_note, load_episodes
from reviewer.report import NoteReport, report_provider
from reviewer.triage.models import FINDING_ACTIONS, NOTE_OUTCOMES, AuditEvent, FindingDecision, QueueItem
from reviewer.triage.ranking import risk_priority

UNCERTAIN = "uncertain"  # review_status of a note with a value no witness settled: a human must read it

OPEN_STATUSES = ("open", "claimed")
_KEY_CHUNK = 500


class TriageError(Exception):
    """An action that cannot be done as asked; the message says what to do instead."""


class NotFoundError(TriageError):
    pass


class ConflictError(TriageError):
    """Another reviewer changed or holds the item; the message names who and when."""


@dataclass(frozen=True)
class Verdict:
    finding_index: int
    rule: str
    flag: str | None
    action: str
    comment: str
    decided_by: str
    decided_at: datetime


@dataclass(frozen=True)
class QueueEntry:
    """An item as the queue table shows it (without its report)."""

    id: int
    note_id: str
    source: str
    provider: str | None
    review_status: str
    status: str
    score: int | None
    risk_band: str | None
    priority: int
    claimed_by: str | None
    claimed_at: datetime | None
    decided_by: str | None
    decided_at: datetime | None
    decision_comment: str | None
    decision_fixes: list[str]
    version: int
    created_at: datetime


@dataclass(frozen=True)
class ItemDetail(QueueEntry):
    """An item with the report the reviewer decides on and the finding verdicts so far."""

    report: NoteReport = field(repr=False)
    verdicts: dict[int, Verdict]

    def undecided_findings(self) -> list[int]:
        return [i for i in range(len(self.report.findings)) if i not in self.verdicts]

    def fixes_to_make(self) -> list[str]:
        """The fixes of the accepted findings: what a returned note asks the clinician to do."""
        accepted = [i for i, v in sorted(self.verdicts.items()) if v.action == "accept"]
        return list(dict.fromkeys(self.report.findings[i].fix for i in accepted))


@dataclass(frozen=True)
class AuditRecord:
    id: int
    item_id: int | None
    actor: str
    action: str
    before: dict | None
    after: dict | None
    at: datetime


def item_key(report: NoteReport) -> str:
    """One queue item per note text, payer and state: re-running a batch does not re-queue a note."""
    content = report.content_hash or hashlib.sha256(report.model_dump_json().encode()).hexdigest()
    parts = [report.note_id, content, report.payer, report.state or ""]
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()


class TriageQueue:
    """The queue in one SQLAlchemy database; each public method is one transaction."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    @classmethod
    def open(cls, url: str) -> TriageQueue:
        """Migrate the database at `url` to the current schema and open the queue on it."""
        from reviewer.migrations import upgrade

        upgrade(url)
        return cls(make_engine(url))

    def close(self) -> None:
        self.engine.dispose()

    # -- filling the queue -------------------------------------------------------------------

    def enqueue(self, report: NoteReport, *, actor: str, source: str = "upload", result_key: str | None = None) -> int:
        """Add `report` unless its note is queued already; the item id either way."""
        self.enqueue_many([(report, result_key)], actor=actor, source=source)
        with self._sessions() as session:
            return session.scalars(select(QueueItem.id).where(QueueItem.item_key == item_key(report))).one()

    def enqueue_many(
        self, reports: Iterable[tuple[NoteReport, str | None]], *, actor: str, source: str = "batch"
    ) -> int:
        """Add each (report, result key) whose note is not queued yet; how many were added.

        A queued note whose review failed and that nobody has picked up yet takes a later ok report, and
        one nobody has started on takes a later batch's episode findings (`_refreshed`).
        """
        by_key: dict[str, tuple[NoteReport, str | None]] = {}
        for report, result_key in reports:
            by_key.setdefault(item_key(report), (report, result_key))
        for _attempt in range(2):  # a concurrent enqueue may add one of our notes between read and write
            try:
                with self._sessions.begin() as session:
                    known = _known_items(session, list(by_key))
                    for key, item in known.items():
                        if change := _refreshed(session, item, *by_key[key]):
                            session.add(AuditEvent(item_id=item.id, actor=actor, action="refresh", **change))
                    new_keys = [key for key in by_key if key not in known]
                    for key in new_keys:
                        item = QueueItem(item_key=key, source=source, status="open", decision_fixes=[])
                        _fill_item(item, *by_key[key])
                        session.add(item)
                        session.flush()  # the id, for the audit event
                        after = {
                            "note_id": item.note_id,
                            "source": source,
                            "score": item.score,
                            "risk_band": item.risk_band,
                        }
                        session.add(
                            AuditEvent(item_id=item.id, actor=actor, action="enqueue", before=None, after=after)
                        )
                return len(new_keys)
            except IntegrityError:
                continue
        raise TriageError("The queue is being filled with the same notes by someone else; try again.")

    def enqueue_results(self, results_engine: Engine, *, actor: str) -> int:
        """Queue every reviewed note of a batch result store (the `review_results` table), each with the
        episode findings the batch stored for it, so they rank with the note's own findings."""
        with Session(results_engine) as session:
            rows = session.execute(select(ReviewResult.report_json, ReviewResult.result_key)).all()
        episode_findings = findings_by_note(load_episodes(results_engine))
        reports = []
        for report_json, key in rows:
            report = NoteReport.model_validate_json(report_json)
            if found := episode_findings.get((key, report.note_id)):
                report = attach_episode_findings(report, found)
            reports.append((report, key))
        return self.enqueue_many(reports, actor=actor, source="batch")

    # -- reading -----------------------------------------------------------------------------

    def entries(self, statuses: Iterable[str] | None = OPEN_STATUSES) -> list[QueueEntry]:
        """Items with one of `statuses` (all when None), riskiest first, oldest first within a rank."""
        query = select(QueueItem).options(defer(QueueItem.report_json))
        if statuses is not None:
            query = query.where(QueueItem.status.in_(list(statuses)))
        query = query.order_by(QueueItem.priority.desc(), QueueItem.created_at, QueueItem.id)
        with self._sessions() as session:
            return [_entry(item) for item in session.scalars(query)]

    def item(self, item_id: int) -> ItemDetail:
        with self._sessions() as session:
            return _detail(_get(session, item_id))

    def audit_trail(self, item_id: int | None = None, *, latest: int | None = None) -> list[AuditRecord]:
        """Every event (of one item when `item_id` is given; only the `latest` n if given), oldest first."""
        query = select(AuditEvent).order_by(AuditEvent.id.desc())
        if item_id is not None:
            query = query.where(AuditEvent.item_id == item_id)
        if latest is not None:
            query = query.limit(latest)
        with self._sessions() as session:
            return [_record(event) for event in reversed(session.scalars(query).all())]

    # -- acting on an item -------------------------------------------------------------------

    def claim(self, item_id: int, *, actor: str, version: int, take_over: bool = False) -> ItemDetail:
        """Take the item to work on; another reviewer's claim is only taken with `take_over`."""

        def change(session: Session, item: QueueItem) -> tuple[dict, dict]:
            _require_open(item)
            if item.claimed_by not in (None, actor) and not take_over:
                raise ConflictError(
                    f"Note {item.note_id} is claimed by {item.claimed_by} since {_when(item.claimed_at)}; "
                    "pick another note or take it over."
                )
            before = {"status": item.status, "claimed_by": item.claimed_by}
            item.status, item.claimed_by, item.claimed_at = "claimed", actor, utcnow()
            return before, {"status": item.status, "claimed_by": actor}

        return self._act(item_id, actor=actor, version=version, action="claim", change=change)

    def release(self, item_id: int, *, actor: str, version: int) -> ItemDetail:
        """Give the item back to the queue; finding verdicts so far are kept."""

        def change(session: Session, item: QueueItem) -> tuple[dict, dict]:
            _require_claim(item, actor)
            item.status, item.claimed_by, item.claimed_at = "open", None, None
            return {"status": "claimed", "claimed_by": actor}, {"status": "open", "claimed_by": None}

        return self._act(item_id, actor=actor, version=version, action="release", change=change)

    def decide_finding(
        self, item_id: int, finding_index: int, *, actor: str, version: int, action: str, comment: str = ""
    ) -> ItemDetail:
        """Accept a finding, or override it (a comment saying why is required)."""
        comment = comment.strip()
        if action not in FINDING_ACTIONS:
            raise TriageError(f"unknown finding action {action!r} (use {' or '.join(FINDING_ACTIONS)})")
        if action == "override" and not comment:
            raise TriageError("An override needs a comment saying why the finding is wrong.")

        def change(session: Session, item: QueueItem) -> tuple[dict | None, dict]:
            _require_claim(item, actor)
            findings = NoteReport.model_validate_json(item.report_json).findings
            if not 0 <= finding_index < len(findings):
                raise TriageError(f"Note {item.note_id} has no finding #{finding_index + 1}.")
            finding = findings[finding_index]
            decision = session.scalar(
                select(FindingDecision).where(
                    FindingDecision.item_id == item.id, FindingDecision.finding_index == finding_index
                )
            )
            before = _verdict_state(decision) if decision else None
            if decision is None:
                decision = FindingDecision(item_id=item.id, finding_index=finding_index)
                session.add(decision)
            decision.rule, decision.flag = finding.rule, finding.flag
            decision.action, decision.comment, decision.decided_by, decision.decided_at = (
                action,
                comment,
                actor,
                utcnow(),
            )
            return before, _verdict_state(decision)

        return self._act(item_id, actor=actor, version=version, action=f"finding_{action}", change=change)

    def decide_note(
        self, item_id: int, *, actor: str, version: int, outcome: str, comment: str = "", fixes: list[str] | None = None
    ) -> ItemDetail:
        """Close the item: cleared, returned to the clinician (with the fixes to make) or escalated."""
        comment = comment.strip()
        if outcome not in NOTE_OUTCOMES:
            raise TriageError(f"unknown outcome {outcome!r} (use {', '.join(NOTE_OUTCOMES)})")
        if outcome == "escalated" and not comment:
            raise TriageError("An escalation needs a comment saying what to look at.")

        def change(session: Session, item: QueueItem) -> tuple[dict, dict]:
            _require_claim(item, actor)
            detail = _detail(item)
            if detail.undecided_findings():
                numbers = ", ".join(f"#{i + 1}" for i in detail.undecided_findings())
                raise TriageError(f"Accept or override every finding first (still open: {numbers}).")
            to_make = [f.strip() for f in (fixes if fixes is not None else detail.fixes_to_make()) if f.strip()]
            if outcome == "returned" and not to_make and not comment:
                raise TriageError("A note returned to the clinician needs the fixes to make (or a comment).")
            before = {"status": item.status}
            item.status, item.decided_by, item.decided_at = outcome, actor, utcnow()
            item.decision_comment = comment or None
            item.decision_fixes = to_make if outcome == "returned" else []
            item.claimed_by = item.claimed_at = None
            return before, {"status": outcome, "comment": comment or None, "fixes": item.decision_fixes}

        return self._act(item_id, actor=actor, version=version, action="decide", change=change)

    def record(self, *, actor: str, action: str, details: dict | None = None) -> None:
        """An audit event that concerns no single item (a sign-in, an export)."""
        with self._sessions.begin() as session:
            session.add(AuditEvent(item_id=None, actor=actor, action=action, before=None, after=details))

    def decided_with_overrides(self) -> list[ItemDetail]:
        """Decided items where a reviewer overrode at least one finding: the system was wrong there."""
        overridden = select(FindingDecision.item_id).where(FindingDecision.action == "override")
        query = (
            select(QueueItem)
            .where(QueueItem.id.in_(overridden), QueueItem.status.not_in(OPEN_STATUSES))
            .order_by(QueueItem.id)
        )
        with self._sessions() as session:
            return [_detail(item) for item in session.scalars(query)]

    def _act(
        self,
        item_id: int,
        *,
        actor: str,
        version: int,
        action: str,
        change: Callable[[Session, QueueItem], tuple[dict | None, dict | None]],
    ) -> ItemDetail:
        """Apply `change` to the item at `version` and record it, in one transaction, or raise."""
        try:
            with self._sessions.begin() as session:
                item = _get(session, item_id)
                if item.version != version:
                    raise _stale(session, item)
                before, after = change(session, item)
                item.updated_at = utcnow()
                session.add(AuditEvent(item_id=item.id, actor=actor, action=action, before=before, after=after))
        except StaleDataError:  # another commit bumped the version between our read and our write
            with self._sessions() as session:
                raise _stale(session, _get(session, item_id)) from None
        return self.item(item_id)


def _known_items(session: Session, keys: list[str]) -> dict[str, QueueItem]:
    known: dict[str, QueueItem] = {}
    for start in range(0, len(keys), _KEY_CHUNK):
        query = (
            select(QueueItem)
            .options(defer(QueueItem.report_json))
            .where(QueueItem.item_key.in_(keys[start : start + _KEY_CHUNK]))
        )
        known.update((item.item_key, item) for item in session.scalars(query))
    return known


def _fill_item(item: QueueItem, report: NoteReport, result_key: str | None) -> None:
    item.note_id = report.note_id
    item.result_key = result_key
    item.provider = report_provider(report)
    item.report_json = report.model_dump_json()
    item.review_status = UNCERTAIN if report.status == "ok" and report.needs_human else report.status
    item.score = report.score
    item.risk_band = report.risk_band
    item.priority = risk_priority(report)


def _refreshed(session: Session, item: QueueItem, report: NoteReport, result_key: str | None) -> dict | None:
    """Update a queued item from a later report where that is safe; its audit `before`/`after`, or None.

    A failed review nobody has picked up takes a later ok report; a note nobody has started on takes
    the episode findings of a later batch."""
    if item.status == "open" and item.review_status == "failed" and report.status == "ok":
        _fill_item(item, report, result_key)
        return {
            "before": {"review_status": "failed"},
            "after": {"review_status": "ok", "score": item.score, "risk_band": item.risk_band},
        }
    if changed := _new_episode_findings(session, item, report):
        before = {"episode_findings": _rules(changed[0]), "priority": item.priority}
        _fill_item(item, changed[1], item.result_key)
        return {"before": before, "after": {"episode_findings": _rules(changed[1]), "priority": item.priority}}
    return None


def _new_episode_findings(
    session: Session, item: QueueItem, report: NoteReport
) -> tuple[NoteReport, NoteReport] | None:
    """(the item's report, that report with `report`'s episode findings) when a later batch changed the
    episode findings of a note nobody has started on (open, unclaimed, no finding decided); else None."""
    if item.status != "open" or item.claimed_by is not None or item.review_status == "failed":
        return None
    if session.scalar(select(FindingDecision.id).where(FindingDecision.item_id == item.id).limit(1)) is not None:
        return None
    queued = NoteReport.model_validate_json(item.report_json)
    episode = [f for f in report.findings if f.scope == "episode"]
    if episode == [f for f in queued.findings if f.scope == "episode"]:
        return None
    return queued, attach_episode_findings(queued, episode)


def _rules(report: NoteReport) -> list[str]:
    return [f.rule for f in report.findings if f.scope == "episode"]


def _get(session: Session, item_id: int) -> QueueItem:
    item = session.get(QueueItem, item_id)
    if item is None:
        raise NotFoundError(f"There is no queue item {item_id}.")
    return item


def _require_open(item: QueueItem) -> None:
    if item.status not in OPEN_STATUSES:
        raise ConflictError(
            f"Note {item.note_id} was already {item.status} by {item.decided_by} at {_when(item.decided_at)}."
        )


def _require_claim(item: QueueItem, actor: str) -> None:
    _require_open(item)
    if item.claimed_by is None:
        raise TriageError(f"Claim note {item.note_id} before working on it.")
    if item.claimed_by != actor:
        raise ConflictError(f"Note {item.note_id} is claimed by {item.claimed_by} since {_when(item.claimed_at)}.")


def _stale(session: Session, item: QueueItem) -> ConflictError:
    last = session.scalars(
        select(AuditEvent).where(AuditEvent.item_id == item.id).order_by(AuditEvent.id.desc())
    ).first()
    by = f" ({last.actor}: {last.action} at {_when(last.at)})" if last else ""
    return ConflictError(
        f"Note {item.note_id} was changed by someone else since you opened it{by}; "
        "nothing of yours was saved. Reload it and try again."
    )


def _when(moment: datetime | None) -> str:
    if moment is None:
        return "an unknown time"
    if moment.tzinfo is None:  # SQLite hands back naive datetimes; they were written in UTC
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def _verdict_state(decision: FindingDecision) -> dict:
    return {
        "finding": decision.finding_index + 1,
        "rule": decision.rule,
        "action": decision.action,
        "comment": decision.comment,
    }


def _entry_fields(item: QueueItem) -> dict:
    return {
        "id": item.id,
        "note_id": item.note_id,
        "source": item.source,
        "provider": item.provider,
        "review_status": item.review_status,
        "status": item.status,
        "score": item.score,
        "risk_band": item.risk_band,
        "priority": item.priority,
        "claimed_by": item.claimed_by,
        "claimed_at": item.claimed_at,
        "decided_by": item.decided_by,
        "decided_at": item.decided_at,
        "decision_comment": item.decision_comment,
        "decision_fixes": list(item.decision_fixes or []),
        "version": item.version,
        "created_at": item.created_at,
    }


def _entry(item: QueueItem) -> QueueEntry:
    return QueueEntry(**_entry_fields(item))


def _detail(item: QueueItem) -> ItemDetail:
    verdicts = {
        d.finding_index: Verdict(d.finding_index, d.rule, d.flag, d.action, d.comment, d.decided_by, d.decided_at)
        for d in item.finding_decisions
    }
    return ItemDetail(**_entry_fields(item), report=NoteReport.model_validate_json(item.report_json), verdicts=verdicts)


def _record(event: AuditEvent) -> AuditRecord:
    return AuditRecord(event.id, event.item_id, event.actor, event.action, event.before, event.after, event.at)
