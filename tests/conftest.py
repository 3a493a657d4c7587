import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"


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


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if STRICT and report.skipped and isinstance(report.longrepr, tuple):
        reason = str(report.longrepr[-1])
        if any(marker in reason for marker in INFRASTRUCTURE):
            report.outcome = "failed"
            report.longrepr = f"skipped in a strict run (REVIEWER_STRICT_TESTS=1): {reason}"
