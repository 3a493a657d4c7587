"""Each page of the app through Streamlit's AppTest, with a fixed fake model behind the real pipeline."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from fakes import DEV_0001_ANSWERS, AnsweringBackend
from streamlit.testing.v1 import AppTest
from test_queue import make_report

from reviewer.backends.base import ModelError
from reviewer.batch import NoteFile, PlannedNote
from reviewer.batch_items import add_items, finish_item, start_item
from reviewer.review import review_text
from reviewer.settings import Settings
from reviewer.store import ResultStore
from reviewer.triage import TriageQueue, hash_password

APP = str(Path(__file__).resolve().parents[1] / "ui" / "app.py")


class Dev0001Model:
    """A model backend that answers every note as a good model answers dev-0001."""

    name = "fake"
    model_id = "dev-0001-answer"

    def complete(self, messages, schema):
        return AnsweringBackend(DEV_0001_ANSWERS).complete(messages, schema)


class DownBackend:
    name = "fake"
    model_id = "down"

    def complete(self, messages, schema):
        raise ModelError("the model server did not answer")


@pytest.fixture
def db_url(tmp_path):
    return f"sqlite:///{tmp_path / 'app.db'}"


def app(db_url: str, *, users: str = "", backend=None, **settings) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["settings"] = Settings(database_url=db_url, users=users, **settings)
    at.session_state["backend"] = backend or Dev0001Model()
    return at.run()


def button(at: AppTest, label: str):
    return next(b for b in at.button if b.label == label)


def html_of(at: AppTest) -> str:
    return "".join(element.value for element in at.html)


def upload(at: AppTest, name: str, data: bytes) -> AppTest:
    at.file_uploader[0].set_value((name, data, "application/octet-stream"))
    at.run()
    return button(at, "Review").click().run()


def sign_in(at: AppTest, username: str, password: str) -> AppTest:
    at.text_input[0].input(username)
    at.text_input[1].input(password)
    return at.button[0].click().run()  # the form's submit button


# -- review a note ----------------------------------------------------------------------------------


def test_uploading_a_note_shows_highlighted_evidence_findings_and_queues_it(db_url, dev_note):
    expected = review_text(dev_note, note_id="dev-0001", state="TX", backend=Dev0001Model(), settings=Settings())
    assert expected.status == "ok", f"the fake model no longer fits the extraction contract: {expected.error}"
    at = upload(app(db_url, state="TX"), "dev-0001.txt", dev_note.encode())
    assert not at.exception and not at.error
    page = html_of(at)
    supports = set(" ".join(re.findall(r'data-supports="([^"]*)"', page)).split())
    assert supports >= {"goal", "activity", "minutes", "skill", "response", "billing", "signature"}
    assert at.tabs[0].label == f"Findings ({len(expected.findings)})"
    for number, finding in enumerate(expected.findings, start=1):
        assert f'data-finding="{number}"' in page and finding.rule in page
    assert [m.value for m in at.metric if m.label == "Audit score"] == [str(expected.score)]
    assert any(expected.locality.contractor in m.value for m in at.markdown)
    assert {d.label for d in at.download_button} >= {
        "Download report (JSON)",
        "Download printable report (HTML, print to PDF)",
    }
    queue = TriageQueue.open(db_url)
    assert [(e.note_id, e.source) for e in queue.entries()] == [("dev-0001", "upload")]
    assert any("Edit tables applied: NCCI PTP: none imported" in c.value for c in at.caption)


def test_the_review_page_names_the_imported_edit_table_version(db_url, dev_note):
    from pathlib import Path

    from reviewer.edit_table_store import EditTableStore

    fixtures = Path(__file__).resolve().parent / "fixtures" / "cms"
    store = EditTableStore(db_url)
    store.import_ptp([fixtures / "ccipra-v310r0-f1.txt"])
    store.import_mue(fixtures / "MCR_MUE_PractitionerServices_Eff_01-01-2025.csv")
    store.close()
    at = upload(app(db_url, state="TX"), "dev-0001.txt", dev_note.encode())
    assert not at.exception and not at.error
    captions = [c.value for c in at.caption if c.value.startswith("Edit tables applied")]
    assert len(captions) == 1 and "NCCI PTP v310r0 (2025-01-01 to 2025-03-31" in captions[0]
    assert "MUE 2025Q1 (2025-01-01 to 2025-03-31" in captions[0]


UNCERTAIN_NOTE = """PT Daily Note DOS 02/03/2025 Medicare
Ther act 97530 - 23 min (9:00-9:30): floor-to-counter lifting x8, stair climbing w/ rail
Total treatment 45 min
Charges: 97530 GP x2
Dana Lee, PT
"""


class UnsureModel:
    """Answers like a model that cannot tell the block's minutes either."""

    name = "fake"
    model_id = "unsure"

    def complete(self, messages, schema):
        return AnsweringBackend({"doc": "no", "minutes": "none"}).complete(messages, schema)


