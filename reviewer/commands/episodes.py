"""`reviewer episodes OUT`: list the episodes a batch found, with their findings; draft an authorization request."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from reviewer.commands.errors import fail
from reviewer.episode_outputs import episode_lines, read_episodes, write_episodes
from reviewer.fee_schedule import FeeScheduleError, load_fee_schedule
from reviewer.rules.episode import evaluate_episodes


def register(app: typer.Typer) -> None:
    app.command("episodes")(episodes)


def episodes(
    out: Path = typer.Argument(..., help="a batch output folder (reviewer batch ... --out OUT)"),
    fee_schedule: Optional[Path] = typer.Option(
        None, "--fee-schedule", help="CSV of allowed amounts (code, amount, year): re-run the episode rules with it"
    ),
    authorization: Optional[str] = typer.Option(
        None, "--authorization", help="draft an authorization request for this patient id (P-..., as listed)"
    ),
    as_json: bool = typer.Option(False, "--json", help="print the episodes as JSON"),
) -> None:
    """List a batch's episodes (a patient's notes under one plan of care) and their findings.

    Patients appear as keyed-hash ids; no identifier is printed. Exit status: 0 listed, 2 usage error.
    """
    try:
        found = read_episodes(out)
    except FileNotFoundError:
        fail(f"{out}: no episodes.json (run reviewer batch FOLDER --out {out} first)")
    if fee_schedule is not None:
        try:
            evaluate_episodes(found.episodes, fee_schedule=load_fee_schedule(fee_schedule))
        except FeeScheduleError as exc:
            fail(str(exc))
        write_episodes(found, out)
    if authorization is not None:
        from reviewer.authorization import draft_request, load_reports

        chosen = [e for e in found.episodes if e.patient == authorization.strip()]
        if not chosen:
            fail(f"no episode of patient {authorization!r} in {out} (patients: see reviewer episodes {out})")
        typer.echo(draft_request(chosen[-1], load_reports(out)).text())
        return
    if as_json:
        typer.echo(found.model_dump_json(indent=1))
        return
    for line in episode_lines(found):
        typer.echo(line)
