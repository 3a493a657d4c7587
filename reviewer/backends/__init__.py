"""Model backends behind one interface: `complete(messages, schema) -> Completion`."""

from __future__ import annotations

from pathlib import Path

from reviewer.backends.base import Completion, ModelBackend, ModelError
from reviewer.settings import Settings

__all__ = ["Completion", "ModelBackend", "ModelError", "get_backend"]


def get_backend(settings: Settings, name: str | None = None) -> ModelBackend:
    """The backend named by `name` or `settings.backend`; wrapped to record when `settings.record`."""
    from reviewer.model_files import MODEL_ID

    choice = name or settings.backend
    if choice == "embedded":
        from reviewer.backends.embedded import EmbeddedBackend

        backend: ModelBackend = EmbeddedBackend(settings)
    elif choice == "openai":
        from reviewer.backends.openai_compat import OpenAIBackend

        backend = OpenAIBackend(settings)
    elif choice == "replay":
        from reviewer.backends.replay import ReplayBackend

        return ReplayBackend(_recordings_dir(settings), settings.replay_model or MODEL_ID)
    else:
        raise ModelError(f"unknown backend {choice!r} (embedded, openai or replay)")
    if settings.record:
        from reviewer.backends.replay import RecordingBackend

        return RecordingBackend(backend, _recordings_dir(settings))
    return backend


def _recordings_dir(settings: Settings) -> Path:
    if settings.recordings_dir is None:
        raise ModelError("replay and recording need a recordings folder: set REVIEWER_RECORDINGS_DIR")
    return settings.recordings_dir