def test_an_uncertain_value_is_shown_and_queued_for_a_human_reading(db_url):
    at = app(db_url, backend=UnsureModel())
    at.radio[0].set_value("Paste text").run()
    at.text_area[0].input(UNCERTAIN_NOTE).run()
    at = button(at, "Review").click().run()
    assert not at.exception
    warnings = " ".join(w.value for w in at.warning)
    assert "Needs a human reading" in warnings and "97530" in warnings and "23, 30" in warnings
    queue = TriageQueue.open(db_url)
    assert [e.review_status for e in queue.entries()] == ["uncertain"]


def test_pasted_text_is_reviewed_like_a_file(db_url, dev_note):
    at = app(db_url)
    at.radio[0].set_value("Paste text").run()
    at.text_area[0].input(dev_note).run()
    at = button(at, "Review").click().run()
    assert not at.exception and "<mark " in html_of(at)


def _image_only_pdf() -> bytes:
    from reportlab.pdfgen import canvas

    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer)
    pdf.rect(100, 100, 200, 200, fill=1)
    pdf.save()
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("empty.txt", b"   \n", "file is empty"),
        ("binary.txt", b"\x00\x01\x02" * 200, "binary file"),
        ("scan.pdf", _image_only_pdf(), "no text layer"),
        ("huge.txt", b"x" * 5_000, "over the 4,000-byte limit"),
    ],
)
def test_bad_input_shows_a_clear_message_and_nothing_crashes(db_url, name, data, message):
    at = upload(app(db_url, max_input_bytes=4_000), name, data)
    assert not at.exception
    assert [message in e.value for e in at.error] == [True]
    assert TriageQueue.open(db_url).entries() == []


def test_a_model_failure_is_reported_as_not_cleared(db_url, dev_note):
    at = upload(app(db_url, backend=DownBackend()), "dev-0001.txt", dev_note.encode())
    assert not at.exception
    assert any("the model server did not answer" in e.value and "NOT cleared" in e.value for e in at.error)


# -- batch dashboard ----------------------------------------------------------------------------------


def test_dashboard_shows_a_batch_and_sends_it_to_the_queue(db_url, tmp_path):
    store_path = tmp_path / "batch.db"
    store = ResultStore(f"sqlite:///{store_path}")
    store.put(make_report("b1", band="high", score=40))
    store.put(make_report("b2", band="low", score=92, findings=0))
    store.close()
    at = app(db_url)
    at.switch_page("pages/dashboard.py").run()
    at.text_input[0].input(str(store_path)).run()
    assert not at.exception
    assert {m.label: m.value for m in at.metric}["Notes"] == "2"
    assert len(at.get("plotly_chart")) == 2
    notes_table = at.dataframe[-1].value
    assert list(notes_table["note"]) == ["b1", "b2"]  # lowest score (riskiest) first
    at.multiselect[1].set_value(["low"]).run()
    assert list(at.dataframe[-1].value["note"]) == ["b2"]

    at = button(at, "Send this batch to the triage queue").click().run()
    assert any("2 note(s) added" in s.value for s in at.success)
    assert sorted(e.note_id for e in TriageQueue.open(db_url).entries()) == ["b1", "b2"]

    at.multiselect[1].set_value([]).run()
    at.selectbox[-1].set_value("b1").run()
    assert "<mark " in html_of(at) and 'class="note-text has-focus"' not in html_of(at)
    at.selectbox(key="dashboard-focus").set_value(1).run()  # outline finding #1's evidence (the billing line)
    assert 'class="ev-billing focus"' in html_of(at) and 'class="ev-activity"' in html_of(at)


def test_dashboard_names_a_missing_store(db_url, tmp_path):
    at = app(db_url)
    at.switch_page("pages/dashboard.py").run()
    at.text_input[0].input(str(tmp_path / "nope.db")).run()
    assert not at.exception
    assert "No result store at" in at.error[0].value


# -- sign-in and the triage queue ------------------------------------------------------------------------

USERS = (
    f"alice:{hash_password('alice-password')},bob:{hash_password('bob-password')},"
    f"carol:{hash_password('carol-password')}:admin"
)


def test_with_users_configured_every_page_waits_for_sign_in(db_url):
    at = app(db_url, users=USERS)
    assert at.title[0].value == "Sign in"
    at = sign_in(at, "alice", "wrong-password")
    assert at.error[0].value == "Unknown user name or wrong password."
    at = sign_in(at, "alice", "alice-password")
    assert at.title[0].value == "Review a note"
    actions = [(e.actor, e.action) for e in TriageQueue.open(db_url).audit_trail()]
    assert actions == [("alice", "sign_in_failed"), ("alice", "sign_in")]


def test_without_users_the_queue_explains_how_to_add_them(db_url):
    at = app(db_url)
    at.switch_page("pages/queue.py").run()
    assert "reviewer users add NAME" in at.info[0].value


def _queue_page(db_url: str, username: str) -> AppTest:
    at = sign_in(app(db_url, users=USERS), username, f"{username}-password")
    return at.switch_page("pages/queue.py").run()


