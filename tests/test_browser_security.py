"""The app as `reviewer ui` serves it, in headless Chromium: a note's HTML and scripts show as text,
and the upload limit is enforced by the server, not only by the page.

The server runs the replay backend on a recording of the fake model's answers made by the test.
"""

from __future__ import annotations

import sys

import pytest
from test_browser import CHROMIUM, CHROMIUM_ARGS, serving
from test_browser import pytestmark as browser_marks
from test_ui_apptest import Dev0001Model

from reviewer.backends.replay import RecordingBackend
from reviewer.review import review_text
from reviewer.settings import Settings

pytestmark = browser_marks
MAX_INPUT_BYTES = 1_000_000  # `reviewer ui` turns it into --server.maxUploadSize 1 (MB)

HTML_NOTE = """Riverside Physical Therapy
PT Daily Note    DOS 04/03/2025
Pt: <b id="injected-bold">Patient 7</b> <script>window.__xss = 1</script>  Ins: Medicare
Time in 10:00 / Time out 10:40 <img src=x onerror="window.__xss = 2">

TherAct 25' - <a href="javascript:window.__xss = 3">sit to stand</a> x10 w/ VC for trunk lean, car transfer sim x4
TherEx 15' - bridges 2x15 </div></pre><style>body{display:none}</style>

A: tol well, transfers now SBA, needs cues for hip precautions
STG: pt will perform car transfer independently in 4 wks
Timed 40 min | Total 40 min
97530-GP x2
97110-GP x1

R. Patel, PT, DPT   04/03/25
"""


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """`reviewer ui` (the real command, so the real server options) on a free port."""
    tmp_path = tmp_path_factory.mktemp("served")
    recordings = tmp_path / "recordings"
    recorded = review_text(
        HTML_NOTE, note_id="pasted-note", backend=RecordingBackend(Dev0001Model(), recordings), settings=Settings()
    )
    assert recorded.status == "ok", recorded.error
    env = {
        "REVIEWER_USERS": "",
        "REVIEWER_BACKEND": "replay",
        "REVIEWER_RECORDINGS_DIR": str(recordings),
        "REVIEWER_REPLAY_MODEL": Dev0001Model.model_id,
        "REVIEWER_MAX_INPUT_BYTES": str(MAX_INPUT_BYTES),
    }

    def reviewer_ui(port: int) -> list[str]:
        return [sys.executable, "-m", "reviewer", "ui", "--port", str(port), "--db", f"sqlite:///{tmp_path / 'app.db'}"]

    with serving(reviewer_ui, env, tmp_path) as url:
        yield url, tmp_path


@pytest.fixture
def page(served):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser.new_page(viewport={"width": 1600, "height": 2000})
        finally:
            browser.close()


def test_a_note_with_html_and_scripts_shows_as_text(served, page):
    from playwright.sync_api import expect

    url, _ = served
    page.goto(url)
    expect(page.get_by_role("heading", name="Review a note")).to_be_visible(timeout=60_000)
    page.get_by_text("Paste text").click()
    page.get_by_label("Note text").fill(HTML_NOTE)
    page.get_by_label("Note text").press("Control+Enter")  # Streamlit takes a text area's value on Ctrl+Enter
    page.wait_for_timeout(1000)
    page.get_by_role("button", name="Review", exact=True).click()
    note = page.locator(".note-text")
    expect(note.locator("mark").first).to_be_visible(timeout=90_000)  # the review is shown, highlighted

    shown = note.inner_text()
    for markup in ['<script>window.__xss = 1</script>', '<img src=x onerror="window.__xss = 2">',
                   '<a href="javascript:window.__xss = 3">', "<style>body{display:none}</style>"]:  # fmt: skip
        assert markup in shown, f"{markup!r} is not shown as text"
    assert page.evaluate("typeof window.__xss") == "undefined"  # no script of the note ran
    for injected in ("#injected-bold", "img[src=x]", "a[href^='javascript']"):
        assert page.locator(injected).count() == 0, f"the note's {injected} became an element"
    for frame in page.frames:  # st.html may render in frames: none of them holds the note's elements
        assert frame.locator("script:text('__xss')").count() == 0
    injected_styles = (
        "[...document.querySelectorAll('style')].filter(s => s.textContent.includes('body{display:none}'))"
    )
    assert page.evaluate(f"{injected_styles}.length") == 0  # the note's <style> is not a style sheet
    assert page.evaluate("getComputedStyle(document.body).display") != "none"


def test_the_server_refuses_an_upload_over_the_limit(served, page):
    """The limit holds against a client that skips the page's own check: a request straight to the
    upload endpoint, with the session and XSRF token of a real upload, is refused by size."""
    from playwright.sync_api import expect

    url, tmp_path = served
    page.goto(url)
    expect(page.get_by_role("heading", name="Review a note")).to_be_visible(timeout=60_000)
    expect(page.get_by_text("1MB per file")).to_be_visible()  # the server's limit, as the page shows it
    small = tmp_path / "small-note.txt"
    small.write_text(HTML_NOTE, encoding="utf-8")
    with page.expect_request(lambda r: "/_stcore/upload_file/" in r.url and r.method == "PUT") as captured:
        page.locator("input[type=file]").set_input_files(str(small))
    upload = captured.value
    headers = {k: v for k, v in upload.headers.items() if k.lower() == "x-xsrftoken"}

    def put(size: int) -> int:
        body = {"file": {"name": "note.txt", "mimeType": "text/plain", "buffer": b"a" * size}}
        return page.request.put(upload.url, multipart=body, headers=headers).status

    assert put(10_000) in (200, 204)  # the same request, small: accepted
    assert put(2 * MAX_INPUT_BYTES) == 413  # over --server.maxUploadSize: refused by the server
