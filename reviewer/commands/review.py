"""`reviewer review PATH...`: review notes and print a readable report or JSON lines."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.markup import escape
from sqlalchemy.exc import SQLAlchemyError

from reviewer.backends import ModelError, get_backend
from reviewer.commands.errors import fail
from reviewer.edit_table_store import EditTableStore
from reviewer.inputs import InputError
from reviewer.payers import payer_choice_error
from reviewer.report import NoteReport, edit_tables_summary
from reviewer.review import review_path
from reviewer.settings import get_settings


def register(app: typer.Typer) -> None:
    app.command("review")(review)


def review(
    paths: list[Path] = typer.Argument(..., help="note files (.txt, .md, .pdf, .docx)"),
    payer: Optional[str] = typer.Option(
        None, help="payer profile from data/payers.yaml: medicare (CMS total-time), commercial (per-code), ..."
    ),
    state: Optional[str] = typer.Option(None, help="two-letter state of the place of service (MAC locality)"),
    backend: Optional[str] = typer.Option(None, help="embedded (default), openai or replay"),
    as_json: bool = typer.Option(False, "--json", help="one JSON object per note"),
    record: bool = typer.Option(False, help="store the model's answers as replay recordings"),
    db: Optional[str] = typer.Option(
        None, help="SQLAlchemy URL of the database with the imported CMS edit tables [default: REVIEWER_DATABASE_URL]"
    ),
) -> None:
    """Review notes before billing: extraction with evidence, findings, units, score and locality."""
    overrides: dict[str, object] = {"backend": backend} if backend else {}
    if record:
        overrides["record"] = True
    settings = get_settings().model_copy(update=overrides)
    if message := payer_choice_error(payer):
        fail(message)
    console = Console(stderr=False)
    errors = Console(stderr=True, soft_wrap=True)  # an error is one line, whatever the terminal width
    try:
        model = get_backend(settings)
    except ModelError as exc:
        fail(str(exc))
    try:
        tables = EditTableStore.open_existing(db or settings.database_url)
    except SQLAlchemyError as exc:
        fail(f"edit tables: {type(exc).__name__}: {str(exc).splitlines()[0]}")
    exit_code = 0
    for path in paths:
        try:
            report = review_path(path, payer=payer, state=state, backend=model, settings=settings, edit_tables=tables)
        except InputError as exc:
            errors.print(f"error: {exc}", markup=False, highlight=False)
            exit_code = 2
            continue
        if report.status == "failed":
            exit_code = max(exit_code, 1)
        if as_json:
            print(json.dumps(report.model_dump(mode="json", exclude={"note_text"}), ensure_ascii=False))
        else:
            print_report(console, report)
    raise typer.Exit(exit_code)


def print_report(console: Console, report: NoteReport) -> None:
    """A readable report: status, score, findings with fixes, the unit table and the locality."""
    from rich.table import Table

    console.rule(f"[bold]{report.note_id}[/]  ({report.payer}{', ' + report.state if report.state else ''})")
    if report.status == "failed":
        console.print(f"[red bold]FAILED[/] {report.error}", highlight=False)
        console.print("No findings: the note could not be read reliably, so it is NOT cleared.")
        return
    band_colour = {"low": "green", "medium": "yellow", "high": "red"}.get(report.risk_band or "", "white")
    console.print(
        f"Audit score [bold {band_colour}]{report.score}[/] ({report.risk_band} risk)   flags: {', '.join(report.flags) or 'none'}"
    )
    if report.needs_human and report.extraction:
        console.print(
            "[magenta bold]NEEDS A HUMAN READING[/] (no billing flag is raised on these values):", highlight=False
        )
        for value in report.extraction.uncertain:
            shown = ", ".join(map(str, value.candidates)) or "none"
            lines = value.evidence.text[:80].replace("\n", " ") if value.evidence else ""
            console.print(
                f"  {value.field}{' of ' + value.code if value.code else ''}: readings {shown}; {value.reason} [{lines}]",
                highlight=False,
            )
    if report.locality:
        loc = report.locality
        console.print(
            f"MAC: {loc.contractor}, Jurisdiction {loc.jurisdiction}" + (f" (LCD {loc.lcd})" if loc.lcd else "")
        )
    for finding in report.findings:
        colour = {"error": "red", "warning": "yellow", "info": "cyan"}[finding.severity]
        console.print(
            f"[{colour}]{finding.severity.upper():7}[/] [bold]{finding.rule}[/] {escape(finding.message)}",
            highlight=False,
        )
        console.print(f"         fix: {finding.fix}", highlight=False)
        console.print(f"         source: {finding.citation}", style="dim", highlight=False)
    if report.units:
        table = Table("code", "minutes", "billed", "supported", "at risk", title="Units")
        for row in report.units:
            supported = "uncertain" if row.uncertain else str(row.supported) if row.supported is not None else "-"
            table.add_row(
                row.code,
                *(str(v) if v is not None else "-" for v in (row.minutes, row.billed)),
                supported,
                str(row.at_risk),
            )
        console.print(table)
    ext = report.extraction
    if ext and ext.discrepancies:
        console.print(f"[yellow]{len(ext.discrepancies)} model/parser disagreement(s):[/]", highlight=False)
        for d in ext.discrepancies:
            console.print(
                f"  {d.field} (line {d.line}): parser={d.parser} model={d.model} -> used {d.chosen}", highlight=False
            )
    console.print(f"edit tables: {edit_tables_summary(report.edit_tables)}", style="dim", highlight=False)
    console.print(
        f"model: {report.model.backend}/{report.model.model} prompt {report.model.prompt_version}  {report.timing.total_s:.1f} s",
        style="dim",
    )
