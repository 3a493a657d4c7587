"""Alembic migrations build exactly the tables the models declare, on SQLite and PostgreSQL."""

from __future__ import annotations

import importlib
import pkgutil
import threading

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, select, text
from test_queue import db_url, make_report  # noqa: F401  (db_url is a fixture: SQLite and PostgreSQL)

import reviewer
from reviewer.db import Base, ReviewResult
from reviewer.migrations import alembic_config, upgrade
from reviewer.store import ResultStore


def _every_model_imported():
    """Import every reviewer module, so a table declared anywhere is on Base.metadata."""
    for module in pkgutil.walk_packages(reviewer.__path__, "reviewer."):
        if module.name.startswith("reviewer.migrations."):  # alembic scripts, run only by alembic
            continue
        try:
            importlib.import_module(module.name)
        except ImportError:  # optional extras (the embedded model) are not installed everywhere
            continue
    return Base.metadata


def _head() -> str:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def _revision(engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def test_migrations_create_every_table_the_models_declare(db_url):  # noqa: F811
    metadata = _every_model_imported()
    upgrade(db_url)
    engine = create_engine(db_url)
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection, opts={"compare_type": True}), metadata)
    assert differences == [], "a model changed without a migration: add one in reviewer/migrations/versions"
    assert set(metadata.tables) <= set(inspect(engine).get_table_names())
    assert _revision(engine) == _head()
    engine.dispose()


def test_upgrading_twice_changes_nothing(db_url):  # noqa: F811
    upgrade(db_url)
    upgrade(db_url)
    engine = create_engine(db_url)
    assert _revision(engine) == _head()
    engine.dispose()


def test_a_database_made_by_create_all_is_adopted_with_its_rows(db_url):  # noqa: F811
    store = ResultStore(db_url)  # the store makes its tables with create_all, outside Alembic
    store.put(make_report("kept"))
    store.close()
    upgrade(db_url)
    engine = create_engine(db_url)
    with engine.connect() as connection:
        assert connection.scalars(select(ReviewResult.note_id)).all() == ["kept"]
        assert "triage_items" in inspect(connection).get_table_names()
    assert _revision(engine) == _head()
    engine.dispose()


def test_downgrade_removes_every_table_and_upgrade_restores_them(tmp_path):
    url = f"sqlite:///{tmp_path / 'down.db'}"
    upgrade(url)
    engine = create_engine(url)
    with engine.begin() as connection:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.downgrade(config, "base")
    assert inspect(engine).get_table_names() == ["alembic_version"]
    upgrade(url)
    assert "triage_audit_events" in inspect(engine).get_table_names()
    engine.dispose()


def test_processes_starting_together_migrate_once(db_url):  # noqa: F811
    if db_url.startswith("sqlite"):
        pytest.skip("concurrent migration is serialised with a PostgreSQL advisory lock")
    errors: list[BaseException] = []

    def migrate():
        try:
            upgrade(db_url)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=migrate) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    engine = create_engine(db_url)
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM alembic_version")).scalar() == 1
    engine.dispose()
