"""The one narrow interface to a language model: `complete(messages, schema)`."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel, Field

ANSWER = "answer"


class Completion(BaseModel):
    """The model's raw text and what it cost. `confidence` is the probability of the answer among
    the allowed choices, where the backend can tell (None elsewhere)."""

    text: str
    prompt_tokens: int | None = None
    cached_tokens: int | None = None
    completion_tokens: int | None = None
    prompt_s: float | None = None
    output_s: float | None = None
    confidence: float | None = None
    first_token: dict[str, float] | None = Field(
        default=None,
        description="each choice's share of the first answer token's probability (choices sharing it share it)",
    )


class ModelError(Exception):
    """The model could not be asked or did not answer (timeout, server error, missing weights)."""


@runtime_checkable
class ModelBackend(Protocol):
    """Anything that turns chat messages into JSON text that should validate against `schema`."""

    name: str
    model_id: str

    def complete(self, messages: list[dict[str, str]], schema: dict[str, Any]) -> Completion: ...


def choice_schema(choices: list[str]) -> dict[str, Any]:
    """The schema of a constrained choice: `{"answer": one of choices}`."""
    return {
        "type": "object",
        "properties": {ANSWER: {"type": "string", "enum": list(choices)}},
        "required": [ANSWER],
        "additionalProperties": False,
    }


def choices_of(schema: dict[str, Any]) -> list[str] | None:
    """The choices of a `choice_schema`, None for any other schema."""
    properties = schema.get("properties") or {}
    if set(properties) != {ANSWER}:
        return None
    enum = properties[ANSWER].get("enum")
    return [str(choice) for choice in enum] if enum else None


@dataclass
class RetryCount:
    """Model calls retried (after a 429 or 5xx) while it was being counted."""

    value: int = 0


_RETRIES: ContextVar[RetryCount | None] = ContextVar("reviewer_retries", default=None)


@contextmanager
def counting_retries() -> Iterator[RetryCount]:
    """Count the retries of the model calls made inside the block (on this thread: one note's review)."""
    count = RetryCount()
    token = _RETRIES.set(count)
    try:
        yield count
    finally:
        _RETRIES.reset(token)


def record_retry() -> None:
    """A backend calls this before each retry of a call."""
    count = _RETRIES.get()
    if count is not None:
        count.value += 1
