import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"


@pytest.fixture
def dev_note():
    path = CORPUS / "dev" / "notes" / "dev-0001.txt"
    if not path.exists():
        pytest.skip(f"corpus not found at {CORPUS}")
    return path.read_text(encoding="utf-8")
