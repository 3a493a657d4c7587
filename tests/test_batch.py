"""Batch review: discovery, resume without duplicates, failures recorded and retried, kill -9 survival."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from fakes import FakeOpenAIServer, first_choice, is_first_question, request_schema
from typer.testing import CliRunner

from reviewer.backends import get_backend
from reviewer.backends.base import Completion, ModelError
from reviewer.batch import NoteFile, batch_reports, discover_notes, run_batch
from reviewer.cli import app
from reviewer.settings import Settings
from reviewer.store import ResultStore

FAIL_MARKER = "PLEASE-FAIL"

NOTE_TEMPLATE = """Riverside Physical Therapy
PT Daily Note    DOS 04/{day:02d}/2025
Pt: Patient {number}   Ins: Medicare
Time in 10:00 / Time out 10:{out:02d}

TherAct {act}' - sit to stand x10 w/ VC for trunk lean, car transfer sim x4 CGA -> SBA
TherEx 15' - bridges 2x15, SL hip abd 2x12

A: tol well, transfers now SBA, needs cues for hip precautions
STG: pt will perform car transfer independently in 4 wks
{extra}
Timed {timed} min | Total {total} min
97530-GP x{units}
97110-GP x1

R. Patel, PT, DPT   04/{day:02d}/25
"""


def write_notes(folder: Path, count: int, extra: str = "") -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for number in range(1, count + 1):
        act = 20 + number % 15
        text = NOTE_TEMPLATE.format(
            day=number % 28 + 1, number=number, act=act, timed=act + 15, total=act + 20, out=act + 20,
            units=2 if act >= 23 else 1, extra=extra,
        )  # fmt: skip
        path = folder / f"note-{number:03d}.txt"
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    return paths


class CountingBackend:
    """A fake model: a fixed valid answer, a count of calls, the most calls seen at once."""

    def __init__(self, name: str = "fake", delay: float = 0.0, fail_marked: bool = False):
        self.name, self.model_id = name, "counting-fake"
        self.delay, self.fail_marked = delay, fail_marked
        self.calls = self.notes = self.in_flight = self.max_in_flight = 0
        self._lock = threading.Lock()

    def complete(self, messages, schema):
        with self._lock:
            self.calls += 1
            self.notes += schema["properties"]["answer"]["enum"] == ["no", "yes"]  # each review asks this first
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            time.sleep(self.delay)
            if self.fail_marked and FAIL_MARKER in messages[-1]["content"]:
                raise ModelError("endpoint error: 503")
            return Completion(text=first_choice(schema), prompt_tokens=50, completion_tokens=10)
        finally:
            with self._lock:
                self.in_flight -= 1


@pytest.fixture
def settings():
    return Settings(_env_file=None, backend="replay", payer="medicare")


@pytest.fixture
def store(tmp_path):
    result_store = ResultStore(f"sqlite:///{tmp_path / 'results.db'}")
    yield result_store
    result_store.close()


def test_discover_notes_finds_note_files_below_the_folder(tmp_path):
    for name in ["b.txt", "a.md", "sub/c.pdf", "sub/d.docx", "skip.csv", ".hidden.txt", ".git/e.txt", "~$lock.docx"]:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x")
    assert [n.note_id for n in discover_notes(tmp_path)] == ["a", "b", "sub/c", "sub/d"]


def test_rerun_reviews_nothing_already_stored(tmp_path, store, settings):
    write_notes(tmp_path, 5)
    notes = discover_notes(tmp_path)
    backend = CountingBackend()
    first = run_batch(notes, store=store, backend=backend, settings=settings)
    assert (first.reviewed, first.already_done, first.failed_ids) == (5, 0, [])
    second = run_batch(notes, store=store, backend=backend, settings=settings)
    assert (second.reviewed, second.already_done) == (0, 5)
    assert backend.notes == 5 and store.count() == 5
    reports = batch_reports(store, second.planned)
    assert [r.note_id for r in reports] == [n.note_id for n in notes]
    assert all(r.status == "ok" and r.model.model == "counting-fake" for r in reports)


def test_bad_file_is_recorded_failed_and_the_batch_goes_on(tmp_path, store, settings):
    write_notes(tmp_path, 3)
    (tmp_path / "empty.txt").write_text("")
    (tmp_path / "binary.txt").write_bytes(b"\x00\x01\x02binary" * 20)
    notes = discover_notes(tmp_path)
    result = run_batch(notes, store=store, backend=CountingBackend(), settings=settings)
    assert sorted(result.failed_ids) == ["binary", "empty"]
    by_id = {r.note_id: r for r in batch_reports(store, result.planned)}
    assert by_id["empty"].status == "failed" and "empty" in by_id["empty"].error
    assert by_id["binary"].status == "failed" and "binary" in by_id["binary"].error
    assert sum(r.status == "ok" for r in by_id.values()) == 3
    rerun = run_batch(notes, store=store, backend=CountingBackend(), settings=settings)
    assert sorted(rerun.failed_ids) == ["binary", "empty"] and rerun.already_done == 3
    assert store.count() == 5


def test_model_failure_is_retried_on_the_next_run(tmp_path, store, settings):
    write_notes(tmp_path / "good", 3)
    write_notes(tmp_path / "flaky", 1, extra=FAIL_MARKER)
    notes = discover_notes(tmp_path)
    first = run_batch(notes, store=store, backend=CountingBackend(fail_marked=True), settings=settings)
    assert first.failed_ids == ["flaky/note-001"]
    failed = {r.note_id: r for r in batch_reports(store, first.planned)}["flaky/note-001"]
    assert failed.status == "failed" and "503" in failed.error
    healthy = CountingBackend()
    second = run_batch(notes, store=store, backend=healthy, settings=settings)
    assert healthy.notes == 1 and second.failed_ids == []
    assert store.count() == 4 and all(r.status == "ok" for r in batch_reports(store, second.planned))


def test_identical_notes_are_reviewed_once_and_reported_under_each_name(tmp_path, store, settings):
    (path,) = write_notes(tmp_path, 1)
    (tmp_path / "copy.txt").write_text(path.read_text())
    backend = CountingBackend()
    result = run_batch(discover_notes(tmp_path), store=store, backend=backend, settings=settings)
    assert backend.notes == 1 and store.count() == 1
    assert [r.note_id for r in batch_reports(store, result.planned)] == ["copy", "note-001"]


def test_payer_and_state_are_part_of_the_key(tmp_path, store, settings):
    notes = [NoteFile("n1", write_notes(tmp_path, 1)[0])]
    backend = CountingBackend()
    run_batch(notes, store=store, backend=backend, settings=settings, payer="medicare", state="tx")
    run_batch(notes, store=store, backend=backend, settings=settings, payer="medicare", state="TX")
    assert backend.notes == 1  # state is upper-cased as the review does
    run_batch(notes, store=store, backend=backend, settings=settings, payer="commercial", state="TX")
    assert backend.notes == 2 and store.count() == 2


@pytest.mark.parametrize(("backend_name", "expected_max"), [("openai", 4), ("embedded", 1), ("replay", 1)])
def test_workers_run_concurrently_only_for_remote_backends(tmp_path, store, settings, backend_name, expected_max):
    write_notes(tmp_path, 8)
    backend = CountingBackend(name=backend_name, delay=0.2)
    run_batch(discover_notes(tmp_path), store=store, backend=backend, settings=settings, workers=4)
    assert backend.max_in_flight == expected_max
    assert store.count() == 8


class SlowOpenAIServer:
    """A local OpenAI-compatible endpoint that takes `delay` seconds per answer and counts requests."""

    def __init__(self, delay: float):
        self.requests = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.requests += is_first_question(request_schema(body))  # notes reviewed
                time.sleep(delay)
                choice = {
                    "index": 0,
                    "message": {"role": "assistant", "content": first_choice(request_schema(body))},
                    "finish_reason": "stop",
                }
                payload = {"id": "c", "object": "chat.completion", "created": 0, "model": body["model"], "choices": [choice],
                           "usage": {"prompt_tokens": 300, "completion_tokens": 40, "total_tokens": 340}}  # fmt: skip
                data = json.dumps(payload).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def stored_rows(db_path: Path) -> list[tuple[str, str]]:
    try:
        with sqlite3.connect(db_path, timeout=30) as connection:
            return connection.execute("SELECT note_id, status FROM review_results").fetchall()
    except sqlite3.OperationalError:  # the batch has not created the table yet
        return []


@pytest.mark.timeout(180)
@pytest.mark.parametrize("workers", [1, 4])
def test_batch_survives_kill_9_and_finishes_on_rerun(tmp_path, workers):
    count = 24
    write_notes(tmp_path / "notes", count)
    db_path = tmp_path / "store.db"
    server = SlowOpenAIServer(delay=0.15)
    env = {
        **os.environ,
        "REVIEWER_BACKEND": "openai",
        "REVIEWER_OPENAI_BASE_URL": server.url,
        "REVIEWER_OPENAI_MODEL": "slow-fake",
        "REVIEWER_DATABASE_URL": f"sqlite:///{db_path}",
    }
    command = [
        sys.executable,
        "-c",
        "from reviewer.cli import app; app()",
        "batch",
        "notes",
        "--out",
        "out",
        "--workers",
        str(workers),
    ]
    try:
        first = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 90
        while len(stored_rows(db_path)) < count // 2 and first.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        first.kill()  # SIGKILL: no cleanup, no flush
        first.wait()
        stored_at_kill = len(stored_rows(db_path))
        assert count // 2 <= stored_at_kill < count, "the first run was not interrupted halfway"
        requests_before = server.requests

        second = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
        assert second.returncode == 0, second.stderr[-2000:]
        rows = stored_rows(db_path)
        assert len(rows) == count and len({note_id for note_id, _ in rows}) == count
        assert all(status == "ok" for _, status in rows)
        assert server.requests - requests_before == count - stored_at_kill  # only the missing notes were reviewed
        lines = (tmp_path / "out" / "results.jsonl").read_text(encoding="utf-8").splitlines()
        assert sorted(json.loads(line)["note_id"] for line in lines) == [f"note-{n:03d}" for n in range(1, count + 1)]
    finally:
        server.close()


@pytest.mark.timeout(120)
def test_ctrl_c_stops_with_a_one_line_message_and_keeps_finished_notes(tmp_path):
    write_notes(tmp_path / "notes", 12)
    db_path = tmp_path / "store.db"
    server = SlowOpenAIServer(delay=0.3)
    env = {**os.environ, "REVIEWER_BACKEND": "openai", "REVIEWER_OPENAI_BASE_URL": server.url,
           "REVIEWER_DATABASE_URL": f"sqlite:///{db_path}"}  # fmt: skip
    command = [sys.executable, "-c", "from reviewer.cli import app; app()", "batch", "notes", "--out", "out"]
    try:
        run = subprocess.Popen(
            command, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )
        deadline = time.monotonic() + 60
        while len(stored_rows(db_path)) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        run.send_signal(signal.SIGINT)
        _, stderr = run.communicate(timeout=60)
    finally:
        server.close()
    assert run.returncode == 130
    assert stderr.rstrip().splitlines()[-1].startswith("error: interrupted") and "Traceback" not in stderr
    assert 2 <= len(stored_rows(db_path)) < 12


def test_retries_after_429_are_counted_in_the_batch_summary(tmp_path, store, fresh_settings, monkeypatch):
    write_notes(tmp_path / "notes", 4)
    with FakeOpenAIServer(error_rate=0.25, seed=3) as server:
        settings = Settings(
            _env_file=None,
            backend="openai",
            openai_base_url=server.url,
            openai_retry_initial_s=0.01,
            openai_retry_max_s=0.05,
        )
        backend = get_backend(settings)
        result = run_batch(
            discover_notes(tmp_path / "notes"), store=store, backend=backend, settings=settings, workers=2
        )
        assert result.failed_ids == [] and server.errors_sent > 0
        assert result.retries == server.errors_sent  # every 429 was retried, and each retry counted

        for name, value in {"BACKEND": "openai", "OPENAI_BASE_URL": server.url, "OPENAI_RETRY_INITIAL_S": "0.01",
                            "DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}"}.items():  # fmt: skip
            monkeypatch.setenv(f"REVIEWER_{name}", value)
        sent_before = server.errors_sent
        outcome = CliRunner().invoke(app, ["batch", str(tmp_path / "notes"), "--out", str(tmp_path / "out")])
    assert outcome.exit_code == 0, outcome.output
    assert f"{server.errors_sent - sent_before} model calls retried after 429/5xx" in outcome.output
