"""Fault suite: the model, the endpoint, the database and the disk fail in the middle of a batch.

Real components throughout: the OpenAI-compatible backend over HTTP to a misbehaving local server
(tests/faulty.py), the SQLite or PostgreSQL result store, the `reviewer batch` command. After each
fault the invariant is the same: every note the fault touched is stored as failed (never as a clean
review), every other note as the healthy model reviews it, and a rerun on a healthy setup leaves
every note stored exactly once, reviewing only the notes still missing.
"""

from __future__ import annotations

import contextlib
import os
import random
import re
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import quote

import pytest
from fakes import AnsweringBackend, first_choice
from faulty import FaultyServer
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from test_batch import stored_rows, write_notes
from typer.testing import CliRunner

from reviewer.backends.base import Completion
from reviewer.backends.openai_compat import OpenAIBackend
from reviewer.batch import batch_reports, discover_notes, model_info, plan_notes, run_batch
from reviewer.cli import app
from reviewer.review import review_text
from reviewer.settings import Settings
from reviewer.store import ResultStore

MODEL = "faulty-fake"
NOTES = 6
TESTS = Path(__file__).resolve().parent
POSTGRES_URL = os.environ.get("REVIEWER_TEST_POSTGRES_URL")


class HealthyModel:
    """In process, what the healthy server answers: the reference every stored review is held to."""

    name, model_id = "openai", MODEL

    def complete(self, messages, schema):
        return Completion(text=first_choice(schema), prompt_tokens=300, completion_tokens=5)


def settings_for(url: str, **changes) -> Settings:
    """The openai backend against the faulty server; its retries back off for milliseconds, not seconds."""
    quick = {"openai_retry_initial_s": 0.01, "openai_retry_max_s": 0.05, **changes}
    return Settings(
        _env_file=None, backend="openai", openai_base_url=url, openai_model=MODEL, payer="medicare", **quick
    )


def expected_flags(folder: Path) -> dict[str, list[str]]:
    """Each note's flags as the healthy model's review gives them (never empty for these notes)."""
    settings = settings_for("http://unused")
    expected = {}
    for note in discover_notes(folder):
        report = review_text(note.path.read_text(), note_id=note.note_id, backend=HealthyModel(), settings=settings)
        assert report.status == "ok" and report.flags, "the healthy review of a test note must raise flags"
        expected[note.note_id] = report.flags
    return expected


def stored_by_note(store: ResultStore, folder: Path, settings: Settings) -> dict[str, object]:
    notes = discover_notes(folder)
    backend = HealthyModel()  # only its name and model id: they make the keys the batch used
    planned = plan_notes(notes, model_info(backend, settings), settings)
    return {r.note_id: r for r in batch_reports(store, planned)}


def check_after_fault(store, folder, settings, expected, faulted: set[str]) -> None:
    """Every note stored once: the faulted ones failed with a reason, the others as the healthy review."""
    reports = stored_by_note(store, folder, settings)
    assert sorted(reports) == sorted(expected) and store.count() == len(expected)
    for note_id, report in reports.items():
        if note_id in faulted:
            assert report.status == "failed" and report.error, f"{note_id} was stored as {report.status}"
            assert not report.flags and report.score is None  # a failure is never a (clean) score
        else:
            assert report.status == "ok", f"{note_id}: {report.error}"
            assert report.flags == expected[note_id]


def rerun_healthy(store, folder, expected, missing: int) -> None:
    """A rerun on a healthy endpoint reviews only the missing notes and leaves every note once, ok."""
    with FaultyServer() as server:
        settings = settings_for(server.url)
        result = run_batch(discover_notes(folder), store=store, backend=OpenAIBackend(settings), settings=settings)
        assert (result.reviewed, result.failed_ids) == (missing, [])
        assert sum(server.reviews.values()) == missing
    check_after_fault(store, folder, settings, expected, faulted=set())


@pytest.fixture
def notes(tmp_path):
    folder = tmp_path / "notes"
    write_notes(folder, NOTES)
    return folder, expected_flags(folder)


@pytest.fixture
def store(tmp_path):
    result_store = ResultStore(f"sqlite:///{tmp_path / 'results.db'}")
    yield result_store
    result_store.close()


def note_of(patient: int) -> str:
    return f"note-{patient:03d}"


# -- the model and the endpoint -----------------------------------------------------------------------

