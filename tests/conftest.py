import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

REPO = Path(__file__).resolve().parents[1]
# The labelled corpora are the project's own (evals/corpora); REVIEWER_CORPORA_DIR points elsewhere.
CORPUS = Path(os.environ.get("REVIEWER_CORPORA_DIR") or REPO / "evals" / "corpora")
RESULTS = REPO / "evals" / "results"
# Third-party public texts stay outside the repository: tests that read them skip where the folder is
# absent, and fail instead in CI (REVIEWER_REQUIRE_REAL_TEXTS=1).
REAL_TEXTS = Path(os.environ.get("REVIEWER_REAL_TEXTS_DIR") or REPO.parent / "shared" / "corpus" / "real-mtsamples")
# The replay recordings are a setting: the tests point it at the project's recordings.
os.environ.setdefault("REVIEWER_RECORDINGS_DIR", str(REPO / "tests" / "recordings"))


@pytest.fixture
def fresh_settings(monkeypatch):
    """Process-wide settings read anew from a clean environment (for tests of the CLI)."""
    from reviewer.settings import get_settings

    monkeypatch.delenv("REVIEWER_BACKEND", raising=False)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def dev_note():
    path = CORPUS / "dev" / "notes" / "dev-0001.txt"
    if not path.exists():
        pytest.skip(f"corpus not found at {CORPUS}")
    return path.read_text(encoding="utf-8")


# scripts/test.sh installs everything, so there a test skipped for missing infrastructure (the
# embedded model, PostgreSQL, Chromium, the corpus) is a broken install step, not a pass.
STRICT = os.environ.get("REVIEWER_STRICT_TESTS") == "1"
INFRASTRUCTURE = ("llama-cpp-python", "REVIEWER_TEST_POSTGRES_URL", "chromium", "corpus not found")
REAL_TEXTS_MISSING = "real public texts not found"
if os.environ.get("REVIEWER_REQUIRE_REAL_TEXTS") == "1":
    INFRASTRUCTURE += (REAL_TEXTS_MISSING,)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if STRICT and report.skipped and isinstance(report.longrepr, tuple):
        reason = str(report.longrepr[-1])
        if any(marker in reason for marker in INFRASTRUCTURE):
            report.outcome = "failed"
            report.longrepr = f"skipped in a strict run (REVIEWER_STRICT_TESTS=1): {reason}"