def test_a_reviewer_works_an_item_through_the_queue(db_url):
    queue = TriageQueue.open(db_url)
    item_id = queue.enqueue(make_report("n1"), actor="batch")
    at = _queue_page(db_url, "alice")
    at.selectbox[0].set_value(item_id).run()
    at = button(at, "Claim").click().run()
    assert queue.item(item_id).claimed_by == "alice"

    version = queue.item(item_id).version
    at.text_input(key=f"finding-{item_id}-1-v{version}-comment").input("minutes are right")
    at.radio(key=f"finding-{item_id}-1-v{version}-action").set_value("Override")
    at = at.button(key=f"finding-{item_id}-1-v{version}-save").click().run()
    version = queue.item(item_id).version
    at = at.button(key=f"finding-{item_id}-2-v{version}-save").click().run()
    assert {i: v.action for i, v in queue.item(item_id).verdicts.items()} == {0: "override", 1: "accept"}

    version = queue.item(item_id).version
    at.radio(key=f"outcome-{item_id}-v{version}").set_value("returned")
    at = button(at, "Decide the note").click().run()
    assert not at.exception
    decided = queue.item(item_id)
    assert (decided.status, decided.decision_fixes) == ("returned", ["State a measurable functional goal"])
    assert [e.action for e in queue.audit_trail(item_id)] == [
        "enqueue",
        "claim",
        "finding_override",
        "finding_accept",
        "decide",
    ]


def test_an_episode_finding_is_decided_beside_the_note_findings(db_url):
    from reviewer.episode_store import attach_episode_findings
    from reviewer.findings import Finding

    queue = TriageQueue.open(db_url)
    episode_finding = Finding(
        rule="EPI002",
        severity="error",
        message="Visit after the plan of care's certification ended.",
        citation="Pub. 100-02 Ch. 15 §220.1.3",
        fix="Obtain the recertification.",
        scope="episode",
    )
    item_id = queue.enqueue(attach_episode_findings(make_report("n1"), [episode_finding]), actor="batch")
    at = _queue_page(db_url, "alice")
    at.selectbox[0].set_value(item_id).run()
    at = button(at, "Claim").click().run()
    assert not at.exception
    assert any("#3 EPI002 (episode)" in m.value for m in at.markdown)
    version = queue.item(item_id).version
    at = at.button(key=f"finding-{item_id}-3-v{version}-save").click().run()
    assert queue.item(item_id).verdicts[2].rule == "EPI002"


def test_a_reviewer_acting_on_a_stale_view_gets_a_clear_message(db_url):
    queue = TriageQueue.open(db_url)
    item_id = queue.enqueue(make_report("n1"), actor="batch")
    alice, bob = _queue_page(db_url, "alice"), _queue_page(db_url, "bob")
    alice.selectbox[0].set_value(item_id).run()
    bob.selectbox[0].set_value(item_id).run()  # both now see the item unclaimed, at the same version
    button(alice, "Claim").click().run()
    bob = button(bob, "Claim").click().run()
    assert not bob.exception
    assert "changed by someone else" in bob.error[0].value and "alice: claim" in bob.error[0].value
    assert queue.item(item_id).claimed_by == "alice"


def test_overrides_can_be_downloaded_as_a_labelled_corpus(db_url):
    queue = TriageQueue.open(db_url)
    item = queue.item(queue.enqueue(make_report("n1"), actor="batch"))
    item = queue.claim(item.id, actor="alice", version=item.version)
    item = queue.decide_finding(item.id, 0, actor="alice", version=item.version, action="override", comment="fine")
    item = queue.decide_finding(item.id, 1, actor="alice", version=item.version, action="accept")
    queue.decide_note(item.id, actor="alice", version=item.version, outcome="cleared")
    at = _queue_page(db_url, "carol")  # an admin: a reviewer sees no export (test_app_security.py)
    at = button(at, "Prepare the export").click().run()
    assert [d.label for d in at.download_button] == ["Download overrides corpus (zip)"]
    assert queue.audit_trail()[-1].action == "export_overrides"


def test_dashboard_shows_the_queued_batch_counts_across_workers(db_url, tmp_path):
    store_path = tmp_path / "queued.db"
    store = ResultStore(f"sqlite:///{store_path}")
    planned = [
        PlannedNote(NoteFile(f"n{i}", tmp_path / f"n{i}.txt"), "medicare", None, f"key-{i}", f"hash-{i}", "text", None)
        for i in range(4)
    ]
    add_items(store.engine, planned, "clinic-abc")
    for key, status in [("key-0", "ok"), ("key-1", None), ("key-2", "failed")]:
        start_item(store.engine, key, "host-a:1")
        if status:
            finish_item(store.engine, key, status=status, result_key=key, retries=2)
    start_item(store.engine, "key-0", "host-b:2")  # taken over once
    finish_item(store.engine, "key-0", status="ok", result_key="key-0")
    store.close()
    at = app(db_url)
    at.switch_page("pages/dashboard.py").run()
    at.text_input[0].input(str(store_path)).run()
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert (metrics["Done"], metrics["Failed"], metrics["In flight"], metrics["Queued"]) == ("1", "1", "1", "1")
    assert (metrics["Retries (429/5xx)"], metrics["Taken over"]) == ("4", "1")
    (bar,) = at.get("progress")
    assert bar.proto.value == 50 and bar.proto.text == "2 of 4 notes reviewed"
