"""The default path, for real: the embedded Qwen2.5-Coder model reviews dev-corpus notes.

Slow (tens of seconds a note on 2 cores), so only a few notes; CI runs it on every submission.
"""

import json

import pytest
from conftest import CORPUS as CORPORA

from reviewer.backends import get_backend
from reviewer.review import review_text
from reviewer.settings import Settings

pytestmark = pytest.mark.embedded

CORPUS = CORPORA / "dev"


@pytest.fixture(scope="module")
def embedded():
    pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed (pip install -e '.[embedded]')")
    settings = Settings(backend="embedded")
    return settings, get_backend(settings)


def _labels():
    return {
        json.loads(line)["id"]: json.loads(line)
        for line in (CORPUS / "labels.jsonl").read_text().splitlines()
        if line.strip()
    }


@pytest.mark.parametrize("note_id", ["dev-0001", "dev-0005"])
def test_embedded_model_reviews_a_dev_note_with_grounded_evidence(embedded, note_id):
    settings, backend = embedded
    label = _labels()[note_id]
    text = (CORPUS / "notes" / f"{note_id}.txt").read_text(encoding="utf-8")
    report = review_text(
        text, note_id=note_id, payer=label["payer"], state=label["state"], backend=backend, settings=settings
    )
    assert report.status == "ok", report.error
    assert report.model.backend == "embedded" and report.model.prompt_version
    spans = report.extraction.all_evidence()
    assert spans and all(text[e.start : e.end] == e.text for e in spans if e.start is not None)
    gold_minutes = label["gold"]["timed_minutes"]
    assert report.extraction.minutes_by_code().get("97530") == gold_minutes["97530"]
    assert report.extraction.billed_units() == label["gold"]["billed_units"]


def test_a_model_timeout_is_reported_as_a_failed_note(embedded):
    settings, _ = embedded
    text = (CORPUS / "notes" / "dev-0002.txt").read_text(encoding="utf-8")
    impatient = settings.model_copy(update={"model_timeout_s": 0.5})
    report = review_text(text, note_id="dev-0002", backend=get_backend(impatient), settings=impatient)
    assert report.status == "failed" and "timed out" in report.error
    assert report.flags == [] and report.score is None
