"""Real public therapy documents (MTSamples evaluations, progress notes, a discharge summary).

They are third-party text, so they stay outside the repository (`../shared/corpus/real-mtsamples`,
or REVIEWER_REAL_TEXTS_DIR); these tests skip where the folder is absent and fail instead in CI.
None of them writes a CPT code or a billing line, so nothing may be billed in their reviews,
whatever the model answers.
"""

from __future__ import annotations

import json

import pytest
from conftest import REAL_TEXTS, REAL_TEXTS_MISSING
from fakes import is_first_question

from reviewer.backends import get_backend
from reviewer.backends.base import Completion
from reviewer.review import review_text
from reviewer.settings import Settings

# Findings about what was billed: none can stand on a document that bills nothing.
BILLING_FLAGS = {
    "units_exceed_minutes",
    "units_below_minutes",
    "timed_minutes_missing",
    "minutes_total_mismatch",
    "modifier_59_unsupported",
    "ncci_pair_missing_modifier",
    "missing_discipline_modifier",
    "assistant_modifier_missing",
    "group_billed_as_individual",
    "passive_treatment_billed",
    "no_functional_activity",
}


def real_texts() -> list[tuple[str, str]]:
    if not REAL_TEXTS.is_dir():
        pytest.skip(f"{REAL_TEXTS_MISSING} at {REAL_TEXTS}")
    texts = [(path.stem, path.read_text(encoding="utf-8")) for path in sorted(REAL_TEXTS.glob("*.txt"))]
    assert texts, f"no .txt files in {REAL_TEXTS}"
    return texts


class ClaimsEverything:
    """A model that reads the document as a daily note and then answers yes, or a number, to
    every question: the worst case for invented billing facts."""

    name = "fake"
    model_id = "claims-everything"

    def complete(self, messages, schema):
        choices = schema["properties"]["answer"]["enum"]
        if is_first_question(schema):
            answer = "no"  # "is this something other than a daily note?" no
        elif "yes" in choices:
            answer = "yes"
        else:
            answer = next((c for c in choices if c != "none"), choices[0])
        return Completion(text=json.dumps({"answer": answer}), confidence=0.99, first_token={answer: 0.99})


def assert_nothing_billed(report) -> None:
    assert report.status == "ok", report.error
    assert report.extraction is not None
    assert report.extraction.billing == [], "a billing line the document does not contain"
    assert report.units == [], "units for a code nobody billed"
    assert not set(report.flags) & BILLING_FLAGS


def test_the_recorded_model_bills_nothing_on_real_documents(monkeypatch):
    monkeypatch.delenv("REVIEWER_BACKEND", raising=False)
    settings = Settings(backend="replay")
    backend = get_backend(settings)
    for note_id, text in real_texts():
        report = review_text(text, note_id=note_id, backend=backend, settings=settings)
        assert_nothing_billed(report)
        assert "not_a_treatment_note" in report.flags, f"{note_id} is not a daily note that bills therapy"


def test_no_model_answer_can_invent_billing_on_real_documents():
    settings = Settings(backend="replay")
    for note_id, text in real_texts():
        assert_nothing_billed(review_text(text, note_id=note_id, backend=ClaimsEverything(), settings=settings))
