"""The app's guards, through Streamlit's AppTest: sign-in whenever users are configured, what each
role sees, failed sign-ins rate-limited and logged without the password, sessions that expire."""

from __future__ import annotations

import logging
import time
from datetime import timedelta

import pytest
from test_queue import make_report
from test_ui_apptest import USERS, app, button, sign_in

from reviewer.db import utcnow
from reviewer.triage import Accounts, TriageQueue, UserError
from reviewer.triage.users import LOCKOUT, MAX_FAILED_SIGN_INS, UNKNOWN_USER, parse_users


@pytest.fixture
def db_url(tmp_path):
    return f"sqlite:///{tmp_path / 'app.db'}"


def titles(at) -> list[str]:
    return [t.value for t in at.title]


def expanders(at) -> list[str]:
    return [e.label for e in at.expander]


# -- roles --------------------------------------------------------------------------------------------


def test_users_are_reviewers_unless_named_admins():
    users = parse_users("alice:$2b$hash,carol:$2b$hash:admin")
    assert {name: account.role for name, account in users.items()} == {"alice": "reviewer", "carol": "admin"}
    with pytest.raises(UserError):
        parse_users("mallory:$2b$hash:root")


def test_a_reviewer_sees_the_review_and_the_queue_but_not_the_dashboard(db_url):
    at = sign_in(app(db_url, users=USERS), "alice", "alice-password")
    assert titles(at) == ["Review a note"]
    with pytest.raises(ValueError, match="Known pages") as refused:  # not in a reviewer's navigation at all
        at.switch_page("pages/dashboard.py")
    assert "dashboard" not in str(refused.value).split("Known pages")[1] and "queue.py" in str(refused.value)
    admin = sign_in(app(db_url, users=USERS), "carol", "carol-password")
    admin.switch_page("pages/dashboard.py").run()
    assert titles(admin) == ["Batch dashboard"]


def test_only_an_admin_sees_everyones_audit_trail_and_the_export(db_url):
    queue = TriageQueue.open(db_url)
    item_id = queue.enqueue(make_report("n1"), actor="batch")
    reviewer = sign_in(app(db_url, users=USERS), "alice", "alice-password").switch_page("pages/queue.py").run()
    assert not [label for label in expanders(reviewer) if "all actions" in label or "Export" in label]
    assert not [b for b in reviewer.button if b.label == "Prepare the export"]
    reviewer.selectbox[0].set_value(item_id).run()
    button(reviewer, "Claim").click().run()  # the reviewer's own work is all there
    assert queue.item(item_id).claimed_by == "alice" and "Audit trail of this note" in expanders(reviewer)
    admin = sign_in(app(db_url, users=USERS), "carol", "carol-password").switch_page("pages/queue.py").run()
    assert any("all actions" in label for label in expanders(admin))
    assert [b.label for b in admin.button if b.label == "Prepare the export"] == ["Prepare the export"]


def test_without_users_the_single_local_user_is_an_admin(db_url):
    at = app(db_url)
    at.switch_page("pages/dashboard.py").run()
    assert titles(at) == ["Batch dashboard"]


def test_a_stored_user_has_the_role_it_was_added_with(db_url):
    accounts = Accounts(TriageQueue.open(db_url).engine)
    accounts.add("dana", "dana-password", actor="cli:root", role="admin")
    accounts.add("erin", "erin-password", actor="cli:root")
    assert (accounts.role("dana"), accounts.role("erin"), accounts.role("nobody")) == ("admin", "reviewer", None)
    with pytest.raises(UserError, match="role"):
        accounts.add("frank", "frank-password", actor="cli:root", role="owner")


# -- failed sign-ins ----------------------------------------------------------------------------------


