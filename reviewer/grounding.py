"""Grounding: find where a piece of text sits in the note. The program computes every offset.

Matching goes exact, then whitespace/case-insensitive, then fuzzy (>= `FUZZY_MIN` similarity);
the evidence keeps the note's own text at the offsets found, so `note[start:end] == text`
always holds for a matched span. A quote that is not in the note gets `match="none"`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property

from rapidfuzz import fuzz

from reviewer.schema import Evidence

FUZZY_MIN = 90.0
HANDLE_WORDS = 6
HANDLE_CHARS = 48
_HANDLE_UNSAFE = re.compile(r'["\\]|[^\x20-\x7e]')  # quotes, backslashes, non-ASCII: trouble in grammars
_WS = re.compile(r"\s+")


@dataclass(frozen=True)
class NumberedNote:
    """The note's non-blank lines, numbered 1.. without gaps as shown to the model, with offsets."""

    text: str
    lines: tuple[str, ...]
    offsets: tuple[int, ...]

    @classmethod
    def from_text(cls, text: str) -> NumberedNote:
        lines, offsets, pos = [], [], 0
        for line in text.split("\n"):
            if line.strip():
                lines.append(line)
                offsets.append(pos)
            pos += len(line) + 1
        return cls(text, tuple(lines), tuple(offsets))

    def render(self) -> str:
        """The lines as the model sees them: inner runs of spaces collapsed (fewer tokens)."""
        return "\n".join(_WS.sub(" ", line.strip()) for line in self.lines)

    @cached_property
    def handles(self) -> list[str]:
        """Each line's handle: its first words (made unique with " #k"), the model's line pointers."""
        seen: dict[str, int] = {}
        out = []
        for line in self.lines:
            words = _HANDLE_UNSAFE.sub("", _WS.sub(" ", line.strip())).split(" ")
            handle = " ".join(words[:HANDLE_WORDS])[:HANDLE_CHARS].strip() or "(line)"
            count = seen.get(handle, 0) + 1
            seen[handle] = count
            out.append(handle if count == 1 else f"{handle} #{count}")
        return out

    def line_of_handle(self, handle: str | None) -> int | None:
        """The line number a handle names (None for a handle that is not this note's)."""
        if handle is None:
            return None
        try:
            return self.handles.index(handle) + 1
        except ValueError:
            return None

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
