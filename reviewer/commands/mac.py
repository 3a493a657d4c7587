"""`reviewer mac STATE`: the Part A/B Medicare Administrative Contractor for a state."""

from __future__ import annotations

import json

import typer
from rich.console import Console

from reviewer.commands.errors import fail
from reviewer.locality import lookup_mac


def register(app: typer.Typer) -> None:
    app.command("mac")(mac)


def mac(
    state: str = typer.Argument(..., help="two-letter state, DC or territory code (or its name)"),
    as_json: bool = typer.Option(False, "--json", help="print JSON"),
) -> None:
    """The A/B MAC (jurisdiction, contractor, PT/OT LCD) for a state."""
    locality = lookup_mac(state)
    if locality is None:
        fail(f"unknown state or territory {state!r}")
    if as_json:
        print(json.dumps(locality.model_dump(), indent=2))
        return
    console = Console()
    console.print(
        f"{locality.state}: {locality.contractor}, Jurisdiction {locality.jurisdiction.removeprefix('J')} ({locality.jurisdiction})",
        highlight=False,
    )
    console.print(f"PT/OT LCD: {locality.lcd or 'not identified'}", highlight=False)
    if locality.note:
        console.print(f"Notes: {locality.note}", highlight=False)
