"""Notes are PHI: with every logger at DEBUG (ours, openai, httpx, SQLAlchemy, Streamlit), a batch
and the app leave no note text, no patient identifier and no password in any log line or error message."""

from __future__ import annotations

import logging
import re

import pytest
from faulty import FaultyServer
from streamlit.testing.v1 import AppTest
from test_faults import MODEL
from test_ui_apptest import APP, Dev0001Model, button
from typer.testing import CliRunner

from reviewer.cli import app
from reviewer.settings import Settings
from reviewer.triage import hash_password

# What identifies the patient, and clinical text only the note has.
PHI = ["Zebulon", "Quixote", "48213377", "03/14/1951", "ladder-climb", "purple theraband", "left knee scope"]
PASSWORD = "hunter2-Swordfish"

NOTE = """Riverside Physical Therapy
PT Daily Note    DOS 04/{day:02d}/2025
Pt: Zebulon Quixote   MRN 48213377   DOB 03/14/1951   Pt: Patient {number}
Dx: s/p left knee scope
Time in 10:00 / Time out 10:45

TherAct 25' - ladder-climb simulation x6 with the purple theraband, sit to stand x10 w/ VC
TherEx 15' - bridges 2x15

A: tol well, needs cues for knee precautions
STG: pt will climb a step ladder independently in 4 wks
Timed 40 min | Total 45 min
97530-GP x2
97110-GP x1

R. Patel, PT, DPT   04/{day:02d}/25
"""


def leaks(texts: list[str]) -> list[str]:
    return [f"{secret!r} in {text[:300]!r}" for text in texts for secret in [*PHI, PASSWORD] if secret in text]


def logged(caplog) -> list[str]:
    """Every record as a handler would write it: the message, its arguments and any traceback."""
    handler = logging.Formatter("%(name)s %(levelname)s %(message)s")
    return [handler.format(record) for record in caplog.records]


LOGGERS = ("openai", "httpx", "httpcore", "sqlalchemy", "sqlalchemy.engine", "streamlit", "reviewer", "alembic")


@pytest.fixture
def debug_logging(caplog):
    from streamlit import logger as streamlit_logging

    caplog.set_level(logging.DEBUG)
    for name in LOGGERS:
        logging.getLogger(name).setLevel(logging.DEBUG)  # as a user turning everything up would
    streamlit_logging.set_log_level("debug")  # each Streamlit logger has its own level (`--logger.level`)
    import streamlit.runtime.app_session
    import streamlit.runtime.scriptrunner.script_runner  # noqa: F401

    isolated = [  # loggers that write to their own handlers only (Streamlit's): listen there too
        logger
        for logger in logging.Logger.manager.loggerDict.values()
        if isinstance(logger, logging.Logger) and not logger.propagate
    ]
    for logger in isolated:
        logger.addHandler(caplog.handler)
    yield caplog
    for logger in isolated:
        logger.removeHandler(caplog.handler)
    streamlit_logging.set_log_level("info")
    for name in LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING if name in ("sqlalchemy", "streamlit") else logging.NOTSET)


@pytest.mark.timeout(120)
def test_a_batch_logs_no_note_text_and_no_patient_identifier(tmp_path, monkeypatch, fresh_settings, debug_logging):
    folder = tmp_path / "notes"
    folder.mkdir()
    for number in range(1, 6):
        (folder / f"visit-{number}.txt").write_text(NOTE.format(day=number, number=number))
    (folder / "too-long.txt").write_text(NOTE.format(day=9, number=9) * 200)  # over the note-size limit
    (folder / "binary.txt").write_bytes(b"\x00\x01 Zebulon Quixote MRN 48213377" * 20)

    def policy(note, question):  # 2: a 500 quoting the request; 3: invalid JSON twice; 4: closed
        return {2: "500", 3: "invalid" if question < 2 else "ok", 4: "close"}.get(note, "ok")

    with FaultyServer(policy) as server:
        for name, value in {"REVIEWER_BACKEND": "openai", "REVIEWER_OPENAI_BASE_URL": server.url,
                            "REVIEWER_OPENAI_MODEL": MODEL, "REVIEWER_DATABASE_URL": f"sqlite:///{tmp_path / 'r.db'}",
                            "REVIEWER_PAYER": "medicare"}.items():  # fmt: skip
            monkeypatch.setenv(name, value)
        result = CliRunner().invoke(app, ["batch", str(folder), "--out", str(tmp_path / "out")])
    assert result.exit_code == 1, result.output  # some notes failed, as they were meant to
    records = logged(debug_logging)
    assert any(r.startswith("openai") for r in records) and any(r.startswith("sqlalchemy") for r in records)
    assert any("failed" in r for r in records if r.startswith("reviewer"))
    csv = (tmp_path / "out" / "results.csv").read_text()
    errors = [line for line in csv.splitlines() if ",failed," in line]
    assert len(errors) == 5, csv  # notes 2, 3, 4, too-long and binary, each with its reason
    assert leaks(records) == []
    assert leaks([result.output, *errors]) == []


def test_the_app_logs_no_note_text_and_no_password(tmp_path, debug_logging):
    users = f"alice:{hash_password(PASSWORD)}"
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["settings"] = Settings(database_url=f"sqlite:///{tmp_path / 'app.db'}", users=users)
    at.session_state["backend"] = Dev0001Model()
    at.run()
    at.text_input[0].input("alice")
    at.text_input[1].input(PASSWORD + "-wrong")
    at.button[0].click().run()
    assert any("wrong password" in e.value for e in at.error)
    at.text_input[0].input(PASSWORD)  # a password typed into the user-name field
    at.text_input[1].input(PASSWORD)
    at.button[0].click().run()
    at.text_input[0].input("alice")
    at.text_input[1].input(PASSWORD)
    at.button[0].click().run()
    assert not at.exception
    at.radio[0].set_value("Paste text").run()
    at.text_area[0].input(NOTE.format(day=3, number=1)).run()
    at = button(at, "Review").click().run()
    assert not at.exception and not at.error
    assert any("Zebulon" in element.value for element in at.html)  # the note is on the page...
    records = logged(debug_logging)
    assert any(r.startswith("streamlit") for r in records)
    assert any(r.startswith("reviewer") and "sign-in" in r for r in records)  # failed sign-ins are logged...
    assert leaks(records) == []  # ...but no log line has the note or a password
    messages = [e.value for e in [*at.error, *at.warning, *at.info]]
    assert not [m for m in messages if re.search("|".join(PHI), m)]


def test_the_result_store_logs_no_note_text_even_at_sql_debug(tmp_path, debug_logging):
    """SQLAlchemy at DEBUG writes statements, their parameters and every row fetched: the stored
    report holds the note, so neither parameters nor rows may reach the log."""
    from test_queue import make_report

    from reviewer.store import ResultStore, report_key

    store = ResultStore(f"sqlite:///{tmp_path / 'r.db'}")
    try:
        secret = " ".join(PHI)
        report = make_report("n1").model_copy(update={"note_text": f"{secret}\n" * 3, "error": None})
        store.put(report)
        assert store.get(report_key(report)).note_text.startswith(secret)
        store.reports([report_key(report)])
    finally:
        store.close()
    records = logged(debug_logging)
    assert any("SELECT" in r for r in records if r.startswith("sqlalchemy"))  # SQL logging was on
    assert leaks(records) == []
