"""`reviewer bench CORPUS`: what reading each note costs, against the floor of reading it once.

The floor is the note's own tokens at the measured prompt rate: everything above it (instructions,
questions, answers) is overhead. Per note: note tokens, prompt tokens (cached / new), output tokens,
the prompt and output rates, the seconds, and seconds / floor; then the medians.
"""

from __future__ import annotations

import json
import statistics
from datetime import date
from pathlib import Path
from typing import Optional

import typer

from reviewer.backends import ModelError, get_backend
from reviewer.commands.errors import fail
from reviewer.inputs import InputError, read_note
from reviewer.review import review_text
from reviewer.settings import get_settings


def register(app: typer.Typer) -> None:
    app.command("bench")(bench)


def bench(
    corpus: Path = typer.Argument(..., help="a corpus folder (notes/*.txt) or a folder of notes"),
    limit: Optional[int] = typer.Option(None, min=1, help="only the first N notes (sorted by name)"),
    backend: Optional[str] = typer.Option(None, help="embedded (default), openai or replay"),
    out: Optional[Path] = typer.Option(None, help="also write the rows and summary as JSON here"),
) -> None:
    """Time the review of each note and compare it with the floor (the note's tokens at the prompt rate)."""
    settings = get_settings()
    if backend:
        settings = settings.model_copy(update={"backend": backend})
    folder = corpus / "notes" if (corpus / "notes").is_dir() else corpus
    paths = sorted(folder.glob("*.txt"))[:limit]
    if not paths:
        fail(f"no .txt notes in {folder}")
    try:
        model = get_backend(settings)
    except ModelError as exc:
        fail(str(exc))
    count = getattr(model, "count_tokens", None)
    header = f"{'note':<14}{'note_tok':>9}{'cached':>8}{'new':>7}{'out':>5}{'q':>4}{'prompt/s':>10}{'out/s':>7}{'sec':>7}{'ratio':>7}"
    typer.echo(header)
    rows = []
    seconds: list[float] = []
    ratios: list[float] = []
    for path in paths:
        try:
            text = read_note(path, settings.max_input_bytes)
        except InputError as exc:
            typer.echo(f"{path.stem:<14}error: {exc}")
            continue
        report = review_text(text, note_id=path.stem, backend=model, settings=settings)
        timing = report.timing
        note_tokens = count(text) if count else None
        new = (timing.prompt_tokens or 0) - (timing.cached_tokens or 0)
        prompt_rate = new / timing.prompt_s if timing.prompt_s else None
        output_rate = (timing.completion_tokens or 0) / timing.output_s if timing.output_s else None
        floor = note_tokens / prompt_rate if note_tokens and prompt_rate else None
        ratio = timing.total_s / floor if floor else None
        row = {
            "note": path.stem,
            "status": report.status,
            "note_tokens": note_tokens,
            "prompt_tokens": timing.prompt_tokens,
            "cached_tokens": timing.cached_tokens,
            "new_tokens": new,
            "output_tokens": timing.completion_tokens,
            "questions": timing.questions,
            "prompt_rate": prompt_rate,
            "output_rate": output_rate,
            "seconds": timing.total_s,
            "floor_s": floor,
            "ratio": ratio,
        }
        rows.append(row)
        seconds.append(timing.total_s)
        if ratio is not None:
            ratios.append(ratio)
        typer.echo(
            f"{path.stem:<14}{_n(note_tokens):>9}{_n(timing.cached_tokens):>8}{new:>7}{_n(timing.completion_tokens):>5}"
            f"{_n(timing.questions):>4}{_f(prompt_rate, 1):>10}{_f(output_rate, 1):>7}{timing.total_s:>7.1f}{_f(ratio, 2):>7}"
            + ("" if report.status == "ok" else f"  failed: {report.error}")
        )
    summary = {
        "corpus": corpus.resolve().name,
        "date": date.today().isoformat(),
        "backend": model.name,
        "model": model.model_id,
        "notes": len(rows),
        "median_seconds": statistics.median(seconds) if seconds else None,
        "median_ratio": statistics.median(ratios) if ratios else None,
        "p95_seconds": sorted(seconds)[max(0, round(0.95 * len(seconds)) - 1)] if seconds else None,
    }
    typer.echo(
        f"summary: {summary['notes']} notes, median {_f(summary['median_seconds'], 1)} s per note, "
        f"p95 {_f(summary['p95_seconds'], 1)} s, median ratio to the floor {_f(summary['median_ratio'], 2)}"
    )
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps({"summary": summary, "rows": rows}, indent=1) + "\n", encoding="utf-8")


def _n(value) -> str:
    return "-" if value is None else str(value)


def _f(value, digits: int) -> str:
    return "-" if value is None else f"{value:.{digits}f}"
