"""Replay: recorded raw outputs of a real model, so tests run the full pipeline without one.

A recording is keyed by the sha256 of the exact messages (which hold the prompt version and the
note) and the model id. `RecordingBackend` wraps a real backend and writes recordings.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from reviewer.backends.base import Completion, ModelBackend, ModelError


def recording_key(messages: list[dict[str, str]], model_id: str) -> str:
    payload = json.dumps({"model": model_id, "messages": messages}, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


class ReplayBackend:
    name = "replay"

    def __init__(self, recordings_dir: Path, model_id: str):
        self.recordings_dir = Path(recordings_dir)
        self.model_id = model_id

    def complete(self, messages: list[dict[str, str]], schema: dict) -> Completion:
        path = self.recordings_dir / f"{recording_key(messages, self.model_id)}.json"
        if not path.exists():
            raise ModelError(
                f"no recording for this note, prompt and model ({self.model_id}) in {self.recordings_dir}; "
                "record one with REVIEWER_RECORD=1 and the real backend"
            )
        record = json.loads(path.read_text(encoding="utf-8"))
        return Completion(**record["completion"])


class RecordingBackend:
    """Calls `inner` and stores each answer for `ReplayBackend`."""

    def __init__(self, inner: ModelBackend, recordings_dir: Path):
        self.inner = inner
        self.recordings_dir = Path(recordings_dir)
        self.name = inner.name
        self.model_id = inner.model_id

    def complete(self, messages: list[dict[str, str]], schema: dict) -> Completion:
        completion = self.inner.complete(messages, schema)
        self.recordings_dir.mkdir(parents=True, exist_ok=True)
        key = recording_key(messages, self.model_id)
        record = {"model": self.model_id, "completion": completion.model_dump()}
        (self.recordings_dir / f"{key}.json").write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
        return completion
