"""Where a review's prompt tokens go, per note of a corpus, against the floor of reading the note once.

    python benchmarks/token_budget.py styles [--recordings tests/recordings]

Replays each note's review from the recorded embedded-model answers (the exact messages the model was
sent) and counts, with the model's own tokenizer, the tokens the model had to read anew for each
question: the note as the questions show it (numbered lines) and each question after it (the system
text is cached across notes). Bench (`reviewer bench`) measures the seconds; this shows what they are
made of, and what a ratio to the floor of 1.3 would leave for the questions. Writes
evals/results/<date>_<corpus>_token-budget_<prompt version>.json.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
from collections import defaultdict
from datetime import date
from pathlib import Path

from reviewer.backends.embedded import chatml
from reviewer.backends.replay import ReplayBackend
from reviewer.evals.harness import load_corpus
from reviewer.model_files import MODEL_ID, ensure_model_file
from reviewer.prompts import load_prompt
from reviewer.review import review_text
from reviewer.settings import Settings

REPO = Path(__file__).resolve().parents[1]
TARGET_RATIO = 1.3


class _Spy:
    """The replay backend, keeping every conversation it was asked."""

    name = "embedded"

    def __init__(self, inner: ReplayBackend):
        self.inner, self.model_id, self.calls = inner, inner.model_id, []

    def complete(self, messages, schema):
        self.calls.append(messages)
        return self.inner.complete(messages, schema)


def _question_names(settings: Settings) -> list[tuple[str, re.Pattern[str]]]:
    questions = load_prompt(settings.prompts_dir, settings.prompt_name).questions
    return [
        (key, re.compile(".*".join(re.escape(" ".join(p.split())) for p in re.split(r"\{\w+\}", text)), re.DOTALL))
        for key, text in questions.items()
    ]


def budget(corpus: str, recordings: Path) -> dict:
    from llama_cpp import Llama

    settings = Settings()
    vocabulary = Llama(model_path=str(ensure_model_file(settings.cache_dir)), vocab_only=True, verbose=False)

    def tokens(text: str) -> list[int]:
        return vocabulary.tokenize(text.encode("utf-8"), add_bos=False, special=True)

    names = _question_names(settings)
    rows, by_kind = [], defaultdict(list)
    for labelled in load_corpus(REPO.parent / "shared" / "corpus" / corpus):
        note = labelled.note
        text = note.path.read_text(encoding="utf-8")
        spy = _Spy(ReplayBackend(recordings, MODEL_ID))
        report = review_text(
            text, note_id=note.note_id, payer=note.payer, state=note.state, backend=spy, settings=settings
        )
        if report.status != "ok" or not spy.calls:
            continue
        system = len(tokens(chatml(spy.calls[0][:1])))
        context = spy.calls[0][1]["content"].rsplit("\n\nQUESTION: ", 1)[0]
        new, previous = 0, None
        for messages in spy.calls:
            full = tokens(chatml(messages))
            shared = (
                next((i for i, (a, b) in enumerate(zip(previous, full)) if a != b), len(full)) if previous else system
            )
            new += len(full) - min(shared, len(full) - 1)
            previous = full
            asked = " ".join(messages[-1]["content"].rsplit("QUESTION: ", 1)[-1].split())
            kind = next((key for key, pattern in names if pattern.fullmatch(asked)), "?")
            by_kind[kind].append(len(full) - len(tokens(chatml(messages[:1]) + "<|im_start|>user\n" + context)))
        note_tokens, context_tokens = len(tokens(text)), len(tokens(context))
        rows.append({
            "note": note.note_id, "note_tokens": note_tokens, "context_tokens": context_tokens,
            "questions": len(spy.calls), "new_tokens": new, "question_tokens": new - context_tokens,
        })  # fmt: skip
    median = statistics.median
    allowed = [(TARGET_RATIO * r["note_tokens"] - r["context_tokens"]) / r["questions"] for r in rows]
    summary = {
        "corpus": corpus,
        "date": date.today().isoformat(),
        "prompt_version": load_prompt(settings.prompts_dir, settings.prompt_name).version,
        "notes": len(rows),
        "median_note_tokens": median(r["note_tokens"] for r in rows),
        "median_questions": median(r["questions"] for r in rows),
        "median_ratio_new_to_note": round(median(r["new_tokens"] / r["note_tokens"] for r in rows), 3),
        "median_ratio_numbered_note_to_note": round(median(r["context_tokens"] / r["note_tokens"] for r in rows), 3),
        "median_tokens_per_question": median(r["question_tokens"] / r["questions"] for r in rows),
        "median_tokens_per_question_at_ratio_1_3": round(median(allowed), 1),
        "framing_tokens_per_question": len(tokens("\n\nQUESTION: <|im_end|>\n<|im_start|>assistant\n")),
        "by_question": {
            key: {"asked": len(v), "mean_tokens": round(statistics.mean(v), 1)}
            for key, v in sorted(by_kind.items(), key=lambda kv: -sum(kv[1]))
        },
    }
    return {"summary": summary, "rows": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus")
    parser.add_argument("--recordings", type=Path, default=REPO / "tests" / "recordings")
    args = parser.parse_args()
    result = budget(args.corpus, args.recordings)
    summary = result["summary"]
    out = REPO / "evals" / "results" / f"{summary['date']}_{args.corpus}_token-budget_{summary['prompt_version']}.json"
    out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(result["summary"], indent=1))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
