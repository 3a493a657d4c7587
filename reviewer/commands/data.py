"""`reviewer data ...`: import the CMS edit tables the user downloads (NCCI PTP, MUE) and list them."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Optional

import typer
from sqlalchemy.exc import SQLAlchemyError

from reviewer.cms_files import EditFileError
from reviewer.commands.errors import fail, one_line
from reviewer.edit_table_store import EditTableStore, ImportResult, KeepMode
from reviewer.edit_tables import TABLE_LABELS, TableVersion, staleness
from reviewer.settings import get_settings

data_app = typer.Typer(
    help="CMS edit tables (NCCI PTP pairs, MUEs) imported from the files CMS publishes each quarter.",
    no_args_is_help=True,
)

_DB = typer.Option(None, "--db", help="SQLAlchemy URL of the database [default: REVIEWER_DATABASE_URL]")
_ALL = typer.Option(False, "--all-codes", help="keep every row, not only those of the therapy codes (data/codes.yaml)")


def register(app: typer.Typer) -> None:
    app.add_typer(data_app, name="data")


@data_app.command("import-ncci")
def import_ncci(
    paths: list[Path] = typer.Argument(..., help="the ccipra-v###r#-f1 … -f4 files (.txt or .xlsx) of one version"),
    version: Optional[str] = typer.Option(None, help="table version, e.g. v321r0 [default: from the file names]"),
    effective: Optional[str] = typer.Option(
        None, help="first date of service of the version, YYYY-MM-DD [default: the quarter its number names]"
    ),
    all_codes: bool = _ALL,
    db: Optional[str] = _DB,
) -> None:
    """Import the Medicare NCCI PTP practitioner edits. Importing a file again changes nothing."""
    store = _open(db)
    try:
        result = store.import_ptp(paths, version=version, effective=_date(effective), keep=_keep(all_codes))
    except (EditFileError, SQLAlchemyError) as exc:
        fail(one_line(exc, "database"))
    finally:
        store.close()
    _report(result)


@data_app.command("import-mue")
def import_mue(
    path: Path = typer.Argument(..., help="the practitioner services MUE file (.csv, .txt or .xlsx)"),
    version: Optional[str] = typer.Option(None, help="table version [default: the quarter of the effective date]"),
    effective: Optional[str] = typer.Option(
        None, help="first date of service, YYYY-MM-DD [default: from the file name, …_Eff_MM-DD-YYYY]"
    ),
    all_codes: bool = _ALL,
    db: Optional[str] = _DB,
) -> None:
    """Import the Medicare practitioner services MUE table. Importing the file again changes nothing."""
    store = _open(db)
    try:
        result = store.import_mue(path, version=version, effective=_date(effective), keep=_keep(all_codes))
    except (EditFileError, SQLAlchemyError) as exc:
        fail(one_line(exc, "database"))
    finally:
        store.close()
    _report(result)


@data_app.command("list")
def list_tables(
    as_of: Optional[str] = typer.Option(
        None, "--date", help="date of service to check the tables against, YYYY-MM-DD [default: today]"
    ),
    as_json: bool = typer.Option(False, "--json", help="print JSON"),
    db: Optional[str] = _DB,
) -> None:
    """What is loaded: table, version, rows read and kept, effective range; warns when the newest
    table of a kind ends before the date of service."""
    day = _date(as_of) or date.today()
    store = EditTableStore.open_existing(db or get_settings().database_url)
    versions = store.versions() if store else []
    if store:
        store.close()
    newest: dict[str, TableVersion] = {}
    for v in versions:
        if v.kind not in newest or v.effective_from > newest[v.kind].effective_from:
            newest[v.kind] = v
    warnings = [w for kind in TABLE_LABELS if (w := _warning(kind, newest.get(kind), day))]
    if as_json:
        rows = [_row(v) for v in versions]
        print(json.dumps({"tables": rows, "date": day.isoformat(), "warnings": warnings}, indent=2))
        return
    if not versions:
        typer.echo("No CMS edit tables imported (reviewer data import-ncci / import-mue).")
    for v in versions:
        to = v.effective_to.isoformat() if v.effective_to else "open"
        kept = "therapy codes only" if v.kept == "therapy" else "all codes"
        typer.echo(
            f"{TABLE_LABELS[v.kind]:24} {v.version:10} {v.effective_from.isoformat()} to {to:10}  "
            f"{v.rows_kept:,} of {v.rows_read:,} rows kept ({kept}); files: {', '.join(v.files)}"
        )
    for warning in warnings:
        typer.echo(f"warning: {warning}", err=True)


def _warning(kind: str, newest: TableVersion | None, day: date) -> str | None:
    if newest is None:
        return f"no {TABLE_LABELS[kind]} table imported" + (
            ": the NCCI rules use the bundled, unverified pairs" if kind == "ncci_ptp" else ": MUEs are not checked"
        )
    return staleness(newest, day)


def _row(v: TableVersion) -> dict[str, object]:
    return {
        "table": v.kind,
        "version": v.version,
        "effective_from": v.effective_from.isoformat(),
        "effective_to": v.effective_to.isoformat() if v.effective_to else None,
        "rows_read": v.rows_read,
        "rows_kept": v.rows_kept,
        "kept": v.kept,
        "files": list(v.files),
    }


def _report(result: ImportResult) -> None:
    label = f"{TABLE_LABELS[result.kind]} {result.version}"
    if not result.changed:
        typer.echo(f"{label}: already imported ({', '.join(result.unchanged)}); nothing changed.")
        return
    typer.echo(
        f"{label}: imported {', '.join(result.imported)}"
        + (f" (already there: {', '.join(result.unchanged)})" if result.unchanged else "")
        + f"; {result.rows_kept:,} of {result.rows_read:,} rows kept."
    )


def _open(db: str | None) -> EditTableStore:
    try:
        return EditTableStore(db or get_settings().database_url)
    except SQLAlchemyError as exc:
        fail(one_line(exc, "database"))


def _keep(all_codes: bool) -> KeepMode:
    return "all" if all_codes else "therapy"


def _date(text: str | None) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        fail(f"{text!r} is not a date (YYYY-MM-DD)")
