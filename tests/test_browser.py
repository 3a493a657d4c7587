"""The real app in headless Chromium: upload dev-0001, see findings and highlighted evidence.

The app runs as `streamlit run` in a subprocess on the replay backend, with a recording of the
fake model's answer for dev-0001 made by the test itself (REVIEWER_BACKEND=replay).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from test_ui_apptest import Dev0001Model

from reviewer.backends.replay import RecordingBackend
from reviewer.review import review_text
from reviewer.settings import Settings

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} is absent (apt-get install chromium)"),
]
REPO = Path(__file__).resolve().parents[1]
SCREENSHOT = REPO / "test-artifacts" / "ui-review.png"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_until_healthy(url: str, server: subprocess.Popen, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"streamlit exited with {server.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as answer:
                if answer.read() == b"ok":
                    return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"streamlit did not answer at {url} within {timeout_s:.0f} s")


def streamlit_command(port: int) -> list[str]:
    """The app as `streamlit run` serves it, headless, on `port`."""
    return [
        sys.executable, "-m", "streamlit", "run", str(REPO / "ui" / "app.py"),
        "--server.port", str(port), "--server.address", "127.0.0.1", "--server.headless", "true",
        "--browser.gatherUsageStats", "false",
    ]  # fmt: skip


@contextmanager
def serving(command: Callable[[int], list[str]], env: dict[str, str], cwd: Path) -> Iterator[str]:
    """The app started by `command(port)` on a free port with `env` added, its URL once it answers;
    stopped on leaving."""
    port = _free_port()
    server = subprocess.Popen(
        command(port), env={**os.environ, **env}, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_healthy(url, server)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.fixture
def app_url(tmp_path, dev_note):
    recordings = tmp_path / "recordings"
    recorded = review_text(
        dev_note, note_id="dev-0001", backend=RecordingBackend(Dev0001Model(), recordings), settings=Settings()
    )
    assert recorded.status == "ok", recorded.error
    env = {
        "REVIEWER_DATABASE_URL": f"sqlite:///{tmp_path / 'app.db'}",
        "REVIEWER_USERS": "",
        "REVIEWER_BACKEND": "replay",
        "REVIEWER_RECORDINGS_DIR": str(recordings),
        "REVIEWER_REPLAY_MODEL": Dev0001Model.model_id,
        "REVIEWER_STATE": "TX",
    }
    with serving(streamlit_command, env, tmp_path) as url:
        yield url, recorded


def test_uploading_dev_0001_shows_findings_and_highlights(app_url, dev_note, tmp_path):
    url, expected = app_url
    from playwright.sync_api import expect, sync_playwright

    note = tmp_path / "dev-0001.txt"
    note.write_text(dev_note, encoding="utf-8")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1600, "height": 2400})
        try:
            page.goto(url)
            expect(page.get_by_role("heading", name="Review a note")).to_be_visible(timeout=60_000)
            page.locator("input[type=file]").set_input_files(str(note))
            expect(page.get_by_text("dev-0001.txt")).to_be_visible(timeout=30_000)
            page.get_by_role("button", name="Review", exact=True).click()

            marks = page.locator(".note-text mark")
            expect(marks.first).to_be_visible(timeout=90_000)
            assert marks.count() >= 8
            supports = set(" ".join(marks.evaluate_all("ms => ms.map(m => m.dataset.supports)")).split())
            assert {"goal", "activity", "minutes", "billing"} <= supports
            expect(page.get_by_role("tab", name=f"Findings ({len(expected.findings)})")).to_be_visible()
            for number, finding in enumerate(expected.findings, start=1):
                expect(page.locator(f'[data-finding="{number}"]')).to_contain_text(finding.rule)
            if expected.findings:
                page.locator('[data-finding="1"]').hover()  # pointing at a finding dims the other spans...
                expect(marks.first).to_have_css("opacity", "0.35")
            cited = [n for n, f in enumerate(expected.findings, start=1) if any(e.verified for e in f.evidence)]
            for number in cited:  # ...and outlines the finding's own evidence
                page.locator(f'[data-finding="{number}"]').hover()
                expect(page.locator(f'.note-text mark[data-findings~="{number}"]').first).to_have_css(
                    "outline-style", "solid"
                )
            page.mouse.move(0, 0)
            SCREENSHOT.parent.mkdir(exist_ok=True)
            page.screenshot(path=str(SCREENSHOT), full_page=True)
        finally:
            browser.close()
    assert SCREENSHOT.stat().st_size > 10_000