# (name, the fault for (patient, question), the patients whose review must fail)
ENDPOINT_FAULTS = [
    ("timeout", lambda n, q: "slow" if n == 2 else "ok", {2}),
    ("invalid JSON twice", lambda n, q: "invalid" if n == 2 and q in (0, 1) else "ok", {2}),
    ("invalid JSON once, then valid", lambda n, q: "invalid" if n == 2 and q == 0 else "ok", set()),
    ("invalid JSON on a later question", lambda n, q: "invalid" if n == 3 and q in (4, 5) else "ok", {3}),
    ("429 every time", lambda n, q: "429" if n in (2, 5) else "ok", {2, 5}),
    ("429 once, then an answer", lambda n, q: "429" if n == 2 and q == 0 else "ok", set()),
    ("500 quoting the note", lambda n, q: "500" if n == 4 else "ok", {4}),
    ("a body that is not JSON", lambda n, q: "garbage" if n == 3 else "ok", {3}),
    ("connection closed", lambda n, q: "close" if n == 1 else "ok", {1}),
    ("connection closed once", lambda n, q: "close" if n == 1 and q == 0 else "ok", set()),
    ("every request fails", lambda n, q: "500", {1, 2, 3, 4, 5, 6}),
]


@pytest.mark.timeout(60)
@pytest.mark.parametrize(("policy", "faulted"), [f[1:] for f in ENDPOINT_FAULTS], ids=[f[0] for f in ENDPOINT_FAULTS])
def test_endpoint_faults_fail_only_the_notes_they_touch_and_a_rerun_completes(notes, store, policy, faulted):
    folder, expected = notes
    with FaultyServer(policy) as server:
        settings = settings_for(server.url, model_timeout_s=0.5)
        result = run_batch(discover_notes(folder), store=store, backend=OpenAIBackend(settings), settings=settings)
        assert sum(server.faults.values()) >= 1, "the fault was never injected"
    failed = {note_of(n) for n in faulted}
    assert sorted(result.failed_ids) == sorted(failed)
    check_after_fault(store, folder, settings, expected, failed)
    for report in stored_by_note(store, folder, settings).values():  # the reason, never the note
        assert report.error is None or ("Patient" not in report.error and "TherAct" not in report.error)
        assert not (report.error or "").startswith("review crashed")  # every fault is one the backend names
    rerun_healthy(store, folder, expected, missing=len(failed))


@pytest.mark.timeout(60)
def test_a_timeout_says_so(notes, store):
    folder, _ = notes
    with FaultyServer(lambda n, q: "slow" if n == 1 else "ok") as server:
        settings = settings_for(server.url, model_timeout_s=0.5)
        run_batch(discover_notes(folder)[:1], store=store, backend=OpenAIBackend(settings), settings=settings)
    (report,) = stored_by_note(store, folder, settings).values()
    assert report.status == "failed" and "timed out" in report.error


@pytest.mark.timeout(60)
def test_invalid_json_twice_fails_the_note_after_one_retry(notes, store):
    folder, _ = notes
    with FaultyServer(lambda n, q: "invalid" if q < 2 else "ok") as server:
        settings = settings_for(server.url)
        run_batch(discover_notes(folder)[:1], store=store, backend=OpenAIBackend(settings), settings=settings)
        assert server.questions[1] == 2  # the first answer and exactly one retry
    (report,) = stored_by_note(store, folder, settings).values()
    assert report.status == "failed" and "invalid after a retry" in report.error


@pytest.mark.timeout(90)
def test_the_model_server_killed_mid_batch(notes, store, tmp_path):
    """The server process is SIGKILLed in the middle of its answer about note 4: notes 1-3 stay
    reviewed, 4-6 are stored failed, and a rerun on a new server reviews exactly those three."""
    folder, expected = notes
    port_file = tmp_path / "port"
    server = subprocess.Popen([sys.executable, str(TESTS / "faulty.py"), str(port_file), "--die-at", "4"])
    try:
        deadline = time.monotonic() + 30
        while not port_file.exists() or not port_file.read_text():
            assert time.monotonic() < deadline and server.poll() is None, "the model server did not start"
            time.sleep(0.05)
        settings = settings_for(f"http://127.0.0.1:{port_file.read_text()}/v1", model_timeout_s=5)
        result = run_batch(discover_notes(folder), store=store, backend=OpenAIBackend(settings), settings=settings)
        assert server.wait(timeout=10) == -9  # it really died of SIGKILL
    finally:
        server.kill()
        server.wait()
    failed = {note_of(n) for n in (4, 5, 6)}
    assert sorted(result.failed_ids) == sorted(failed)
    check_after_fault(store, folder, settings, expected, failed)
    rerun_healthy(store, folder, expected, missing=3)


# -- absurd answers -----------------------------------------------------------------------------------

