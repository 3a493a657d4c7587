"""Any OpenAI-compatible endpoint (OpenAI, Azure, vLLM, Ollama, llama.cpp) through langchain-openai.

Servers differ in how they take a JSON schema: OpenAI, vLLM and llama.cpp's `llama-server`
accept `response_format={"type": "json_schema", ...}`; llama-cpp-python's own server rejects it
and takes `{"type": "json_object", "schema": ...}`. With `openai_response_format="auto"` the
first is tried and the second used after a rejection.
"""

from __future__ import annotations

from typing import Literal

from pydantic import SecretStr

from reviewer.backends.base import Completion, ModelError
from reviewer.settings import Settings

_Format = Literal["json_schema", "json_object"]  # the response formats a request can take


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
        self._mode = settings.openai_response_format
        self._chat = ChatOpenAI(
            model=settings.openai_model,
            base_url=settings.openai_base_url,
            api_key=SecretStr(settings.openai_api_key),
            temperature=0,
            timeout=settings.model_timeout_s,
            max_retries=1,
            max_completion_tokens=settings.max_output_tokens,  # the alias of its `max_tokens` field
        )

    def complete(self, messages: list[dict[str, str]], schema: dict) -> Completion:
        import openai

        modes: list[_Format] = ["json_schema", "json_object"] if self._mode == "auto" else [self._mode]
        last_error: Exception | None = None
        for mode in modes:
            try:
                message = self._chat.bind(response_format=_response_format(mode, schema)).invoke(messages)
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


def _describe(exc: Exception | None) -> str:
    """The kind of error and its HTTP status, never its message: servers may quote the request (the note)."""
    status = getattr(exc, "status_code", None) or getattr(getattr(exc, "response", None), "status_code", None)
    return type(exc).__name__ + (f" (HTTP {status})" if status else "")


def _response_format(mode: str, schema: dict) -> dict:
    if mode == "json_schema":
        return {"type": "json_schema", "json_schema": {"name": schema.get("title", "output"), "schema": schema}}
    return {"type": "json_object", "schema": schema}
