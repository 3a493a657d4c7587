"""`reviewer batch DIR --out OUT`: review a folder of notes, resumably, into the store and summary files."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Optional

import typer
from sqlalchemy.exc import SQLAlchemyError

from reviewer.backends import ModelError, get_backend
from reviewer.batch import REMOTE_BACKENDS, batch_reports, discover_notes, run_batch
from reviewer.batch_outputs import write_batch_outputs
from reviewer.commands.errors import fail, one_line
from reviewer.edit_table_store import EditTableStore
from reviewer.episode_outputs import review_episodes, write_episodes
from reviewer.episode_store import save_episodes
from reviewer.episodes import EpisodeSet
from reviewer.fee_schedule import FeeSchedule, FeeScheduleError, load_fee_schedule
from reviewer.inputs import InputError
from reviewer.payers import payer_choice_error
from reviewer.report import NoteReport
from reviewer.settings import Settings, get_settings
from reviewer.store import ResultStore


def register(app: typer.Typer) -> None:
    app.command("batch")(batch)


def batch(
    folder: Path = typer.Argument(..., help="folder of notes (.txt, .md, .pdf, .docx; subfolders included)"),
    out: Path = typer.Option(..., "--out", help="folder for results.jsonl, results.csv and summary.html"),
    payer: Optional[str] = typer.Option(
        None, help="payer profile from data/payers.yaml: medicare (CMS total-time), commercial (per-code), ..."
    ),
    state: Optional[str] = typer.Option(None, help="two-letter state of the place of service (MAC locality)"),
    backend: Optional[str] = typer.Option(None, help="embedded (default), openai or replay"),
    workers: int = typer.Option(1, min=1, max=64, help="concurrent requests (remote openai backend only)"),
    db: Optional[str] = typer.Option(None, help="SQLAlchemy URL of the result store [default: REVIEWER_DATABASE_URL]"),
    fee_schedule: Optional[Path] = typer.Option(
        None, "--fee-schedule", help="CSV of allowed amounts (code, amount, year) for the KX threshold check"
    ),
    queue: bool = typer.Option(
        False,
        "--queue",
        help="send the notes to the job queue on the (PostgreSQL) store and follow the workers reviewing them;"
        " start workers on any machine with `procrastinate --app=reviewer.distributed.app worker`",
    ),
) -> None:
    """Review every note in a folder. Rerun the same command after an interruption to continue.

    Exit status: 0 all notes reviewed, 1 some notes failed (recorded; retried on the next run), 2 usage error.
    """
    if message := payer_choice_error(payer):
        fail(message)
    if queue:
        from reviewer.commands.batch_queue import queued_batch

        queued_batch(folder, out=out, payer=payer, state=state, backend=backend, db=db, fee_schedule=fee_schedule)
        return
    settings = get_settings()
    if backend:
        settings = settings.model_copy(update={"backend": backend})
    try:
        fees = load_fee_schedule(fee_schedule) if fee_schedule else None
    except FeeScheduleError as exc:
        fail(str(exc))
    try:
        notes = discover_notes(folder)
        if not notes:
            fail(f"{folder}: no notes (.txt, .md, .pdf, .docx) found")
        model = get_backend(settings)  # built once: the embedded model loads on its first note only
        if workers > 1 and model.name not in REMOTE_BACKENDS:
            typer.echo(
                f"note: --workers applies to a remote openai endpoint; {model.name} reviews one note at a time",
                err=True,
            )
        store = ResultStore(db or settings.database_url)
        tables = EditTableStore(db or settings.database_url)  # the imported CMS edit tables live beside the results
        with stop_on_ctrl_c() as stop:
            result = run_batch(
                notes,
                store=store,
                backend=model,
                settings=settings,
                payer=payer,
                state=state,
                workers=workers,
                stop=stop,
                edit_tables=tables,
            )
        reports = batch_reports(store, result.planned)
        episodes, paths = write_outputs(
            reports, out, store, settings, fees, {p.note.note_id: p.key for p in result.planned}
        )
    except KeyboardInterrupt:
        fail("interrupted: finished notes are stored; run the same command again to continue", code=130)
    except (InputError, ModelError, SQLAlchemyError, OSError) as exc:
        fail(one_line(exc))
    failed = sum(1 for r in reports if r.status != "ok")
    retried = f", {result.retries} model calls retried after 429/5xx" if result.retries else ""
    typer.echo(
        f"{len(reports)} notes: {len(reports) - failed} ok, {failed} failed"
        f" ({result.already_done} already stored by an earlier run{retried})."
        f" {len(episodes.episodes)} episodes, {sum(len(e.findings) for e in episodes.episodes)} episode findings."
        f" Wrote {paths['jsonl']}, {paths['csv']}, {paths['html']} and {paths['episodes']}",
        err=True,
    )
    raise typer.Exit(1 if failed else 0)


def write_outputs(
    reports: list[NoteReport],
    out: Path,
    store: ResultStore,
    settings: Settings,
    fees: FeeSchedule | None,
    keys: dict[str, str],
) -> tuple[EpisodeSet, dict[str, Path]]:
    """The batch's episodes (built, checked and stored beside the results) and its output files.

    An episode holds the patient's visits reviewed by earlier batches into the same store as well, so a
    weekly batch of new visits is checked against the whole episode (progress reports, KX, clones);
    the batch lists and stores the episodes of its own patients."""
    earlier = store.earlier_reviews({r.content_hash for r in reports})
    episodes = review_episodes(reports, settings, fee_schedule=fees, keys=keys, earlier=earlier)
    save_episodes(store.engine, episodes)
    paths = write_batch_outputs(reports, out, episodes=episodes)
    paths["episodes"] = write_episodes(episodes, out)
    return episodes, paths


@contextmanager
def stop_on_ctrl_c() -> Iterator[threading.Event]:
    """Ctrl-C sets a flag that the batch checks between notes, so the interrupt cannot be lost
    inside a library (a KeyboardInterrupt raised in a finaliser is only printed); a second
    Ctrl-C stops at once."""
    stop = threading.Event()

    def handler(signum, frame):
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield stop
    finally:
        signal.signal(signal.SIGINT, previous)