OVERBILLED = """Riverside Physical Therapy
PT Daily Note    DOS 04/03/2025
Pt: Patient 7   Ins: Medicare
Time in 10:00 / Time out 10:40

TherAct 20' - sit to stand x10, car transfer sim x4
TherEx 15' - bridges 2x15, SL hip abd 2x12

Timed 35 min | Total 40 min
97530-GP x3
97110-GP x1

R. Patel, PT, DPT   04/03/25
"""


def test_an_absurd_answer_from_the_endpoint_is_never_a_clean_review(notes, store):
    """The last choice of every question: "yes, this daily note is a letter" and the like."""
    folder, _ = notes
    with FaultyServer(lambda n, q: "absurd" if n == 2 else "ok") as server:
        settings = settings_for(server.url)
        run_batch(discover_notes(folder), store=store, backend=OpenAIBackend(settings), settings=settings)
    report = stored_by_note(store, folder, settings)[note_of(2)]
    assert report.status == "ok" and report.flags == ["not_a_treatment_note"]  # held for a human, not cleared


def points_at_line_one() -> AnsweringBackend:
    """Schema-valid and absurd, and sure of it: every element is on line 1 (the clinic's name), every
    check says yes, every block is passive care."""
    answers = {"doc": "no", "kind": "passive"}
    for element in ("goal", "skill", "response", "group", "passive"):
        answers |= {element: "1", f"{element}_check": "yes"}
    return AnsweringBackend(answers, confidence=0.99)


def test_absurd_line_answers_cannot_clear_what_the_program_verifies():
    report = review_text(OVERBILLED, note_id="n", backend=points_at_line_one(), settings=settings_for("http://unused"))
    assert report.status == "ok"
    # minutes and units are the program's own reading: no answer removes the billing flag
    assert "units_exceed_minutes" in report.flags
    # a goal or skilled care "on" the clinic's name is checked against the line's words and refused
    assert {"no_functional_goal", "no_skilled_justification"} <= set(report.flags)


@pytest.mark.xfail(
    strict=True,
    reason="extract.py accepts a patient-response claim on a line that names no response (the clinic's "
    "name); the reading path is another engineer's work in progress, so it is reported, not changed here",
)
def test_an_absurd_patient_response_line_is_refused():
    report = review_text(OVERBILLED, note_id="n", backend=points_at_line_one(), settings=settings_for("http://unused"))
    assert "no_patient_response" in report.flags


# -- the database -------------------------------------------------------------------------------------


def lock_database(db_path: Path) -> sqlite3.Connection:
    """Another writer holds an exclusive lock: nobody else reads or writes until it lets go."""
    connection = sqlite3.connect(db_path, timeout=5, isolation_level=None, check_same_thread=False)
    connection.execute("BEGIN EXCLUSIVE")
    return connection


@pytest.mark.timeout(60)
def test_a_briefly_locked_database_makes_the_batch_wait_not_lose_notes(notes, tmp_path):
    folder, expected = notes
    db_path = tmp_path / "locked.db"
    store = ResultStore(f"sqlite:///{db_path}")
    locks: list[sqlite3.Connection] = []

    def lock_for_a_moment(patient):
        if patient == 3:
            locks.append(lock_database(db_path))
            threading.Timer(1.5, locks[0].rollback).start()

    try:
        with FaultyServer() as server:
            server.on_note = lock_for_a_moment
            settings = settings_for(server.url)
            started = time.monotonic()
            result = run_batch(discover_notes(folder), store=store, backend=OpenAIBackend(settings), settings=settings)
        assert locks and time.monotonic() - started >= 1.4  # the write really waited for the lock
        assert (result.reviewed, result.failed_ids) == (NOTES, [])
        check_after_fault(store, folder, settings, expected, faulted=set())
    finally:
        store.close()


@pytest.fixture
def cli_env(monkeypatch, fresh_settings):
    def configure(url: str, database_url: str) -> None:
        for name, value in {"REVIEWER_BACKEND": "openai", "REVIEWER_OPENAI_BASE_URL": url,
                            "REVIEWER_OPENAI_MODEL": MODEL, "REVIEWER_DATABASE_URL": database_url,
                            "REVIEWER_PAYER": "medicare", "REVIEWER_OPENAI_RETRY_INITIAL_S": "0.01",
                            "REVIEWER_OPENAI_RETRY_MAX_S": "0.05"}.items():  # fmt: skip
            monkeypatch.setenv(name, value)
        from reviewer.settings import get_settings

        get_settings.cache_clear()

    return configure


def batch_command(folder: Path, out: Path):
    return CliRunner().invoke(app, ["batch", str(folder), "--out", str(out)])


