"""The triage queue on SQLite and (when REVIEWER_TEST_POSTGRES_URL is set) on PostgreSQL."""

from __future__ import annotations

import json
import os
import threading
import uuid
from urllib.parse import quote

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError

from reviewer.evals.harness import load_corpus
from reviewer.findings import Finding
from reviewer.report import ModelInfo, NoteReport, UnitRow
from reviewer.schema import BillingLine, Evidence, Extraction, Goal, Grounded, TreatmentBlock
from reviewer.store import ResultStore
from reviewer.triage import (
    Accounts,
    ConflictError,
    TriageError,
    TriageQueue,
    UserError,
    corpus_zip,
    export_overrides,
    hash_password,
    write_corpus,
)

NOTE = "Therapeutic activities (97530) x 20 min: sit to stand.\nBilling: 97530-GP x2\nSigned: A. Lee, PT\n"
POSTGRES_URL = os.environ.get("REVIEWER_TEST_POSTGRES_URL")


def make_report(
    note_id: str, *, band: str = "medium", score: int = 50, findings: int = 2, at_risk: int = 1
) -> NoteReport:
    billing = Evidence(text="Billing: 97530-GP x2", start=55, end=75, match="exact", supports="billing")
    block = Evidence(text=NOTE[:54], start=0, end=54, match="exact", supports="activity")
    return NoteReport(
        note_id=note_id,
        status="ok",
        payer="medicare",
        state="TX",
        score=score,
        risk_band=band,
        flags=["units_exceed_minutes", "no_functional_goal"][:findings],
        findings=[
            Finding(
                rule="UNIT001",
                flag="units_exceed_minutes",
                severity="error",
                message="2 units billed, 20 min support 1",
                citation="Pub. 100-04 Ch. 5 §20.2",
                fix="Bill 97530 x1",
                evidence=[billing],
                code="97530",
                units_at_risk=at_risk,
            ),
            Finding(
                rule="GOAL001",
                flag="no_functional_goal",
                severity="warning",
                message="no functional goal",
                citation="Pub. 100-02 Ch. 15 §220.1.2",
                fix="State a measurable functional goal",
                evidence=[block],
            ),
        ][:findings],
        units=[UnitRow(code="97530", minutes=20, billed=2, supported=1, at_risk=at_risk)],
        extraction=Extraction(
            discipline="PT",
            goals=[Goal(text="stand from chair alone", measurable=True)],
            blocks=[TreatmentBlock(code="97530", minutes=20, kind="functional", evidence=block)],
            total_timed_minutes=Grounded[int](value=20, source="computed"),
            billing=[BillingLine(code="97530", units=2, modifiers=["GP"], evidence=billing)],
        ),
        model=ModelInfo(backend="fake", model="scripted", prompt_version="p1"),
        content_hash=f"hash-{note_id}",
        rules_version="r1",
        note_text=NOTE,
    )


def _sqlite_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'triage.db'}"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request, tmp_path):
    """A fresh, empty database: a SQLite file, or a schema of its own on the PostgreSQL server."""
    if request.param == "sqlite":
        yield _sqlite_url(tmp_path)
        return
    if not POSTGRES_URL:
        pytest.skip("REVIEWER_TEST_POSTGRES_URL is not set (scripts/start_postgres.sh starts a server)")
    schema = f"test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL)
    with admin.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    separator = "&" if "?" in POSTGRES_URL else "?"
    yield f"{POSTGRES_URL}{separator}options={quote(f'-csearch_path={schema}')}"
    with admin.begin() as connection:
        connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    admin.dispose()


@pytest.fixture
def queue(db_url):
    opened = TriageQueue.open(db_url)
    yield opened
    opened.close()


@pytest.fixture
def second_queue(db_url, queue):
    """Another app process on the same database (its own engine and connections)."""
    opened = TriageQueue(create_engine(db_url))
    yield opened
    opened.close()


def _claimed(queue: TriageQueue, actor: str = "alice", note_id: str = "n1"):
    item_id = queue.enqueue(make_report(note_id), actor="upload")
    return queue.claim(item_id, actor=actor, version=queue.item(item_id).version)


def _all_findings_accepted(queue: TriageQueue, item, actor: str = "alice"):
    for index in item.undecided_findings():
        item = queue.decide_finding(item.id, index, actor=actor, version=item.version, action="accept")
    return item


# -- filling and ranking ----------------------------------------------------------------------


