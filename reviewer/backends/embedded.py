"""The default backend: Qwen2.5-Coder-1.5B-Instruct (GGUF) in process through llama-cpp-python.

Every question is a constrained choice (`choice_schema`), decoded directly: the prompt is
evaluated from the longest prefix already in the KV cache, then the answer is read from the logits,
allowing only tokens that continue one of the choices; the answer's probability among the choices
is its confidence. The model is loaded once per process.
"""

from __future__ import annotations

import atexit
import json
import os
import threading
import time
from functools import lru_cache
from pathlib import Path

import numpy as np

from reviewer.backends.base import ANSWER, Completion, ModelError, choices_of
from reviewer.model_files import MODEL_ID, ensure_model_file
from reviewer.settings import Settings

_LOCK = threading.Lock()  # one llama context: calls are serialised


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

    def count_tokens(self, text: str) -> int:
        """The note's own tokens: the floor of what reading it costs."""
        llm = _load(self._model_path(), self.settings.n_ctx, self.settings.n_threads)
        return len(llm.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def complete(self, messages: list[dict[str, str]], schema: dict) -> Completion:
        llm = _load(self._model_path(), self.settings.n_ctx, self.settings.n_threads)
        choices = choices_of(schema)
        if not choices:
            raise ModelError("the embedded backend answers constrained choices (choice_schema) only")
        with _LOCK:
            completion = _choose(llm, chatml(messages), choices, self.settings.n_ctx)
        if (completion.prompt_s or 0) + (completion.output_s or 0) > self.settings.model_timeout_s:
            raise ModelError(f"embedded model timed out after {self.settings.model_timeout_s:.0f} s")
        return completion


MAX_EXPANSIONS = 8  # answer prefixes whose continuation is scored exactly; past them, greedy


def _choose(llm, prompt: str, choices: list[str], n_ctx: int) -> Completion:
    """The most probable of `choices` after `prompt`, each scored as a whole sequence.

    Greedy decoding of the first token would favour a shared prefix: line numbers tokenise digit by
    digit, so "1" gathers the mass of lines 1 and 10-19. Each prefix that several choices share is
    therefore expanded (one short evaluation each, up to `MAX_EXPANSIONS`), and a choice's
    probability is the product along its own tokens under the constraint.
    """
    tokens = llm.tokenize(prompt.encode("utf-8"), add_bos=False, special=True)
    if len(tokens) + 16 > n_ctx:
        raise ModelError(f"note too long for the model's context ({len(tokens)} tokens, window {n_ctx})")
    end = _im_end(llm)
    sequences = {c: llm.tokenize(c.encode("utf-8"), add_bos=False, special=False) + [end] for c in choices}
    started = time.perf_counter()
    cached = _evaluate(llm, tokens)
    prompt_s = time.perf_counter() - started
    decode_started = time.perf_counter()
    base = llm.n_tokens
    root = _distribution(llm, sequences, list(choices), 0)
    first_token = {c: round(root[sequences[c][0]], 4) for c in choices}
    scores: dict[str, float] = {}
    # (prefix tokens, its probability, choices under it)
    frontier: list[tuple[tuple[int, ...], float, list[str]]] = [((), 1.0, list(choices))]
    expansions = evaluated = 0
    while frontier:
        prefix, mass, alive = frontier.pop(0)
        step = len(prefix)
        if step == 0:
            probs = root
        else:
            if expansions >= MAX_EXPANSIONS:  # out of budget: finish this branch greedily
                alive, mass = _greedy(llm, base, sequences, alive, prefix, mass)
                scores[alive[0]] = mass
                continue
            llm.n_tokens = base
            llm.eval(list(prefix))
            evaluated += len(prefix)
            expansions += 1
            probs = _distribution(llm, sequences, alive, step)
        for token, p in probs.items():
            under = [c for c in alive if sequences[c][step] == token]
            if len(under) == 1 and (
                step + 1 == len(sequences[under[0]])
                or all(len(sequences[c]) <= step + 1 or sequences[c][step] != token for c in alive if c != under[0])
            ):
                scores[under[0]] = mass * p  # the constraint forces the rest of its tokens
            else:
                frontier.append(((*prefix, token), mass * p, under))
    best = max(scores, key=scores.__getitem__)
    total = sum(scores.values()) or 1.0
    return Completion(
        text=json.dumps({ANSWER: best}),
        prompt_tokens=len(tokens),
        cached_tokens=cached,
        completion_tokens=1 + evaluated,
        prompt_s=round(prompt_s, 4),
        output_s=round(time.perf_counter() - decode_started, 4),
        confidence=round(scores[best] / total, 4),
        first_token=first_token,
    )


def _distribution(llm, sequences: dict[str, list[int]], alive: list[str], step: int) -> dict[int, float]:
    """The probabilities of the tokens that continue the alive choices at `step`, among themselves."""
    logits = np.ctypeslib.as_array(llm._ctx.get_logits_ith(-1), shape=(llm.n_vocab(),))
    allowed = sorted({sequences[c][step] for c in alive if step < len(sequences[c])})
    values = logits[allowed].astype(np.float64)
    probs = np.exp(values - values.max())
    probs /= probs.sum()
    return dict(zip(allowed, probs.tolist()))


def _greedy(llm, base: int, sequences, alive: list[str], prefix: tuple, mass: float) -> tuple[list[str], float]:
    llm.n_tokens = base
    llm.eval(list(prefix))
    step = len(prefix)
    while len(alive) > 1:
        probs = _distribution(llm, sequences, alive, step)
        token = max(probs, key=probs.__getitem__)
        mass *= probs[token]
        alive = [c for c in alive if sequences[c][step] == token]
        step += 1
        if len(alive) > 1:
            llm.eval([token])
    return alive, mass


_IM_END = "<|im_end|>"


def _im_end(llm) -> int:
    ids = llm.tokenize(_IM_END.encode("utf-8"), add_bos=False, special=True)
    return ids[0] if len(ids) == 1 else llm.token_eos()


def _evaluate(llm, tokens: list[int]) -> int:
    """Make the context hold `tokens`, evaluating only what follows the prefix already cached;
    returns how many tokens came from the cache."""
    cached = 0
    for a, b in zip(llm.input_ids[: llm.n_tokens], tokens):
        if a != b:
            break
        cached += 1
    cached = min(cached, len(tokens) - 1)  # re-evaluate at least the last token for fresh logits
    llm.n_tokens = cached
    llm.eval(tokens[cached:])
    return cached
