"""What every page needs: settings, the model backend, the queue database and the sign-in accounts.

Tests (and embedders) put their own `settings` or `backend` into `st.session_state`; otherwise
the process-wide settings and one shared backend are used.
"""

from __future__ import annotations

import streamlit as st

from reviewer.backends import ModelBackend, get_backend
from reviewer.edit_table_store import EditTableStore
from reviewer.settings import Settings, get_settings
from reviewer.store import ResultStore
from reviewer.triage import Accounts, TriageQueue

LOCAL_ACTOR = "local"  # who acts when no sign-in is configured (a single user on their own machine)


def settings() -> Settings:
    return st.session_state.get("settings") or get_settings()


def backend() -> ModelBackend:
    """The injected backend, else one per process (loading a local model is slow). Raises ModelError."""
    injected = st.session_state.get("backend")
    return injected if injected is not None else _shared_backend()


def queue() -> TriageQueue:
    return _queue_for(settings().database_url)


def edit_tables() -> EditTableStore:
    """The imported CMS edit tables, in the queue's database."""
    return _edit_tables_for(settings().database_url)


def accounts() -> Accounts:
    return Accounts(queue().engine, settings().users)


@st.cache_resource(show_spinner=False)
def result_store(url: str) -> ResultStore:
    """One store (and connection pool) per database, however often the dashboard reruns."""
    return ResultStore(url)


@st.cache_resource(show_spinner="Loading the model…")
def _shared_backend() -> ModelBackend:
    return get_backend(get_settings())


@st.cache_resource(show_spinner="Opening the database…")
def _queue_for(url: str) -> TriageQueue:
    return TriageQueue.open(url)


@st.cache_resource(show_spinner=False)
def _edit_tables_for(url: str) -> EditTableStore:
    return EditTableStore(url)