def test_queue_ranks_by_band_severity_units_at_risk_then_score(queue):
    queue.enqueue(make_report("low", band="low", score=90), actor="upload")
    queue.enqueue(make_report("high-no-findings", band="high", score=40, findings=0), actor="upload")
    queue.enqueue(make_report("high-error", band="high", score=50, at_risk=1), actor="upload")
    queue.enqueue(make_report("high-error-lower-score", band="high", score=30, at_risk=1), actor="upload")
    queue.enqueue(make_report("high-error-more-units", band="high", score=55, at_risk=3), actor="upload")
    assert [entry.note_id for entry in queue.entries()] == [
        "high-error-more-units",
        "high-error-lower-score",
        "high-error",
        "high-no-findings",
        "low",
    ]


def test_a_note_enters_the_queue_once(queue):
    first = queue.enqueue(make_report("n1"), actor="upload")
    again = queue.enqueue(make_report("n1"), actor="upload")
    assert first == again
    assert len(queue.entries()) == 1
    assert [event.action for event in queue.audit_trail(first)] == ["enqueue"]


def test_a_batch_result_store_fills_the_queue(queue, tmp_path):
    store = ResultStore(f"sqlite:///{tmp_path / 'batch.db'}")
    for note_id in ("b1", "b2", "b3"):
        store.put(make_report(note_id))
    assert queue.enqueue_results(store.engine, actor="batch-import") == 3
    assert queue.enqueue_results(store.engine, actor="batch-import") == 0
    entries = queue.entries()
    assert sorted(entry.note_id for entry in entries) == ["b1", "b2", "b3"]
    assert all(entry.source == "batch" for entry in entries)
    store.close()


def _failed(note_id: str) -> NoteReport:
    return make_report(note_id, findings=0).model_copy(
        update={"status": "failed", "risk_band": None, "score": None, "units": []}
    )


def test_a_failed_review_is_queued_with_the_high_risk_notes(queue):
    queue.enqueue(make_report("medium", band="medium"), actor="upload")
    queue.enqueue(_failed("failed"), actor="upload")
    assert [(e.note_id, e.review_status) for e in queue.entries()] == [("failed", "failed"), ("medium", "ok")]


def test_a_later_ok_review_replaces_a_failed_one_nobody_picked_up(queue):
    item_id = queue.enqueue(_failed("n1"), actor="batch")
    assert queue.enqueue(make_report("n1", band="low", score=92), actor="batch") == item_id
    item = queue.item(item_id)
    assert (item.review_status, item.risk_band, len(item.report.findings)) == ("ok", "low", 2)
    assert [e.action for e in queue.audit_trail(item_id)] == ["enqueue", "refresh"]
    queue.enqueue(_failed("n1"), actor="batch")  # a failure never replaces an ok report
    assert queue.item(item_id).review_status == "ok"


def _episode_finding(severity: str = "error") -> Finding:
    return Finding(
        rule="EPI002",
        severity=severity,
        message="visit after the plan of care's certification ended",
        citation="42 CFR 424.24(c)",
        fix="Obtain the recertification",
        scope="episode",
    )


def test_episode_findings_rank_with_the_note_findings(queue):
    from reviewer.episode_store import attach_episode_findings

    queue.enqueue(make_report("medium", band="medium"), actor="batch")
    queue.enqueue(
        attach_episode_findings(make_report("low", band="low", score=90), [_episode_finding()]), actor="batch"
    )
    entries = queue.entries()
    assert [e.note_id for e in entries] == ["low", "medium"]  # an episode error puts the visit in the high band
    assert entries[0].risk_band == "low"  # the note's own band is shown as it is


def test_a_later_batch_s_episode_findings_refresh_a_note_nobody_started_on(queue):
    from reviewer.episode_store import attach_episode_findings

    report = make_report("n1", band="low", score=90)
    item_id = queue.enqueue(report, actor="batch")
    before = queue.item(item_id).priority
    queue.enqueue(attach_episode_findings(report, [_episode_finding()]), actor="batch")
    item = queue.item(item_id)
    assert [f.rule for f in item.report.findings] == ["UNIT001", "GOAL001", "EPI002"]
    assert item.priority > before
    assert [e.action for e in queue.audit_trail(item_id)] == ["enqueue", "refresh"]
    queue.claim(item_id, actor="ana", version=item.version)
    queue.enqueue(report, actor="batch")  # once someone works on it, a later batch changes nothing
    assert [f.rule for f in queue.item(item_id).report.findings] == ["UNIT001", "GOAL001", "EPI002"]


# -- claims and decisions -------------------------------------------------------------------------


