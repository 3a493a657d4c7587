"""Prompt templates from `prompts/`: the version is recorded in every report.

The messages put everything static first (instructions, worked example) and the note last, so
llama.cpp reuses its cache of the shared prefix from one note to the next.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from reviewer.grounding import NumberedNote


@dataclass(frozen=True)
class PromptTemplate:
    name: str
    version: str
    system: str
    examples: tuple[tuple[str, str], ...]  # (note, expected output) pairs shown as earlier turns
    retry: str

    def messages(self, note: NumberedNote) -> list[dict[str, str]]:
        messages = [{"role": "system", "content": self.system.strip()}]
        for example_note, example_output in self.examples:
            messages.append({"role": "user", "content": "NOTE:\n" + NumberedNote.from_text(example_note).render()})
            messages.append({"role": "assistant", "content": example_output.strip()})
        messages.append({"role": "user", "content": "NOTE:\n" + note.render()})
        return messages

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
        examples=tuple((example["note"], example["output"]) for example in data["examples"]),
        retry=data["retry"],
    )
