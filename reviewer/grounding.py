"""Grounding: the note as numbered units, each with its offsets. The program computes every
offset, so an evidence span always holds `note[start:end] == text`; the model only names units.

Text in the note addressed to the reviewer or the model ("ignore previous instructions", "SYSTEM:",
a JSON answer) is blanked out of the units, from where it starts to the end of its line or table
cell: neither
the model nor the program's cue witnesses read it, and the offsets of everything else stay put.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from reviewer.data import load_yaml
from reviewer.schema import Evidence

_WS = re.compile(r"\s+")


SPLIT_OVER = 180  # a physical line longer than this is shown to the model sentence by sentence
_SENTENCE_END = re.compile(r"(?<=[.;!?])\s+(?=\S)")
MIN_SENTENCE = 12


@dataclass(frozen=True)
class NumberedNote:
    """The note's units, numbered 1.. as shown to the model, with their offsets.

    A unit is a non-blank line; a long line (a dictated paragraph) is split into its sentences, so
    evidence and treatment blocks can be narrower than a paragraph. `breaks[i]` says a blank line
    (or the start) comes before unit i+1; `joined[i]` says unit i+1 continues the same physical line.
    """

    text: str
    lines: tuple[str, ...]
    offsets: tuple[int, ...]
    breaks: tuple[bool, ...] = ()
    joined: tuple[bool, ...] = ()
    instructions: tuple[tuple[int, int], ...] = ()  # (start, end) of text addressed to the reader, left out

    @classmethod
    def from_text(cls, text: str) -> NumberedNote:
        lines: list[str] = []
        offsets: list[int] = []
        breaks: list[bool] = []
        joined: list[bool] = []
        masked, instructions = mask_instructions(text)
        pos, blank_before = 0, True
        for line in masked.split("\n"):
            if not line.strip():
                blank_before = True
            else:
                for index, (start, piece) in enumerate(_sentences(line)):
                    lines.append(piece)
                    offsets.append(pos + start)
                    breaks.append(blank_before and index == 0)
                    joined.append(index > 0)
                blank_before = False
            pos += len(line) + 1
        return cls(text, tuple(lines), tuple(offsets), tuple(breaks), tuple(joined), tuple(instructions))

    def render(self) -> str:
        """The units as the model sees them, numbered, inner runs of spaces collapsed (fewer tokens)."""
        return "\n".join(f"[{n}] {_WS.sub(' ', line.strip())}" for n, line in enumerate(self.lines, 1))

    def has_line(self, number: int | None) -> bool:
        return number is not None and 1 <= number <= len(self.lines)

    def line_at(self, offset: int | None) -> int | None:
        """The number of the line that holds `offset` (None if it falls on a blank line)."""
        if offset is None:
            return None
        for number, start in enumerate(self.offsets, 1):
            if start <= offset < start + len(self.lines[number - 1]):
                return number
        return None

    def line_evidence(self, number: int, supports: str = "") -> Evidence | None:
        """The whole (stripped) line as an evidence span; None for a line that does not exist."""
        if not self.has_line(number):
            return None
        raw = self.lines[number - 1]
        lead = len(raw) - len(raw.lstrip())
        start = self.offsets[number - 1] + lead
        stripped = raw.strip()
        return Evidence(text=stripped, start=start, end=start + len(stripped), match="exact", supports=supports)


def _sentences(line: str) -> list[tuple[int, str]]:
    """A line as (offset, text) pieces: itself, or its sentences when it is a long paragraph."""
    if len(line) <= SPLIT_OVER or line.count("|") >= 2 or line.count("\t") >= 2:  # a table row stays whole
        return [(0, line)]
    pieces: list[tuple[int, str]] = []
    start = 0
    for match in _SENTENCE_END.finditer(line):
        if match.start() - start >= MIN_SENTENCE:
            pieces.append((start, line[start : match.start()]))
            start = match.end()
    pieces.append((start, line[start:]))
    return pieces


def mask_instructions(text: str) -> tuple[str, list[tuple[int, int]]]:
    """`text` with each instruction to the reader blanked (spaces, to the end of its line or cell),
    and the (start, end) of each span blanked."""
    spans: list[tuple[int, int]] = []
    for match in _instruction_re().finditer(text):
        cell_end = _CELL_END.search(text, match.end())
        end = cell_end.start() if cell_end else len(text)
        if spans and match.start() < spans[-1][1]:
            continue
        spans.append((match.start(), end))
    masked = list(text)
    for start, end in spans:
        masked[start:end] = " " * (end - start)
    return "".join(masked), spans


_CELL_END = re.compile(r"[\n|\t]")  # an instruction runs to the end of its line or table cell


@cache
def _instruction_re() -> re.Pattern:
    return re.compile(
        "|".join(f"(?:{p})" for p in load_yaml("cues.yaml")["instructions"]), re.IGNORECASE | re.MULTILINE
    )
