"""`reviewer batch DIR --out OUT --queue`: send a folder to the job queue and follow the workers on it."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from procrastinate.exceptions import ProcrastinateException
from sqlalchemy.exc import SQLAlchemyError

from reviewer.backends import ModelError, get_backend
from reviewer.batch import batch_reports, discover_notes, model_info, plan_notes
from reviewer.batch_items import result_keys
from reviewer.commands.batch import stop_on_ctrl_c, write_outputs
from reviewer.commands.errors import fail, one_line
from reviewer.distributed import QueueError, conninfo, follow, make_app, submit
from reviewer.fee_schedule import FeeScheduleError, load_fee_schedule
from reviewer.inputs import InputError
from reviewer.settings import get_settings
from reviewer.store import ResultStore

WORKER_COMMAND = "procrastinate --app=reviewer.distributed.app worker"


def queued_batch(
    folder: Path,
    *,
    out: Path,
    payer: Optional[str],
    state: Optional[str],
    backend: Optional[str],
    db: Optional[str],
    fee_schedule: Optional[Path] = None,
) -> None:
    """Queue the folder's notes not yet stored, follow them to the end, then write the batch outputs.

    The keys are computed with this process's backend settings, the ones the workers are expected
    to share; a worker on another model stores under its own key and the outputs follow it there.
    """
    settings = get_settings()
    if backend:
        settings = settings.model_copy(update={"backend": backend})
    url = db or settings.database_url
    try:
        fees = load_fee_schedule(fee_schedule) if fee_schedule else None
    except FeeScheduleError as exc:
        fail(str(exc))
    try:
        conninfo(url)  # a clear error before any work when the store is not PostgreSQL
        notes = discover_notes(folder)
        if not notes:
            fail(f"{folder}: no notes (.txt, .md, .pdf, .docx) found")
        info = model_info(get_backend(settings), settings)
        store = ResultStore(url)
        planned = plan_notes(notes, info, settings, payer=payer, state=state)
        app = make_app(url, settings)
        with app.open():
            name, sent = submit(planned, store=store, app=app, label=Path(folder).resolve().name or "batch")
        unique = {p.key for p in planned}
        typer.echo(f"{len(sent)} notes queued as batch {name}; workers on any machine: {WORKER_COMMAND}", err=True)
        with stop_on_ctrl_c() as stop:
            progress = follow(store.engine, name, total=len(unique), already_done=len(unique) - len(sent), stop=stop)
        stored_under = result_keys(store.engine, unique)
        reports = batch_reports(store, planned, stored_under=stored_under)
        keys = {p.note.note_id: stored_under.get(p.key, p.key) for p in planned}
        episodes, paths = write_outputs(reports, out, store, settings, fees, keys)
    except KeyboardInterrupt:
        fail("stopped following: the notes stay queued for the workers; run the same command again to follow", code=130)
    except (QueueError, InputError, ModelError, SQLAlchemyError, ProcrastinateException, OSError) as exc:
        fail(one_line(exc))
    failed = sum(1 for r in reports if r.status != "ok")
    extras = [f"{len(unique) - len(sent)} already stored by an earlier run"]
    if progress.retries:
        extras.append(f"{progress.retries} model calls retried after 429/5xx")
    if progress.taken_over:
        extras.append(f"{progress.taken_over} taken over from a stopped worker")
    typer.echo(
        f"{len(reports)} notes: {len(reports) - failed} ok, {failed} failed ({'; '.join(extras)})."
        f" {len(episodes.episodes)} episodes, {sum(len(e.findings) for e in episodes.episodes)} episode findings."
        f" Wrote {paths['jsonl']}, {paths['csv']}, {paths['html']} and {paths['episodes']}",
        err=True,
    )
    raise typer.Exit(1 if failed else 0)
