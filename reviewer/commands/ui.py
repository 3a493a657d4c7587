"""`reviewer ui` starts the Streamlit app; `reviewer users` manages who may sign in to it."""

from __future__ import annotations

import importlib.util
import math
import os
import sys
from pathlib import Path

import typer

from reviewer.commands.errors import fail

users_app = typer.Typer(help="Reviewers who sign in to the UI (bcrypt-hashed passwords).", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.command("ui")(ui)
    app.add_typer(users_app, name="users")  # the users exist for the UI's sign-in, so they live here


def ui(
    port: int = typer.Option(8501, help="Port to serve the app on."),
    host: str = typer.Option(
        "127.0.0.1", help="Address to listen on (notes are PHI: keep it local unless behind TLS)."
    ),
    db: str | None = typer.Option(None, help="Database URL for the queue (default REVIEWER_DATABASE_URL)."),
) -> None:
    """Open the reviewer app in the browser: review a note, the batch dashboard and the triage queue."""
    from reviewer.migrations import upgrade
    from reviewer.settings import Settings

    settings = Settings(database_url=db) if db else Settings()
    upgrade(settings.database_url)  # a bad URL fails here, with its message, not inside the app
    env = dict(os.environ, REVIEWER_DATABASE_URL=settings.database_url)
    upload_limit_mb = max(1, math.ceil(settings.max_input_bytes / 1_000_000))
    command = [
        sys.executable, "-m", "streamlit", "run", str(_app_path()),
        "--server.port", str(port),
        "--server.address", host,
        "--server.headless", "true",
        "--server.maxUploadSize", str(upload_limit_mb),
        "--browser.gatherUsageStats", "false",
        "--client.toolbarMode", "minimal",
    ]  # fmt: skip
    typer.echo(f"Reviewer app: http://{host}:{port}  (Ctrl+C to stop)")
    os.execve(sys.executable, command, env)  # become the server: signals reach it and nothing is orphaned


def _app_path() -> Path:
    """The Streamlit entry file, found without importing the app (the library never imports it)."""
    spec = importlib.util.find_spec("reviewer.ui")
    if spec is None or not spec.submodule_search_locations:
        raise typer.BadParameter("the reviewer app is not installed (reviewer.ui is missing)")
    return Path(next(iter(spec.submodule_search_locations))) / "app.py"


@users_app.command("add")
def add_user(
    username: str = typer.Argument(..., help="The reviewer's sign-in name."),
    db: str | None = typer.Option(None, help="Database URL (default REVIEWER_DATABASE_URL)."),
    role: str = typer.Option(
        "reviewer",
        help="reviewer (review notes, work the queue) or admin (also the dashboard, audit trail and exports).",
    ),
) -> None:
    """Create a reviewer (or set a new password and role) in the database; the password is asked for."""
    from reviewer.settings import Settings
    from reviewer.triage import Accounts, TriageQueue, UserError

    password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    settings = Settings(database_url=db) if db else Settings()
    queue = TriageQueue.open(settings.database_url)
    try:
        Accounts(queue.engine).add(username, password, actor=f"cli:{os.environ.get('USER', 'unknown')}", role=role)
    except UserError as exc:
        fail(str(exc))
    finally:
        queue.close()
    typer.echo(f"{username} can now sign in ({role}).")


@users_app.command("hash")
def hash_command() -> None:
    """Print a bcrypt hash of a password, for REVIEWER_USERS="name:<hash>,..."."""
    from reviewer.triage import UserError, hash_password

    password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        typer.echo(hash_password(password))
    except UserError as exc:
        fail(str(exc))