def test_repeated_failed_sign_ins_lock_the_name_in_every_session(db_url, caplog):
    caplog.set_level(logging.DEBUG)
    at = app(db_url, users=USERS)
    for _ in range(MAX_FAILED_SIGN_INS):
        at = sign_in(at, "alice", "guess-Passw0rd")
        assert at.error[0].value == "Unknown user name or wrong password."
    fresh = sign_in(app(db_url, users=USERS), "alice", "alice-password")  # a new session, the right password
    assert titles(fresh) == ["Sign in"] and "locked" in fresh.error[0].value
    assert titles(sign_in(app(db_url, users=USERS), "bob", "bob-password")) == ["Review a note"]  # others unaffected
    actions = [(e.actor, e.action) for e in TriageQueue.open(db_url).audit_trail()]
    assert actions == [("alice", "sign_in_failed")] * MAX_FAILED_SIGN_INS + [
        ("alice", "sign_in_locked"),
        ("bob", "sign_in"),
    ]
    lines = [record.getMessage() for record in caplog.records if record.name.startswith("reviewer")]
    assert lines.count("sign-in failed for alice") == MAX_FAILED_SIGN_INS
    assert any("sign-in refused for alice: locked" in line for line in lines)
    assert not [line for line in caplog.text.splitlines() if "guess-Passw0rd" in line or "alice-password" in line]


def test_a_lock_ends_after_its_time_and_a_success_resets_the_count(db_url):
    accounts = Accounts(TriageQueue.open(db_url).engine, USERS)
    start = utcnow()
    for minute in range(MAX_FAILED_SIGN_INS):
        assert accounts.sign_in("alice", "wrong", now=start + timedelta(minutes=minute)).refused == "wrong"
    assert accounts.sign_in("alice", "alice-password", now=start + timedelta(minutes=6)).refused == "locked"
    later = start + timedelta(minutes=MAX_FAILED_SIGN_INS - 1) + LOCKOUT + timedelta(seconds=1)
    assert accounts.sign_in("alice", "alice-password", now=later).role == "reviewer"
    for minute in range(MAX_FAILED_SIGN_INS - 1):  # after a success the count starts again
        accounts.sign_in("alice", "wrong", now=later + timedelta(minutes=minute))
    assert accounts.sign_in("alice", "alice-password", now=later + timedelta(minutes=5)).role == "reviewer"


def test_failures_spread_over_more_than_the_lockout_do_not_lock(db_url):
    accounts = Accounts(TriageQueue.open(db_url).engine, USERS)
    start = utcnow()
    for attempt in range(MAX_FAILED_SIGN_INS + 2):
        accounts.sign_in("alice", "wrong", now=start + attempt * LOCKOUT / 2)
    assert not accounts.locked("alice", now=start + (MAX_FAILED_SIGN_INS + 2) * LOCKOUT / 2)


def test_an_unknown_name_is_logged_and_audited_as_unknown(db_url, caplog):
    """A password typed into the user-name field must not reach the log or the audit trail."""
    caplog.set_level(logging.INFO)
    at = sign_in(app(db_url, users=USERS), "alice-password", "alice-password")
    assert at.error[0].value == "Unknown user name or wrong password."
    assert [(e.actor, e.action) for e in TriageQueue.open(db_url).audit_trail()] == [(UNKNOWN_USER, "sign_in_failed")]
    assert "alice-password" not in caplog.text and f"sign-in failed for {UNKNOWN_USER}" in caplog.text


# -- sessions -----------------------------------------------------------------------------------------


def test_an_idle_session_expires_and_asks_to_sign_in_again(db_url):
    idle_s = 3.6
    at = sign_in(app(db_url, users=USERS, session_idle_minutes=idle_s / 60), "alice", "alice-password")
    signed_in = time.monotonic()
    for _ in range(3):  # activity keeps the session: each run restarts its clock
        time.sleep(idle_s / 2.4)
        at.run()
        assert titles(at) == ["Review a note"]
    assert time.monotonic() - signed_in > idle_s  # longer than the limit in all, but never idle that long
    time.sleep(idle_s + 0.5)
    at.run()
    assert titles(at) == [] and "expired" in at.info[0].value  # nothing of the page is shown
    assert [e.action for e in TriageQueue.open(db_url).audit_trail()][-1] == "session_expired"
    at.switch_page("pages/queue.py").run()  # nor of any other page
    assert titles(at) == [] and not at.dataframe and "Sign in first." in at.info[0].value
    assert titles(app(db_url, users=USERS)) == ["Sign in"]  # reloading the page asks to sign in
