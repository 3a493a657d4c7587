"""Review a folder of notes into the result store, resumably.

Every note's store key is known before it is reviewed (content hash, backend, model, prompt and
rules version, payer, state), so a rerun skips the notes already stored as ok and retries the
failed ones. Each result is committed as soon as it finishes: a run killed at any point loses at
most the notes in flight, and the upsert on the key means nothing is ever stored twice.
"""

from __future__ import annotations

import hashlib
import logging
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from reviewer.backends import ModelBackend
from reviewer.backends.base import counting_retries
from reviewer.edit_tables import EditTableSource
from reviewer.inputs import NOTE_SUFFIXES, InputError, read_note
from reviewer.prompts import load_prompt
from reviewer.report import ModelInfo, NoteReport
from reviewer.review import content_hash, review_text
from reviewer.rules import RULES_VERSION
from reviewer.settings import Settings
from reviewer.store import ResultStore, result_key

log = logging.getLogger(__name__)

REMOTE_BACKENDS = frozenset({"openai"})  # the only ones worth concurrent requests; one local model would only queue


@dataclass(frozen=True)
class NoteFile:
    note_id: str  # path below the batch folder without its suffix, e.g. "dev-0001" or "clinic-a/0001"
    path: Path
    payer: str | None = None  # this note's own payer and state (a labelled corpus has them), else the batch's
    state: str | None = None


@dataclass(frozen=True)
class PlannedNote:
    note: NoteFile
    payer: str
    state: str | None
    key: str
    content_hash: str
    text: str | None
    read_error: str | None


@dataclass
class BatchResult:
    """What a run did; `planned` covers every note of the folder, in order."""

    planned: list[PlannedNote]
    already_done: int = 0
    reviewed: int = 0
    failed_ids: list[str] = field(default_factory=list)
    retries: int = 0  # model calls tried again after a 429/5xx