def test_a_full_review_returns_the_note_with_the_accepted_fixes(queue):
    item = _claimed(queue)
    item = queue.decide_finding(item.id, 0, actor="alice", version=item.version, action="accept")
    item = queue.decide_finding(
        item.id, 1, actor="alice", version=item.version, action="override", comment="goal is on line 3"
    )
    assert item.fixes_to_make() == ["Bill 97530 x1"]
    decided = queue.decide_note(item.id, actor="alice", version=item.version, outcome="returned")
    assert decided.status == "returned"
    assert decided.decision_fixes == ["Bill 97530 x1"]
    assert decided.claimed_by is None
    assert queue.entries() == []


def test_deciding_needs_the_claim_and_every_finding_decided(queue):
    item_id = queue.enqueue(make_report("n1"), actor="upload")
    item = queue.item(item_id)
    with pytest.raises(TriageError, match="Claim note n1"):
        queue.decide_finding(item_id, 0, actor="alice", version=item.version, action="accept")
    item = queue.claim(item_id, actor="alice", version=item.version)
    with pytest.raises(TriageError, match="still open: #1, #2"):
        queue.decide_note(item_id, actor="alice", version=item.version, outcome="cleared")
    with pytest.raises(TriageError, match="needs a comment"):
        queue.decide_finding(item_id, 0, actor="alice", version=item.version, action="override", comment="  ")
    with pytest.raises(TriageError, match="no finding #3"):
        queue.decide_finding(item_id, 2, actor="alice", version=item.version, action="accept")
    with pytest.raises(TriageError, match="escalation needs a comment"):
        queue.decide_note(item_id, actor="alice", version=item.version, outcome="escalated")


def test_a_claimed_note_is_locked_for_other_reviewers(queue):
    item = _claimed(queue, actor="alice")
    with pytest.raises(ConflictError, match="claimed by alice"):
        queue.claim(item.id, actor="bob", version=item.version)
    with pytest.raises(ConflictError, match="claimed by alice"):
        queue.decide_finding(item.id, 0, actor="bob", version=item.version, action="accept")
    taken = queue.claim(item.id, actor="bob", version=item.version, take_over=True)
    assert taken.claimed_by == "bob"


def test_a_decided_note_cannot_be_decided_again(queue):
    item = _all_findings_accepted(queue, _claimed(queue))
    done = queue.decide_note(item.id, actor="alice", version=item.version, outcome="cleared")
    with pytest.raises(ConflictError, match="already cleared by alice"):
        queue.claim(item.id, actor="bob", version=done.version)


# -- the two-reviewer race ----------------------------------------------------------------------


def test_two_sessions_deciding_the_same_version_one_wins(queue, second_queue):
    item = _all_findings_accepted(queue, _claimed(queue))
    seen_by_tab_one = queue.item(item.id)
    seen_by_tab_two = second_queue.item(item.id)
    assert seen_by_tab_one.version == seen_by_tab_two.version

    queue.decide_note(item.id, actor="alice", version=seen_by_tab_one.version, outcome="cleared")
    with pytest.raises(ConflictError, match=r"changed by someone else.*alice: decide"):
        second_queue.decide_note(item.id, actor="alice", version=seen_by_tab_two.version, outcome="returned")
    assert queue.item(item.id).status == "cleared"


def test_a_write_landing_between_read_and_write_is_detected(queue, db_url):
    """Another commit bumps the version after our read: the guarded UPDATE matches no row."""
    item = _all_findings_accepted(queue, _claimed(queue))
    other = create_engine(db_url)
    outcome: list[object] = []

    def decide():
        try:
            outcome.append(queue.decide_note(item.id, actor="alice", version=item.version, outcome="cleared"))
        except ConflictError as exc:
            outcome.append(exc)

    with other.connect() as connection:
        transaction = connection.begin()
        connection.execute(text("UPDATE triage_items SET version = version + 1 WHERE id = :id"), {"id": item.id})
        worker = threading.Thread(target=decide)
        worker.start()  # reads the old version, then its write waits on our uncommitted one
        worker.join(timeout=0.5)
        transaction.commit()
        worker.join(timeout=60)
    other.dispose()
    assert len(outcome) == 1 and isinstance(outcome[0], ConflictError), outcome
    assert "changed by someone else" in str(outcome[0])
    assert queue.item(item.id).status == "claimed"


