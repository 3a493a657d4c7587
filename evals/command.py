"""`reviewer eval CORPUS`: accuracy of the reviewer on a labelled corpus, mounted into the CLI by entry point."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from sqlalchemy.exc import SQLAlchemyError

from reviewer.backends import ModelError, get_backend
from reviewer.commands.errors import fail
from reviewer.inputs import InputError
from reviewer.settings import get_settings
from reviewer.store import ResultStore


def register(app: typer.Typer) -> None:
    app.command("eval")(eval_command)
    app.command("injection")(injection_command)


def eval_command(
    corpus: str = typer.Argument(
        ...,
        help="corpus folder (notes/ and labels.jsonl, see FORMAT.md) or the name of a shipped one: dev, val, styles",
    ),
    backend: Optional[str] = typer.Option(None, help="embedded (default), openai or replay"),
    out: Optional[Path] = typer.Option(
        None,
        help="results JSON (Markdown beside it) [default: evals/results/<date>_<corpus>_<backend>_<model>_<prompt>.json]",
    ),
    rescore: bool = typer.Option(False, "--rescore", help="re-run the rules on cached model outputs; no model calls"),
    workers: int = typer.Option(1, min=1, max=64, help="concurrent requests (remote openai backend only)"),
    db: Optional[str] = typer.Option(
        None, help="SQLAlchemy URL of the result store that caches model outputs [default: REVIEWER_DATABASE_URL]"
    ),
) -> None:
    """Score the reviewer against gold labels: per-flag precision/recall/F1, field accuracy, goals, latency."""
    from reviewer.batch import model_info
    from reviewer.evals.harness import (
        EvalError,
        corpus_folder,
        load_corpus,
        rescore_corpus,
        review_corpus,
        score_run,
        to_markdown,
        write_results,
    )

    settings = get_settings()
    if backend:
        settings = settings.model_copy(update={"backend": backend})
    try:
        folder = corpus_folder(corpus, settings)
        labelled = load_corpus(folder)
        model = get_backend(settings)
        store = ResultStore(db or settings.database_url)
        if rescore:
            reports = rescore_corpus(labelled, store=store, backend=model, settings=settings)
        else:
            reports = review_corpus(labelled, store=store, backend=model, settings=settings, workers=workers)
        result = score_run(labelled, reports, corpus_name=folder.resolve().name, model=model_info(model, settings))
        json_path, markdown_path = write_results(result, out)
    except KeyboardInterrupt:
        fail("interrupted: finished notes are cached; run the same command again to continue", code=130)
    except (EvalError, InputError, ModelError, SQLAlchemyError, OSError) as exc:
        fail(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
    print(to_markdown(result))
    typer.echo(f"wrote {json_path} and {markdown_path}", err=True)


def injection_command(
    backend: Optional[str] = typer.Option(None, help="embedded (default), openai or replay"),
    out: Optional[Path] = typer.Option(
        None, help="results JSON (Markdown beside it) [default: evals/results/<date>_injection_<backend>_<prompt>.json]"
    ),
) -> None:
    """Review notes that carry instructions to the reviewer; each must keep the flags and units of the same
    note without the instruction."""
    from reviewer.batch import model_info
    from reviewer.evals.harness import EvalError
    from reviewer.evals.injection import load_cases, run_injection, to_markdown, write_result

    settings = get_settings()
    if backend:
        settings = settings.model_copy(update={"backend": backend})
    try:
        model = get_backend(settings)
        result = run_injection(load_cases(), backend=model, settings=settings, model=model_info(model, settings))
        json_path, markdown_path = write_result(result, out)
    except KeyboardInterrupt:
        fail("interrupted", code=130)
    except (EvalError, InputError, ModelError, OSError) as exc:
        fail(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
    print(to_markdown(result))
    typer.echo(f"wrote {json_path} and {markdown_path}", err=True)