def discover_notes(folder: Path) -> list[NoteFile]:
    """Every note file below `folder` (txt, md, pdf, docx), sorted; hidden files are skipped."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"{folder}: not a folder")
    notes = []
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if path.is_file() and path.suffix.lower() in NOTE_SUFFIXES and not _is_hidden(relative):
            notes.append(NoteFile(note_id=relative.with_suffix("").as_posix(), path=path))
    return notes


def run_batch(
    notes: list[NoteFile],
    *,
    store: ResultStore,
    backend: ModelBackend,
    settings: Settings,
    payer: str | None = None,
    state: str | None = None,
    workers: int = 1,
    stop: threading.Event | None = None,
    edit_tables: EditTableSource | None = None,
) -> BatchResult:
    """Review the notes not yet stored as ok, storing each result as it finishes. When `stop` is set
    (Ctrl-C), no further note is started and KeyboardInterrupt is raised once the notes under
    way are stored. `edit_tables`: the imported CMS edit tables (their versions are part of each key)."""
    info = model_info(backend, settings)
    loaded = edit_tables.fingerprint() if edit_tables else ""
    planned = plan_notes(notes, info, settings, payer=payer, state=state, edit_tables=loaded)
    done = store.done_keys(p.key for p in planned)
    todo = list({p.key: p for p in planned if p.key not in done}.values())  # identical notes reviewed once
    result = BatchResult(planned=planned, already_done=len(planned) - len(todo))
    log.info("%d notes: %d already done, %d to review", len(planned), result.already_done, len(todo))

    retries_lock = threading.Lock()

    def review_one(item: PlannedNote) -> NoteReport:
        with counting_retries() as retries:
            report = review_planned(item, backend, settings, info, edit_tables)
        with retries_lock:
            result.retries += retries.value
        return report

    progress = tqdm(total=len(planned), initial=result.already_done, unit="note", file=sys.stderr, dynamic_ncols=True)
    with progress:
        concurrency = max(1, workers) if backend.name in REMOTE_BACKENDS else 1
        for item, report in _results(todo, review_one, concurrency, stop or threading.Event()):
            store.put(report, source_path=str(item.note.path), key=item.key)
            result.reviewed += 1
            if report.status != "ok":
                result.failed_ids.append(item.note.note_id)
                progress.set_postfix(failed=len(result.failed_ids), refresh=False)
            progress.update(1)
    if stop is not None and stop.is_set() and result.reviewed < len(todo):
        raise KeyboardInterrupt
    return result


def review_planned(
    item: PlannedNote,
    backend: ModelBackend,
    settings: Settings,
    info: ModelInfo,
    edit_tables: EditTableSource | None = None,
) -> NoteReport:
    """The report of one planned note: its review, or a failed report saying why there is none."""
    if item.text is None:
        return failed_report(item, item.read_error or "unreadable", info)
    try:
        return review_text(
            item.text,
            note_id=item.note.note_id,
            payer=item.payer,
            state=item.state,
            backend=backend,
            settings=settings,
            edit_tables=edit_tables,
        )
    except Exception as exc:
        log.error("note %s crashed the review: %s", item.note.note_id, type(exc).__name__)
        return failed_report(item, f"review crashed: {type(exc).__name__}: {exc}", info)


def batch_reports(
    store: ResultStore, planned: list[PlannedNote], stored_under: dict[str, str] | None = None
) -> list[NoteReport]:
    """One stored report per planned note, in order, each under its own file's id. `stored_under`
    maps a planned key to the key a worker stored it under, where that differs (its own model)."""
    keys = {p.key: (stored_under or {}).get(p.key, p.key) for p in planned}
    stored = store.reports(keys.values())
    return [
        stored[keys[p.key]].model_copy(update={"note_id": p.note.note_id}) for p in planned if keys[p.key] in stored
    ]


def model_info(backend: ModelBackend, settings: Settings) -> ModelInfo:
    """The backend, model and prompt version a review with `backend` records (known before any call)."""
    prompt_version = load_prompt(settings.prompts_dir, settings.prompt_name).version
    return ModelInfo(backend=backend.name, model=backend.model_id, prompt_version=prompt_version)


def plan_notes(
    notes: list[NoteFile],
    info: ModelInfo,
    settings: Settings,
    *,
    payer: str | None = None,
    state: str | None = None,
    edit_tables: str = "",
) -> list[PlannedNote]:
    """Read each note and compute its store key (`edit_tables`: the imported tables' fingerprint)."""
    reading = tqdm(notes, desc="reading notes", unit="note", file=sys.stderr, leave=False, dynamic_ncols=True)
    return [_plan(note, info, settings, payer, state, edit_tables) for note in reading]


def failed_report(item: PlannedNote, error: str, info: ModelInfo) -> NoteReport:
    """The report stored for a note that could not be reviewed; it is retried on the next run."""
    return NoteReport(
        note_id=item.note.note_id,
        status="failed",
        error=error,
        payer=item.payer,
        state=item.state,
        model=info,
        content_hash=item.content_hash,
        rules_version=RULES_VERSION,
    )


def _results(
    todo: list[PlannedNote], review_one, concurrency: int, stop: threading.Event
) -> Iterator[tuple[PlannedNote, NoteReport]]:
    """(note, report) pairs as they finish; concurrent requests only for remote backends. Once
    `stop` is set no note is started; the ones under way still finish and are yielded."""
    if concurrency == 1:
        for item in todo:
            if stop.is_set():
                return
            yield item, review_one(item)
        return
    pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="review")

    def guarded(item: PlannedNote) -> NoteReport | None:
        return None if stop.is_set() else review_one(item)

    try:
        futures = {pool.submit(guarded, item): item for item in todo}
        for future in as_completed(futures):
            report = future.result()
            if report is not None:
                yield futures[future], report
    finally:
        pool.shutdown(wait=False, cancel_futures=True)  # on Ctrl-C, drop the queue; stored results stay


def _plan(
    note: NoteFile, info: ModelInfo, settings: Settings, payer: str | None, state: str | None, edit_tables: str
) -> PlannedNote:
    """Read the note and compute its store key; payer and state resolved exactly as `review_text` does."""
    payer = note.payer or payer or settings.payer
    state = (note.state or state or settings.state or "").upper() or None
    text: str | None = None
    read_error: str | None = None
    try:
        text = read_note(note.path, settings.max_input_bytes)
        digest = content_hash(text)
    except InputError as exc:
        read_error, digest = str(exc), _file_digest(note.path)
    except OSError as exc:
        read_error, digest = f"cannot read file: {exc.strerror or type(exc).__name__}", _file_digest(note.path)
    key = note_key(digest, info, payer, state, edit_tables)
    return PlannedNote(note, payer, state, key, digest, text, read_error)


def note_key(content_hash: str, info: ModelInfo, payer: str, state: str | None, edit_tables: str = "") -> str:
    """The store key of a note reviewed by the model `info` describes, under the current rules and
    the imported CMS edit tables (`edit_tables`: their fingerprint; empty when none)."""
    return result_key(
        content_hash,
        backend=info.backend,
        model=info.model,
        prompt_version=info.prompt_version,
        rules_version=RULES_VERSION,
        payer=payer,
        state=state,
        edit_tables=edit_tables,
    )


def _file_digest(path: Path) -> str:
    """A key for a note that cannot be read as text: its bytes, else its path."""
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return hashlib.sha256(f"unreadable:{path}".encode()).hexdigest()


def _is_hidden(relative: Path) -> bool:
    return any(part.startswith((".", "~$")) for part in relative.parts)
