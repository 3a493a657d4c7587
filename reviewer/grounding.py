"""Grounding: find where a piece of text sits in the note. The program computes every offset.

Matching goes exact, then whitespace/case-insensitive, then fuzzy (>= `FUZZY_MIN` similarity);
the evidence keeps the note's own text at the offsets found, so `note[start:end] == text`
always holds for a matched span. A quote that is not in the note gets `match="none"`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rapidfuzz import fuzz

from reviewer.schema import Evidence

FUZZY_MIN = 90.0
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

    @classmethod
    def from_text(cls, text: str) -> NumberedNote:
        lines: list[str] = []
        offsets: list[int] = []
        breaks: list[bool] = []
        joined: list[bool] = []
        pos, blank_before = 0, True
        for line in text.split("\n"):
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
        return cls(text, tuple(lines), tuple(offsets), tuple(breaks), tuple(joined))

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


def locate(note: str, quote: str, supports: str = "", *, fuzzy: bool = True) -> Evidence:
    """Evidence for `quote` in `note`, with offsets and how it matched."""
    quote = quote.strip()
    if not quote:
        return Evidence(text=quote, match="none", supports=supports)
    start = note.find(quote)
    if start >= 0:
        return Evidence(text=quote, start=start, end=start + len(quote), match="exact", supports=supports)
    span = _normalized_find(note, quote)
    if span is not None:
        return Evidence(text=note[span[0] : span[1]], start=span[0], end=span[1], match="normalized", supports=supports)
    if fuzzy and len(quote) >= 4:
        alignment = fuzz.partial_ratio_alignment(quote.lower(), note.lower())
        if alignment is not None and alignment.score >= FUZZY_MIN:
            s, e = alignment.dest_start, alignment.dest_end
            return Evidence(text=note[s:e], start=s, end=e, match="fuzzy", supports=supports)
    return Evidence(text=quote, match="none", supports=supports)


def _normalized_find(note: str, quote: str) -> tuple[int, int] | None:
    """Find `quote` ignoring case and runs of whitespace; offsets refer to the original note."""
    norm_chars: list[str] = []
    index_map: list[int] = []
    previous_space = False
    for i, ch in enumerate(note):
        if ch.isspace():
            if previous_space:
                continue
            norm_chars.append(" ")
            previous_space = True
        else:
            norm_chars.append(ch.lower())
            previous_space = False
        index_map.append(i)
    normalized = "".join(norm_chars)
    needle = _WS.sub(" ", quote).lower()
    pos = normalized.find(needle)
    if pos < 0:
        return None
    start = index_map[pos]
    end = index_map[pos + len(needle) - 1] + 1
    return start, end


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
