"""Review one note end to end: read, extract with the model, ground, run the rules, report."""

from __future__ import annotations

import hashlib
import logging
import time
from pathlib import Path

from reviewer.backends import ModelBackend, ModelError, get_backend
from reviewer.edit_tables import EditTableSource
from reviewer.extract import ExtractionFailed, extract, raw_to_extraction
from reviewer.inputs import read_note
from reviewer.prompts import load_prompt
from reviewer.report import ModelInfo, NoteReport, Timing
from reviewer.rules import RULES_VERSION, evaluate
from reviewer.rules.context import billed_codes, service_date_of
from reviewer.schema import Extraction
from reviewer.settings import Settings, get_settings

log = logging.getLogger(__name__)


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def review_path(path: Path, **kwargs) -> NoteReport:
    """Review the note in `path`; the note id is the file name without its suffix. Raises InputError."""
    settings = kwargs.get("settings") or get_settings()
    text = read_note(Path(path), settings.max_input_bytes)
    return review_text(text, note_id=Path(path).stem, **kwargs)


def review_text(
    text: str,
    *,
    note_id: str,
    payer: str | None = None,
    state: str | None = None,
    backend: ModelBackend | None = None,
    settings: Settings | None = None,
    edit_tables: EditTableSource | None = None,
) -> NoteReport:
    """The report for one note. Model trouble gives `status="failed"` with the reason, never a clean report.

    `edit_tables` is where the imported CMS edit tables are read (None: none imported).
    """
    settings = settings or get_settings()
    payer = payer or settings.payer
    state = (state or settings.state or "").upper() or None
    prompt = load_prompt(settings.prompts_dir, settings.prompt_name)
    started = time.perf_counter()
    report = NoteReport(
        note_id=note_id,
        status="failed",
        payer=payer,
        state=state,
        model=ModelInfo(backend=backend.name if backend else settings.backend, model="", prompt_version=prompt.version),
        content_hash=content_hash(text),
        rules_version=RULES_VERSION,
        note_text=text,
        edit_tables_loaded=edit_tables.fingerprint() if edit_tables else "",
    )
    if len(text) > settings.max_note_chars:
        report.error = (
            f"note is {len(text):,} characters, over the {settings.max_note_chars:,}-character limit for one note"
        )
        return report
    try:
        backend = backend or get_backend(settings)
        report.model.backend, report.model.model = backend.name, backend.model_id
        result = extract(text, backend, prompt)
    except (ExtractionFailed, ModelError) as exc:
        log.warning("note %s failed: %s", note_id, exc)  # the reason only, never note text
        report.error = str(exc)
        report.timing = Timing(total_s=round(time.perf_counter() - started, 3))
        return report
    report.raw_model_output = result.raw_output
    report.timing = Timing(
        total_s=round(time.perf_counter() - started, 3),
        model_s=round(result.model_s, 3),
        attempts=result.attempts,
        prompt_tokens=result.prompt_tokens,
        completion_tokens=result.completion_tokens,
        cached_tokens=result.cached_tokens,
        prompt_s=None if result.prompt_s is None else round(result.prompt_s, 3),
        output_s=None if result.output_s is None else round(result.output_s, 3),
        questions=result.questions,
    )
    return _apply_rules(report, result.extraction, edit_tables)


def rescore(
    report: NoteReport,
    *,
    payer: str | None = None,
    state: str | None = None,
    edit_tables: EditTableSource | None = None,
) -> NoteReport:
    """Rebuild the extraction from the cached raw model output and re-run the rules; no model call."""
    if report.raw_model_output is None or report.note_text is None:
        return report
    updated = report.model_copy(deep=True)
    updated.payer = payer or report.payer
    updated.state = state or report.state
    updated.rules_version = RULES_VERSION
    updated.edit_tables_loaded = edit_tables.fingerprint() if edit_tables else ""
    try:
        extraction = raw_to_extraction(report.note_text, report.raw_model_output)
    except ExtractionFailed as exc:
        updated.status, updated.error = "failed", str(exc)
        return updated
    return _apply_rules(updated, extraction, edit_tables)


def _apply_rules(report: NoteReport, extraction: Extraction, edit_tables: EditTableSource | None) -> NoteReport:
    tables = edit_tables.tables_for(service_date_of(extraction), billed_codes(extraction)) if edit_tables else None
    result = evaluate(extraction, payer=report.payer, state=report.state, edit_tables=tables)
    report.status = "ok"
    report.error = None
    report.extraction = extraction
    report.findings = result.findings
    report.flags = result.flags
    report.needs_human = bool(extraction.uncertain)
    report.score = result.score
    report.risk_band = result.risk_band
    report.units = result.units
    report.locality = result.locality
    report.edit_tables = result.edit_tables
    return report
