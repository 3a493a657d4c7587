"""The `reviewer` command line. Each sub-command lives in `reviewer/commands/<name>.py`."""

from __future__ import annotations

from importlib.metadata import entry_points

import typer

from reviewer.commands import batch, bench, data, episodes, mac, review, ui, units

app = typer.Typer(
    name="reviewer",
    help="Review outpatient PT/OT daily notes (CPT 97530 and the codes billed with it) before billing.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

for _command in (review, units, mac, batch, episodes, bench, ui, data):
    _command.register(app)

# Commands that live outside the core library (the eval harness) are mounted through entry points,
# so `reviewer` never imports them itself.
for _entry in entry_points(group="reviewer.commands"):
    _entry.load()(app)
