"""`reviewer review` end to end on the replay backend: the embedded model's recorded answers."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from conftest import CORPUS
from typer.testing import CliRunner

from reviewer.cli import app

NOTE = CORPUS / "dev" / "notes" / "dev-0001.txt"


pytestmark = pytest.mark.usefixtures("fresh_settings")


def run(*args: str):
    return CliRunner().invoke(app, list(args))


def test_json_report_has_every_evidence_span_at_its_offsets():
    result = run("review", str(NOTE), "--json", "--backend", "replay", "--state", "TX")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout.splitlines()[0])
    text = NOTE.read_text(encoding="utf-8")
    assert report["note_id"] == "dev-0001" and report["status"] == "ok"
    assert {"flags", "findings", "extraction", "model", "timing", "score", "locality"} <= report.keys()
    assert report["model"]["backend"] == "replay" and report["model"]["prompt_version"]
    assert report["locality"]["contractor"] == "Novitas Solutions"
    spans = []
    ext = report["extraction"]
    for block in ext["blocks"]:
        spans.append(block["evidence"])
    spans += ext["skilled_justification"] + ext["patient_response"] + [g["evidence"] for g in ext["goals"]]
    verified = [s for s in spans if s and s["start"] is not None]
    assert verified and all(text[s["start"] : s["end"]] == s["text"] for s in verified)


def test_readable_report_names_the_score_and_the_contractor():
    result = run("review", str(NOTE), "--backend", "replay", "--state", "TX")
    assert result.exit_code == 0, result.output
    assert "Audit score" in result.stdout and "Novitas Solutions" in result.stdout


def test_bad_inputs_get_one_line_errors_and_exit_2(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    binary = tmp_path / "scan.txt"
    binary.write_bytes(bytes(range(256)) * 8)
    for path, message in [(empty, "empty"), (binary, "binary"), (tmp_path / "nope.txt", "no such file")]:
        result = run("review", str(path), "--backend", "replay")
        assert result.exit_code == 2
        assert message in result.output and "Traceback" not in result.output


def test_a_note_the_model_cannot_read_is_reported_failed_not_clean(tmp_path):
    note = tmp_path / "unseen.txt"
    note.write_text("DAILY NOTE\nTherapeutic activities 97530 x 25 min: transfers\nSigned: A. Lee, PT\n")
    result = run("review", str(note), "--json", "--backend", "replay")
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["status"] == "failed" and "no recording" in report["error"]
    assert report["flags"] == [] and report["findings"] == [] and report["score"] is None


def test_unknown_payer_is_refused():
    result = run("review", str(NOTE), "--backend", "replay", "--payer", "medicaid")
    assert result.exit_code == 2 and "--payer" in result.output


@pytest.mark.parametrize(
    "command",
    [
        ["review", "--backend", "replay"],
        ["batch", "--backend", "replay", "--out", "OUT"],
        ["eval", "--backend", "replay"],
    ],
)
def test_error_lines_are_never_wrapped_whatever_the_terminal_width(tmp_path, command):
    missing = tmp_path / ("a-long-folder-name-" * 6) / "no-such-note.txt"
    args = [str(missing) if part == "OUT" else part for part in command]
    args.insert(1, str(missing))
    env = {**os.environ, "COLUMNS": "20", "LINES": "10", "TERM": "xterm"}
    result = subprocess.run(
        [sys.executable, "-m", "reviewer", *args], capture_output=True, text=True, env=env, timeout=120
    )
    assert result.returncode == 2, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(errors) == 1 and errors[0].startswith("error:") and str(missing) in errors[0], result.stderr
