"""Schema migrations for every table on `reviewer.db.Base` (review store and triage queue).

The app and the store call `upgrade(url)` on start, so a new database or an older one is
brought to the current schema without a separate step.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import MetaData, text

from reviewer.db import Base, make_engine

MIGRATIONS_DIR = Path(__file__).resolve().parent
# Any constant works; it only has to be the same for every process migrating one PostgreSQL database.
_PG_MIGRATION_LOCK = 7_953_053_001


def target_metadata() -> MetaData:
    """The metadata the migrations must match: every model module imported."""
    import reviewer.triage.models  # noqa: F401  (registers the triage tables on Base)

    return Base.metadata


def alembic_config() -> Config:
    return Config(str(MIGRATIONS_DIR / "alembic.ini"))


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the database at `url` to `revision`; concurrent callers on PostgreSQL take turns."""
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK})
            config = alembic_config()
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
    finally:
        engine.dispose()
