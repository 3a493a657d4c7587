"""`reviewer bench`: per-note cost rows and the summary line, on replayed answers."""

from __future__ import annotations

import json

import pytest
from conftest import CORPUS
from typer.testing import CliRunner

from reviewer.cli import app

pytestmark = pytest.mark.usefixtures("fresh_settings")


def test_bench_prints_a_row_per_note_and_the_medians(tmp_path):
    if not (CORPUS / "dev").exists():
        pytest.skip(f"corpus not found at {CORPUS}")
    out = tmp_path / "bench.json"
    result = CliRunner().invoke(
        app, ["bench", str(CORPUS / "dev"), "--limit", "2", "--backend", "replay", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split()[:4] == ["note", "note_tok", "cached", "new"]
    assert [line.split()[0] for line in lines[1:3]] == ["dev-0001", "dev-0002"]
    assert lines[-1].startswith("summary: 2 notes, median")
    data = json.loads(out.read_text())
    assert data["summary"]["notes"] == 2 and all(row["status"] == "ok" for row in data["rows"])
    assert all(
        row["prompt_tokens"] and row["questions"] for row in data["rows"]
    )  # replayed costs are the recorded ones


def test_bench_refuses_a_folder_without_notes(tmp_path):
    result = CliRunner().invoke(app, ["bench", str(tmp_path), "--backend", "replay"])
    assert result.exit_code == 2 and "no .txt notes" in result.output