def assert_one_line_error(result, code: int, pattern: str) -> None:
    assert result.exit_code == code, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    assert re.search(pattern, result.output.strip().splitlines()[-1]), result.output


def rerun_command(folder, out, expected, store_url: str, missing: int) -> None:
    with FaultyServer() as server:
        os.environ["REVIEWER_OPENAI_BASE_URL"] = server.url  # the cli_env fixture restores it
        from reviewer.settings import get_settings

        get_settings.cache_clear()
        result = batch_command(folder, out)
        assert result.exit_code == 0, result.output
        assert sum(server.reviews.values()) == missing
    store = ResultStore(store_url)
    try:
        check_after_fault(store, folder, get_settings(), expected, faulted=set())
    finally:
        store.close()
    lines = (out / "results.jsonl").read_text().splitlines()
    assert len(lines) == len(expected) and not list(out.glob("*.tmp"))


@pytest.mark.timeout(60)
def test_a_database_locked_past_its_timeout_stops_the_batch_with_one_line(notes, tmp_path, cli_env):
    folder, expected = notes
    db_path = tmp_path / "locked.db"
    url = f"sqlite:///{db_path}?timeout=0.3"
    locks: list[sqlite3.Connection] = []
    with FaultyServer() as server:
        server.on_note = lambda patient: patient == 3 and locks.append(lock_database(db_path))
        cli_env(server.url, url)
        result = batch_command(folder, tmp_path / "out")
    assert_one_line_error(result, 2, r"^error: result store: OperationalError: .*database is locked")
    locks[0].rollback()
    assert sorted(note_id for note_id, _ in stored_rows(db_path)) == [note_of(1), note_of(2)]
    rerun_command(folder, tmp_path / "out", expected, url, missing=NOTES - 2)


class TcpProxy:
    """A TCP proxy in front of the database server: `drop()` cuts every connection (the server
    restarted, a firewall timed them out), `stop()` also stops listening (the database is gone)."""

    def __init__(self, host: str, port: int):
        self.target = (host, port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            with self._lock:
                self.sockets += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)

    def drop(self) -> None:
        with self._lock:
            for end in self.sockets:
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)
                end.close()
            self.sockets.clear()

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the accepting thread; close alone would not
        self.listener.close()
        self.drop()


@pytest.fixture
def postgres_url():
    """A schema of its own on the test PostgreSQL server, reached through `TcpProxy`."""
    if not POSTGRES_URL:
        pytest.skip("REVIEWER_TEST_POSTGRES_URL is not set (scripts/start_postgres.sh starts a server)")
    schema = f"faults_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL)
    with admin.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    parsed = make_url(POSTGRES_URL)
    proxy = TcpProxy(parsed.host or "127.0.0.1", parsed.port or 5432)

    def through(port: int) -> str:
        url = parsed.set(host="127.0.0.1", port=port).render_as_string(hide_password=False)
        return f"{url}{'&' if '?' in url else '?'}options={quote(f'-csearch_path={schema}')}"

    yield proxy, through
    proxy.stop()
    with admin.begin() as connection:
        connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    admin.dispose()


@pytest.mark.postgres
@pytest.mark.timeout(60)
def test_database_connections_cut_mid_batch_are_reopened_without_losing_a_note(notes, postgres_url):
    folder, expected = notes
    proxy, through = postgres_url
    store = ResultStore(through(proxy.port))
    try:
        with FaultyServer() as server:
            server.on_note = lambda patient: patient in (3, 5) and proxy.drop()
            settings = settings_for(server.url)
            result = run_batch(discover_notes(folder), store=store, backend=OpenAIBackend(settings), settings=settings)
        assert (result.reviewed, result.failed_ids) == (NOTES, [])
        check_after_fault(store, folder, settings, expected, faulted=set())
    finally:
        store.close()


@pytest.mark.postgres
@pytest.mark.timeout(60)
def test_the_database_going_away_mid_batch_stops_it_and_a_rerun_completes(notes, postgres_url, tmp_path, cli_env):
    folder, expected = notes
    proxy, through = postgres_url
    with FaultyServer() as server:
        server.on_note = lambda patient: patient == 4 and proxy.stop()
        cli_env(server.url, through(proxy.port))
        result = batch_command(folder, tmp_path / "out")
    assert_one_line_error(result, 2, r"^error: result store: OperationalError: ")
    back = TcpProxy(proxy.target[0], proxy.target[1])  # the database is back (at a new address)
    try:
        os.environ["REVIEWER_DATABASE_URL"] = through(back.port)
        store = ResultStore(through(back.port))
        assert store.count() == 3  # notes 1-3 were stored before it went away
        store.close()
        rerun_command(folder, tmp_path / "out", expected, through(back.port), missing=NOTES - 3)
    finally:
        back.stop()