@pytest.mark.parametrize("attempt", range(3))
def test_two_reviewers_racing_on_one_item_exactly_one_wins(queue, second_queue, attempt):
    """alice decides while bob takes the note over, both from the same version, at the same moment."""
    item = _all_findings_accepted(queue, _claimed(queue))
    start = threading.Barrier(2)
    outcomes: dict[str, object] = {}

    def act(name, call):
        start.wait()
        try:
            outcomes[name] = call()
        except ConflictError as exc:
            outcomes[name] = exc

    threads = [
        threading.Thread(
            target=act,
            args=("alice", lambda: queue.decide_note(item.id, actor="alice", version=item.version, outcome="cleared")),
        ),
        threading.Thread(
            target=act,
            args=("bob", lambda: second_queue.claim(item.id, actor="bob", version=item.version, take_over=True)),
        ),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    conflicts = [name for name, outcome in outcomes.items() if isinstance(outcome, ConflictError)]
    assert len(outcomes) == 2 and len(conflicts) == 1, outcomes
    winner = "bob" if conflicts == ["alice"] else "alice"
    final = queue.item(item.id)
    assert (final.status, final.claimed_by) == (("claimed", "bob") if winner == "bob" else ("cleared", None))
    assert [e.actor for e in queue.audit_trail(item.id)][-1] == winner


# -- audit trail ------------------------------------------------------------------------------------


def test_the_audit_trail_keeps_every_action_with_before_and_after(queue):
    item = _claimed(queue)
    item = queue.decide_finding(item.id, 0, actor="alice", version=item.version, action="accept")
    item = queue.decide_finding(
        item.id, 0, actor="alice", version=item.version, action="override", comment="minutes on line 1"
    )
    item = queue.release(item.id, actor="alice", version=item.version)
    trail = queue.audit_trail(item.id)
    assert [(e.actor, e.action) for e in trail] == [
        ("upload", "enqueue"),
        ("alice", "claim"),
        ("alice", "finding_accept"),
        ("alice", "finding_override"),
        ("alice", "release"),
    ]
    change = trail[3]
    assert change.before["action"] == "accept"
    assert change.after == {"finding": 1, "rule": "UNIT001", "action": "override", "comment": "minutes on line 1"}
    assert trail[1].before == {"status": "open", "claimed_by": None}
    assert all(e.at is not None for e in trail)


def test_a_refused_action_leaves_no_trace(queue):
    item = _claimed(queue)
    with pytest.raises(ConflictError):
        queue.claim(item.id, actor="bob", version=item.version)
    assert [e.action for e in queue.audit_trail(item.id)] == ["enqueue", "claim"]
    assert queue.item(item.id).version == item.version


@pytest.mark.parametrize(
    "statement", ["UPDATE triage_audit_events SET actor = 'mallory'", "DELETE FROM triage_audit_events"]
)
def test_the_database_refuses_to_change_the_audit_trail(queue, statement):
    _claimed(queue)
    with pytest.raises(DBAPIError, match="append-only"), queue.engine.begin() as connection:
        connection.execute(text(statement))
    assert {e.actor for e in queue.audit_trail()} == {"upload", "alice"}


# -- exporting overrides -------------------------------------------------------------------------------


def test_overrides_export_as_labelled_cases(queue, tmp_path):
    overridden = _claimed(queue, note_id="dev/0009")
    overridden = queue.decide_finding(
        overridden.id,
        0,
        actor="alice",
        version=overridden.version,
        action="override",
        comment="20 min is 1 unit but 2 were right: 97110 time",
    )
    overridden = queue.decide_finding(overridden.id, 1, actor="alice", version=overridden.version, action="accept")
    queue.decide_note(overridden.id, actor="alice", version=overridden.version, outcome="returned")
    accepted = _all_findings_accepted(queue, _claimed(queue, note_id="n2"))
    queue.decide_note(accepted.id, actor="alice", version=accepted.version, outcome="returned")
    still_open = _claimed(queue, note_id="n3", actor="bob")
    queue.decide_finding(
        still_open.id, 0, actor="bob", version=still_open.version, action="override", comment="not decided yet"
    )

    cases = export_overrides(queue, actor="alice")

    assert [case.case_id for case in cases] == [f"dev_0009-r{overridden.id}"]
    label = cases[0].label
    assert set(label) == {"id", "payer", "state", "discipline", "gold"}
    assert (label["payer"], label["state"], label["discipline"]) == ("medicare", "TX", "PT")
    assert label["gold"]["flags"] == ["no_functional_goal"]
    assert label["gold"]["billed_units"] == {"97530": 2}
    assert label["gold"]["timed_minutes"] == {"97530": 20}
    assert label["gold"]["correct_units"] == {"97530": 1}
    assert label["gold"]["modifiers"] == {"97530": ["GP"]}
    assert label["gold"]["goals"] == ["stand from chair alone"]
    write_corpus(cases, tmp_path / "overrides")
    assert (tmp_path / "overrides" / "notes" / f"{cases[0].case_id}.txt").read_text(encoding="utf-8") == NOTE
    lines = (tmp_path / "overrides" / "labels.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line) for line in lines] == [label]
    assert [note.gold["flags"] for note in load_corpus(tmp_path / "overrides")] == [["no_functional_goal"]]
    assert corpus_zip(cases)[:2] == b"PK"
    assert queue.audit_trail()[-1].action == "export_overrides"


# -- sign-in ------------------------------------------------------------------------------------------


def test_configured_and_stored_users_sign_in_with_their_passwords(queue):
    accounts = Accounts(queue.engine, configured=f"alice:{hash_password('alice-secret')}")
    accounts.add("bob", "bob-secret-1", actor="admin")
    assert accounts.any()
    assert accounts.authenticate("alice", "alice-secret")
    assert accounts.authenticate("bob", "bob-secret-1")
    assert not accounts.authenticate("alice", "bob-secret-1")
    assert not accounts.authenticate("carol", "alice-secret")
    assert not accounts.authenticate("bob", "x" * 100)
    with pytest.raises(UserError, match="at least 8"):
        accounts.add("carol", "short", actor="admin")
    assert [(e.actor, e.action, e.after) for e in queue.audit_trail()] == [("admin", "user_add", {"username": "bob"})]


def test_no_users_means_no_sign_in(queue):
    assert not Accounts(queue.engine).any()
    with pytest.raises(UserError, match="REVIEWER_USERS must look like"):
        Accounts(queue.engine, configured="alice")


def test_reviewer_users_add_stores_a_hashed_password(tmp_path):
    from typer.testing import CliRunner

    from reviewer.cli import app

    url = _sqlite_url(tmp_path)
    result = CliRunner().invoke(app, ["users", "add", "carol", "--db", url], input="carol-password\ncarol-password\n")
    assert result.exit_code == 0, result.output
    queue = TriageQueue.open(url)
    accounts = Accounts(queue.engine)
    assert accounts.authenticate("carol", "carol-password") and not accounts.authenticate("carol", "wrong-password")
    with queue.engine.connect() as connection:
        stored = connection.execute(text("SELECT password_hash FROM triage_users")).scalar_one()
    assert stored.startswith("$2") and "carol-password" not in stored
    too_short = CliRunner().invoke(app, ["users", "add", "dave", "--db", url], input="short\nshort\n")
    assert too_short.exit_code == 2 and "at least 8" in too_short.output


def test_the_latest_audit_events_come_oldest_first(queue):
    for note_id in ("a", "b", "c"):
        queue.enqueue(make_report(note_id), actor=f"user-{note_id}")
    assert [e.actor for e in queue.audit_trail(latest=2)] == ["user-b", "user-c"]


def test_exported_cases_mask_the_patient_s_identifiers(queue, tmp_path):
    from fakes import DEV_0001_ANSWERS, AnsweringBackend

    from reviewer.review import review_text
    from reviewer.settings import Settings

    note = (
        "Patient: Walter Briggs   DOB: 06/02/1949   MRN: RPT-104233\n"
        "DOS: 03/04/2025   Auth # HUM-7731902, 12 visits authorized\n"
        "Goal: Walter to stand from chair alone in 4 weeks.\n"
        "Therapeutic activities (97530) x 20 min: sit to stand, Mr. Briggs needed min A.\n"
        "Billing: 97530-GP x2\nSigned: A. Lee, PT\n"
    )
    report = review_text(
        note, note_id="briggs_walter_0304", backend=AnsweringBackend(DEV_0001_ANSWERS), settings=Settings()
    )
    item = queue.item(queue.enqueue(report, actor="upload"))
    item = queue.claim(item.id, actor="alice", version=item.version)
    for index in item.undecided_findings():
        item = queue.decide_finding(
            item.id, index, actor="alice", version=item.version, action="override", comment="not so"
        )
    queue.decide_note(item.id, actor="alice", version=item.version, outcome="cleared")

    [case] = export_overrides(queue, actor="alice")
    write_corpus([case], tmp_path / "overrides")
    written = case.case_id + case.note_text + json.dumps(case.label) + corpus_zip([case]).decode("latin-1")
    for identifier in ("Walter", "walter", "Briggs", "briggs", "06/02/1949", "104233", "HUM-7731902"):
        assert identifier not in written
    assert len(case.note_text) == len(note)  # masked at the same length: the case reads as the note did
    assert "Therapeutic activities (97530) x 20 min" in case.note_text and "Patient: Xxxxxx Xxxxxx" in case.note_text
