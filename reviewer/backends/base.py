"""The one narrow interface to a language model: `complete(messages, schema)`."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel


class Completion(BaseModel):
    """The model's raw text and what it cost."""

    text: str
    prompt_tokens: int | None = None
    completion_tokens: int | None = None


class ModelError(Exception):
    """The model could not be asked or did not answer (timeout, server error, missing weights)."""


@runtime_checkable
class ModelBackend(Protocol):
    """Anything that turns chat messages into JSON text that should validate against `schema`
    (a JSON schema; the extractor builds one per note)."""

    name: str
    model_id: str

    def complete(self, messages: list[dict[str, str]], schema: dict[str, Any]) -> Completion: ...