# -- the disk -----------------------------------------------------------------------------------------


@pytest.mark.timeout(60)
@pytest.mark.parametrize("output", ["results.jsonl", "results.csv", "summary.html"])
def test_a_full_disk_while_writing_outputs_keeps_the_old_outputs_and_a_rerun_writes_them(
    notes, tmp_path, cli_env, output
):
    """/dev/full answers every write with ENOSPC, as a full disk does."""
    if not Path("/dev/full").exists():
        pytest.skip("/dev/full is absent (not Linux)")
    folder, expected = notes
    out = tmp_path / "out"
    out.mkdir()
    old = {name: f"old {name}\n" for name in ("results.jsonl", "results.csv", "summary.html")}
    for name, content in old.items():
        (out / name).write_text(content)
    (out / f"{output}.tmp").symlink_to("/dev/full")  # where this output is written before it replaces the old
    url = f"sqlite:///{tmp_path / 'results.db'}"
    with FaultyServer() as server:
        cli_env(server.url, url)
        result = batch_command(folder, out)
    assert_one_line_error(result, 2, r"^error: .*No space left on device")
    assert (out / output).read_text() == old[output]  # the old output is whole, not half overwritten
    assert not list(out.glob("*.tmp"))  # nor is a partial temporary file left to fill the disk further
    rerun_command(folder, out, expected, url, missing=0)  # the notes were stored: only the outputs are written


# -- kill -9 ------------------------------------------------------------------------------------------


@pytest.mark.timeout(240)
def test_kill_9_at_random_points_again_and_again(tmp_path):
    """Four SIGKILLs at random moments (one during start-up), then a run to the end: every note is
    stored exactly once, reviewed again only when it was in flight, and the note the endpoint
    always refuses is stored failed after every run, never as a clean review."""
    count, refused, kills = 12, 5, 4
    folder = tmp_path / "notes"
    write_notes(folder, count)
    expected = expected_flags(folder)
    db_path = tmp_path / "store.db"
    rng = random.Random(11)
    command = [sys.executable, "-c", "from reviewer.cli import app; app()", "batch", "notes", "--out", "out"]
    with FaultyServer(lambda n, q: "500" if n == refused else "ok", delay=0.02) as server:
        env = {**os.environ, "REVIEWER_BACKEND": "openai", "REVIEWER_OPENAI_BASE_URL": server.url,
               "REVIEWER_OPENAI_MODEL": MODEL, "REVIEWER_DATABASE_URL": f"sqlite:///{db_path}",
               "REVIEWER_PAYER": "medicare", "REVIEWER_OPENAI_RETRY_INITIAL_S": "0.01",
               "REVIEWER_OPENAI_RETRY_MAX_S": "0.05"}  # fmt: skip
        targets = [0, *sorted(rng.sample(range(1, count - 1), kills - 1))]  # stored rows to wait for
        for round_, target in enumerate(targets):
            run = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            deadline = time.monotonic() + 60
            if round_ == 0:
                time.sleep(rng.uniform(0.2, 1.0))  # still importing, reading notes or opening the store
            while len(stored_rows(db_path)) < target and run.poll() is None and time.monotonic() < deadline:
                time.sleep(0.01)
            time.sleep(rng.uniform(0, 0.15))  # somewhere inside the next note
            assert run.poll() is None, "the run finished before it could be killed"
            run.kill()
            run.wait()
            rows = stored_rows(db_path)
            assert len(rows) == len({note_id for note_id, _ in rows})  # never a note twice
            assert all(status == "failed" for note_id, status in rows if note_id == note_of(refused))
        final = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert final.returncode == 1, final.stderr[-2000:]  # one note failed, as it must
    store = ResultStore(f"sqlite:///{db_path}")
    try:
        reports = stored_by_note(store, folder, settings_for(server.url))
    finally:
        store.close()
    assert sorted(reports) == sorted(expected) and len(stored_rows(db_path)) == count
    for note_id, report in reports.items():
        if note_id == note_of(refused):
            assert report.status == "failed"
        else:
            assert report.status == "ok" and report.flags == expected[note_id]
    reviews = [server.reviews[n] for n in range(1, count + 1) if n != refused]
    assert all(r >= 1 for r in reviews) and sum(reviews) <= count - 1 + kills  # at most one note lost per kill
    lines = (tmp_path / "out" / "results.jsonl").read_text().splitlines()
    assert len(lines) == count
