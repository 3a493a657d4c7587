"""`reviewer units`: the units that timed minutes support, and what a billing over- or under-bills."""

from __future__ import annotations

import json
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from reviewer.codes import CODE_PATTERN, code_info, is_timed, normalize_code
from reviewer.commands.errors import fail
from reviewer.payers import get_payer, payer_profiles
from reviewer.units import UnitAllocation, allocate, compare_billed

METHOD_NAMES = {
    "medicare": "CMS total-time method (Pub. 100-04 Ch. 5 §20.2)",
    "per_code": "AMA/CPT per-code method (each code needs its own 8 minutes per unit)",
}


def register(app: typer.Typer) -> None:
    app.command("units")(units)


def units(
    minutes: list[str] = typer.Argument(..., metavar="CODE=MIN...", help="minutes per code, e.g. 97530=25 97110=15"),
    payer: str = typer.Option(
        "medicare", help="medicare (CMS total-time) or commercial (per-code), or a payer profile"
    ),
    billed: Optional[list[str]] = typer.Option(
        None, "--billed", metavar="CODE=UNITS", help="units billed; repeat the option or separate with commas"
    ),
    as_json: bool = typer.Option(False, "--json", help="print JSON"),
) -> None:
    """Units supported by timed minutes; with --billed, what is over- or under-billed."""
    try:
        profile = get_payer(payer)
        if profile is None:
            raise ValueError(f"unknown payer {payer!r}; use one of {', '.join(payer_profiles())}")
        by_code = _parse_pairs(minutes, "minutes")
        billed_units = _parse_pairs(
            [part for item in billed or [] for part in item.split(",") if part.strip()], "units"
        )
    except ValueError as exc:
        fail(str(exc))
    timed = {code: m for code, m in by_code.items() if is_timed(code)}
    untimed = {code: m for code, m in by_code.items() if not is_timed(code)}
    allocation = allocate(timed, profile.unit_method, billed={c: u for c, u in billed_units.items() if is_timed(c)})
    summary = _summary(allocation, untimed, billed_units)
    if as_json:
        print(json.dumps(summary, indent=2))
    else:
        _print(summary, allocation)


def _parse_pairs(items: list[str], what: str) -> dict[str, int]:
    """ "97530=25" items to {"97530": 25}; a repeated code adds up."""
    out: dict[str, int] = {}
    for item in items:
        code, sep, value = item.partition("=")
        code = normalize_code(code)
        if not sep or not CODE_PATTERN.match(code) or not value.strip().isdigit():
            raise ValueError(f"expected CODE={what.upper()} with a whole number of {what}, got {item!r}")
        if code_info(code) is None:
            raise ValueError(f"{code} is not in the code table (reviewer/data/codes.yaml)")
        out[code] = out.get(code, 0) + int(value)
    return out


def _summary(allocation: UnitAllocation, untimed: dict[str, int], billed: dict[str, int]) -> dict:
    rows = compare_billed(allocation, {c: u for c, u in billed.items() if is_timed(c)})
    summary: dict = {
        "method": allocation.method,
        "total_timed_minutes": allocation.total_timed_minutes,
        "total_units": allocation.total_units,
        "units": allocation.units,
        "tied": allocation.tied,
        "alternatives": allocation.alternatives,
        "untimed": {code: {"minutes": m, "units": 1} for code, m in untimed.items()},
    }
    if billed:
        untimed_billed = {code: units for code, units in billed.items() if not is_timed(code)}
        summary["billed"] = billed
        summary["over"] = {
            r.code: (r.billed or 0) - r.supported
            for r in rows
            if r.supported is not None and (r.billed or 0) > r.supported
        }
        summary["over"].update({code: units - 1 for code, units in untimed_billed.items() if units > 1})
        summary["under"] = {
            r.code: r.supported - (r.billed or 0)
            for r in rows
            if r.supported is not None and (r.billed or 0) < r.supported
        }
        summary["not_documented"] = [r.code for r in rows if r.supported is None]
    return summary


def _print(summary: dict, allocation: UnitAllocation) -> None:
    console = Console()
    console.print(f"Method: {METHOD_NAMES[allocation.method]}", highlight=False)
    console.print(
        f"Total timed minutes: {summary['total_timed_minutes']}   Total timed units: {summary['total_units']}",
        highlight=False,
    )
    table = Table("code", "minutes", "units")
    has_billed = "billed" in summary
    if has_billed:
        table.add_column("billed")
        table.add_column("over/under")
    codes = [
        *allocation.units,
        *summary["untimed"],
        *(c for c in summary.get("billed", {}) if c not in allocation.units and c not in summary["untimed"]),
    ]
    for code in codes:
        minutes = allocation.minutes.get(code, summary["untimed"].get(code, {}).get("minutes"))
        units = allocation.units.get(code)
        if code in summary["untimed"] or (units is None and not is_timed(code)):
            units_text = "1 (untimed)"
        else:
            units_text = "?" if units is None else str(units)
        row = [code, "-" if minutes is None else str(minutes), units_text]
        if has_billed:
            row += [str(summary["billed"].get(code, "-")), _difference(summary, code)]
        table.add_row(*row)
    console.print(table)
    if summary["tied"]:
        console.print(
            f"Tie: the extra unit may go to any of {', '.join(summary['tied'])} (CMS: either code).", highlight=False
        )


def _difference(summary: dict, code: str) -> str:
    if code in summary["over"]:
        return f"over by {summary['over'][code]}"
    if code in summary["under"]:
        return f"under by {summary['under'][code]}"
    if code in summary["not_documented"]:
        return "no minutes documented"
    return "ok"
