"""The dashboard's episode view in headless Chromium: an admin signs in, opens the dashboard on a store
holding the test episodes (one `reviewer batch` over evals/corpora/episodes), picks the episode with
copied notes and sees its timeline; the screenshot is test-artifacts/ui-episodes.png."""

from __future__ import annotations

import pytest
from test_browser import CHROMIUM, CHROMIUM_ARGS, REPO, serving, streamlit_command
from test_browser import pytestmark as browser_marks
from test_episode_dashboard import _identifiers
from test_episodes_corpus import BATCH_ARGS, run_episode_batch

from reviewer.episode_store import load_episodes
from reviewer.episode_view import episode_label
from reviewer.store import ResultStore
from reviewer.triage import hash_password

pytestmark = browser_marks
SCREENSHOT = REPO / "test-artifacts" / "ui-episodes.png"


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """The app on a free port, its database the batch's store, with one admin account."""
    tmp_path = tmp_path_factory.mktemp("served-episodes")
    (result,) = run_episode_batch(tmp_path, [*BATCH_ARGS, "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    store_url = f"sqlite:///{tmp_path / 'results.db'}"
    store = ResultStore(store_url)
    episodes = load_episodes(store.engine)
    store.close()
    env = {
        "REVIEWER_DATABASE_URL": store_url,
        "REVIEWER_USERS": f"carol:{hash_password('carol-password')}:admin",
        "REVIEWER_BACKEND": "replay",
    }
    with serving(streamlit_command, env, tmp_path) as url:
        yield url, episodes


def test_an_admin_sees_an_episode_timeline_on_the_dashboard(served):
    from playwright.sync_api import expect, sync_playwright

    url, episodes = served
    copied = next(e for e in episodes if e.visits[0].note_id.startswith("ep05-"))
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1600, "height": 1600})
        try:
            page.goto(url)
            expect(page.get_by_role("heading", name="Sign in")).to_be_visible(timeout=60_000)
            page.get_by_role("textbox", name="User name").fill("carol")
            page.get_by_role("textbox", name="Password").fill("carol-password")
            page.get_by_role("button", name="Sign in").click()
            page.get_by_role("link", name="Batch dashboard").click(timeout=60_000)
            expect(page.get_by_role("heading", name="Batch dashboard")).to_be_visible(timeout=60_000)

            heading = page.get_by_role("heading", name="Episodes")
            expect(heading).to_be_visible(timeout=60_000)
            chooser = page.get_by_role("combobox", name="Episode", exact=True)
            chooser.scroll_into_view_if_needed()
            chooser.click()
            page.get_by_role("option", name=episode_label(copied)).click()
            expect(chooser).to_have_value(episode_label(copied))

            timeline = page.locator(".js-plotly-plot").filter(has_text="Units billed per visit")
            expect(timeline).to_be_visible(timeout=30_000)
            points = timeline.locator(".scatterlayer .point")
            expect(points).to_have_count(len(copied.visits))
            heading.scroll_into_view_if_needed()
            page.mouse.move(0, 0)
            page.wait_for_timeout(500)
            SCREENSHOT.parent.mkdir(exist_ok=True)
            page.screenshot(path=str(SCREENSHOT))

            page.get_by_role("button", name="Draft authorization request").click()
            expect(page.get_by_text("[patient name]", exact=False).first).to_be_visible(timeout=30_000)
            shown = page.locator("body").inner_text()
            assert not [identifier for identifier in _identifiers() if identifier in shown], "the page names a patient"
        finally:
            browser.close()
    assert SCREENSHOT.stat().st_size > 10_000
