"""How every command reports what stopped it: one line on stderr, "error: ...", and its exit status."""

from __future__ import annotations

from typing import NoReturn

import typer
from sqlalchemy.exc import SQLAlchemyError


def fail(message: str, code: int = 2) -> NoReturn:
    """Stop the command: `message` on stderr, exit status `code` (2: a usage or input error)."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def one_line(exc: Exception, store: str = "result store") -> str:
    """An exception as the first line of its message; a database error names `store` and its kind."""
    if isinstance(exc, SQLAlchemyError):
        return f"{store}: {type(exc).__name__}: {str(exc).splitlines()[0]}"
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
