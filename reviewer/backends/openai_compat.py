"""Any OpenAI-compatible endpoint (OpenAI, Azure, vLLM, Ollama, llama.cpp) through langchain-openai.

Servers differ in how they take a JSON schema: OpenAI, vLLM and llama.cpp's `llama-server`
accept `response_format={"type": "json_schema", ...}`; llama-cpp-python's own server rejects it
and takes `{"type": "json_object", "schema": ...}`. With `openai_response_format="auto"` the
first is tried and the second used after a rejection.

Back-pressure: at most `openai_max_concurrency` requests of one process are in flight to one
endpoint (a llama.cpp server's parallel slots, a vLLM's batch, an API's rate limit), and a call
answered 429 or 5xx is tried again with jittered exponential backoff (tenacity), each retry
counted (`counting_retries`) for the batch summary.
"""

from __future__ import annotations

import logging
import threading
from contextlib import AbstractContextManager, nullcontext
from typing import Literal

from pydantic import SecretStr
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt, wait_exponential, wait_random

from reviewer.backends.base import Completion, ModelError, record_retry
from reviewer.settings import Settings

log = logging.getLogger(__name__)

_Format = Literal["json_schema", "json_object"]  # the response formats a request can take
DEFAULT_ENDPOINT = "https://api.openai.com/v1"

_SLOTS: dict[tuple[str, int], threading.BoundedSemaphore] = {}  # one per endpoint and limit, shared by the process
_SLOTS_LOCK = threading.Lock()


def endpoint_slots(url: str, limit: int | None) -> AbstractContextManager:
    """What a request to `url` holds while in flight: one of `limit` slots shared by every backend
    of this process that talks to `url` (nothing to hold when there is no limit)."""
    if limit is None:
        return nullcontext()
    with _SLOTS_LOCK:
        return _SLOTS.setdefault((url.rstrip("/"), limit), threading.BoundedSemaphore(limit))


def is_retryable(exc: BaseException) -> bool:
    """A 429 (rate limit, busy slots), a 5xx or a dropped connection: the endpoint may answer the
    same request later. A timeout is not retried (the model timeout bounds the whole call)."""
    import openai

    if isinstance(exc, openai.APIConnectionError) and not isinstance(exc, openai.APITimeoutError):
        return True
    return isinstance(exc, openai.APIStatusError) and (exc.status_code == 429 or exc.status_code >= 500)


class OpenAIBackend:
    name = "openai"

    def __init__(self, settings: Settings):
        if not settings.openai_base_url and settings.openai_api_key == "not-needed":
            raise ModelError(
                "the openai backend needs REVIEWER_OPENAI_BASE_URL (and REVIEWER_OPENAI_API_KEY for hosted APIs)"
            )
        from langchain_openai import ChatOpenAI

        self.settings = settings
        self.model_id = settings.openai_model
        self.retries = 0  # calls retried after a 429/5xx, over this backend's life
        self._retries_lock = threading.Lock()
        self._mode = settings.openai_response_format
        self._slots = endpoint_slots(settings.openai_base_url or DEFAULT_ENDPOINT, settings.openai_max_concurrency)
        self._chat = ChatOpenAI(
            model=settings.openai_model,
            base_url=settings.openai_base_url,
            api_key=SecretStr(settings.openai_api_key),
            temperature=0,
            timeout=settings.model_timeout_s,
            max_retries=0,  # retries are ours (tenacity), so they are counted and share the endpoint's slots
            max_completion_tokens=settings.max_output_tokens,  # the alias of its `max_tokens` field
        )

    def complete(self, messages: list[dict[str, str]], schema: dict) -> Completion:
        import openai

        modes: list[_Format] = ["json_schema", "json_object"] if self._mode == "auto" else [self._mode]
        last_error: Exception | None = None
        for mode in modes:
            try:
                message = self._invoke(messages, mode, schema)
            except openai.BadRequestError as exc:  # the server does not take this response_format
                last_error = exc
                continue
            except openai.APITimeoutError:
                raise ModelError(f"endpoint timed out after {self.settings.model_timeout_s:g} s") from None
            except openai.APIError as exc:
                raise ModelError(f"endpoint error: {_describe(exc)}") from None
            except ValueError as exc:  # a 200 whose body is not a chat completion (undecodable, not JSON)
                raise ModelError(
                    f"endpoint answered with something other than a chat completion ({_describe(exc)})"
                ) from None
            self._mode = mode  # remember what this server accepts
            usage = message.usage_metadata
            return Completion(
                text=message.content if isinstance(message.content, str) else str(message.content),
                prompt_tokens=usage.get("input_tokens") if usage else None,
                completion_tokens=usage.get("output_tokens") if usage else None,
            )
        raise ModelError(f"endpoint rejected the structured-output request: {_describe(last_error)}")

    def _invoke(self, messages: list[dict[str, str]], mode: str, schema: dict):
        """One call, tried again after a 429/5xx; a slot of the endpoint is held per try, not
        while backing off."""
        chat = self._chat.bind(response_format=_response_format(mode, schema))
        initial = self.settings.openai_retry_initial_s

        def attempt():
            with self._slots:
                return chat.invoke(messages)

        retrying = Retrying(
            retry=retry_if_exception(is_retryable),
            stop=stop_after_attempt(self.settings.openai_max_attempts),
            wait=wait_exponential(multiplier=initial, max=self.settings.openai_retry_max_s) + wait_random(0, initial),
            before_sleep=self._count_retry,
            reraise=True,
        )
        return retrying(attempt)

    def _count_retry(self, state: RetryCallState) -> None:
        with self._retries_lock:
            self.retries += 1
        record_retry()
        status = getattr(state.outcome.exception(), "status_code", "?") if state.outcome else "?"
        wait = state.next_action.sleep if state.next_action else 0.0
        log.warning("endpoint answered %s; try %d in %.1f s", status, state.attempt_number + 1, wait)


def _describe(exc: Exception | None) -> str:
    """The kind of error and its HTTP status, never its message: servers may quote the request (the note)."""
    status = getattr(exc, "status_code", None) or getattr(getattr(exc, "response", None), "status_code", None)
    return type(exc).__name__ + (f" (HTTP {status})" if status else "")


def _response_format(mode: str, schema: dict) -> dict:
    if mode == "json_schema":
        return {"type": "json_schema", "json_schema": {"name": schema.get("title", "output"), "schema": schema}}
    return {"type": "json_object", "schema": schema}
