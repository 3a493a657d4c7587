"""The default backend: Qwen2.5-Coder-1.5B-Instruct (GGUF) in process through llama-cpp-python.

Output is constrained by a grammar built from the schema's JSON schema, decoding is greedy, and
the model is loaded once per process. llama.cpp reuses its KV cache for the prompt prefix that
is the same from one call to the next.
"""

from __future__ import annotations

import atexit
import json
import os
import threading
import time
from functools import lru_cache
from pathlib import Path

from reviewer.backends.base import Completion, ModelError
from reviewer.model_files import MODEL_ID, ensure_model_file
from reviewer.settings import Settings

_LOCK = threading.Lock()  # one llama context: calls are serialised
# Greedy decoding of a small model can loop on a list item; a mild penalty on recent tokens makes
# it close the list instead (the grammar forces the JSON structure either way).
REPEAT_PENALTY = 1.1


@lru_cache(maxsize=2)
def _load(path: str, n_ctx: int, n_threads: int | None):
    try:
        from llama_cpp import Llama
    except ImportError:
        raise ModelError("llama-cpp-python is not installed; run `pip install -e '.[embedded]'`") from None
    # llama-cpp-python decodes on half the cores by default; a review has the machine to itself.
    threads = n_threads or os.cpu_count() or 1
    llm = Llama(model_path=path, n_ctx=n_ctx, n_threads=threads, n_threads_batch=threads, n_batch=512, verbose=False)
    atexit.register(llm.close)  # free it before interpreter teardown, when llama_cpp's __del__ would fail
    return llm


@lru_cache(maxsize=8)
def _grammar(schema_json: str):
    from llama_cpp import LlamaGrammar

    return LlamaGrammar.from_json_schema(schema_json, verbose=False)


def chatml(messages: list[dict[str, str]]) -> str:
    """Qwen2.5's chat format (ChatML), ending where the assistant's answer begins."""
    turns = "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages)
    return turns + "<|im_start|>assistant\n"


class EmbeddedBackend:
    name = "embedded"

    def __init__(self, settings: Settings):
        self.settings = settings
        self.model_id = MODEL_ID if settings.model_path is None else Path(settings.model_path).stem

    def _model_path(self) -> str:
        if self.settings.model_path is not None:
            if not Path(self.settings.model_path).is_file():
                raise ModelError(f"REVIEWER_MODEL_PATH {self.settings.model_path} is not a file")
            return str(self.settings.model_path)
        return str(ensure_model_file(self.settings.cache_dir))

    def complete(self, messages: list[dict[str, str]], schema: dict) -> Completion:
        from llama_cpp import StoppingCriteriaList

        llm = _load(self._model_path(), self.settings.n_ctx, self.settings.n_threads)
        grammar = _grammar(json.dumps(schema))
        deadline = time.monotonic() + self.settings.model_timeout_s
        timed_out = False

        def past_deadline(_tokens, _logits) -> bool:
            nonlocal timed_out
            timed_out = time.monotonic() > deadline
            return timed_out

        with _LOCK:
            try:
                response = llm.create_completion(
                    prompt=chatml(messages),
                    grammar=grammar,
                    temperature=0.0,
                    repeat_penalty=REPEAT_PENALTY,
                    max_tokens=self.settings.max_output_tokens,
                    stop=["<|im_end|>"],
                    stopping_criteria=StoppingCriteriaList([past_deadline]),
                )
            except ValueError as exc:  # e.g. prompt longer than the context window
                raise ModelError(f"embedded model rejected the request: {exc}") from None
        if timed_out:
            raise ModelError(f"embedded model timed out after {self.settings.model_timeout_s:.0f} s")
        usage = response.get("usage") or {}
        return Completion(
            text=response["choices"][0]["text"] or "",
            prompt_tokens=usage.get("prompt_tokens"),
            completion_tokens=usage.get("completion_tokens"),
        )
