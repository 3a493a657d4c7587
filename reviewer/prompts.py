"""Prompt templates from `prompts/`: the version is recorded in every report.

Every question's messages put the static instructions first (cached across notes), then the note
and its blocks (cached across the questions of one note), then the question, so each question costs
only its own few tokens.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml


@dataclass(frozen=True)
class PromptTemplate:
    name: str
    version: str
    system: str
    questions: dict[str, str]
    retry: str

    def messages(self, context: str, question: str, **fields: object) -> list[dict[str, str]]:
        """The messages for one question about the note shown in `context`."""
        text = self.questions[question].format(**fields) if fields else self.questions[question]
        return [
            {"role": "system", "content": self.system.strip()},
            {"role": "user", "content": f"{context}\n\nQUESTION: {text.strip()}"},
        ]

    def follow_up(
        self, messages: list[dict[str, str]], answer: str, question: str, **fields: object
    ) -> list[dict[str, str]]:
        """The conversation so far, the model's answer, and the next question on it."""
        text = self.questions[question].format(**fields)
        return messages + [{"role": "assistant", "content": answer}, {"role": "user", "content": text.strip()}]

    def retry_messages(self, messages: list[dict[str, str]], bad_output: str, error: str) -> list[dict[str, str]]:
        """The conversation plus the invalid answer and the validation error, for one retry."""
        return messages + [
            {"role": "assistant", "content": bad_output[:2000]},
            {"role": "user", "content": self.retry.format(error=error[:800]).strip()},
        ]


@lru_cache(maxsize=8)
def load_prompt(prompts_dir: Path, name: str) -> PromptTemplate:
    path = Path(prompts_dir) / f"{name}.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return PromptTemplate(
        name=name,
        version=str(data["version"]),
        system=data["system"],
        questions={key: str(value) for key, value in data["questions"].items()},
        retry=data["retry"],
    )
