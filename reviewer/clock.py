"""The one clock parser: clock times and clock ranges as notes write them, for the extraction,
the rules and the evals alike.

"9:02", "09:02", "0902", "9.02 am", "1:15 PM", "9:02a", "13h05"; ranges "9:02-9:27", "1304-1316",
"9:02a–9:17a", "from 9:02 to 9:12 am", "3:00-3:45 pm" (the pm is for both), "12:40-1:25" (a 12-hour
clock that passes noon).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_RANGE_MINUTES = 240  # a treatment block or session longer than four hours is not a clock range
_TIME = r"(\d{1,2})(?::|\.(?=\d{2}\s*[ap])|h)?(\d{2})(?:\s*([ap])\.?(?:m\b\.?)?(?![a-z]))?"
_TIME_RE = re.compile(r"^\s*" + _TIME + r"\s*$", re.IGNORECASE)
_RANGE_RE = re.compile(
    r"(?<![\d/.:])" + _TIME + r"\s*(?:-|–|—|→|to|until|till)\s*" + _TIME + r"(?![\d/]|\s*(?:lbs?|kg|ft|m\b|reps?))",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class ClockRange:
    start: str  # "9:02"
    stop: str  # "9:27"
    minutes: int
    begin: int  # offset of the range in the text searched
    end: int


def _minutes_of_day(hour: int, minute: int, half: str | None) -> int | None:
    if minute >= 60 or hour > 23 or (half and not 1 <= hour <= 12):
        return None
    if half:
        hour = hour % 12 + (12 if half.lower() == "p" else 0)
    return hour * 60 + minute


def parse_clock(text: str | None) -> int | None:
    """Minutes after midnight for one clock time; None if `text` is not one."""
    match = _TIME_RE.match(text or "")
    if not match:
        return None
    return _minutes_of_day(int(match[1]), int(match[2]), match[3])


def interval(start: str | None, stop: str | None) -> tuple[int, int] | None:
    """(start, stop) in minutes of the day; a stop before the start is read on a 12-hour clock."""
    begin, end = parse_clock(start), parse_clock(stop)
    if begin is None or end is None:
        return None
    if end < begin and end + 720 > begin:
        end += 720
    return (begin, end) if end >= begin else None


def minutes_between(start: str | None, stop: str | None) -> int | None:
    """Minutes from one clock time to another, when that is a plausible session (1-240 minutes)."""
    span = interval(start, stop)
    if span is None or not 0 < span[1] - span[0] <= MAX_RANGE_MINUTES:
        return None
    return span[1] - span[0]


def _range_minutes(match: re.Match) -> int | None:
    h1, m1, half1, h2, m2, half2 = match.groups()
    stop = _minutes_of_day(int(h2), int(m2), half2 or half1)
    for start_half in dict.fromkeys([half1 or half2, half1]):  # "3:00-3:45 pm": usually pm for both
        start = _minutes_of_day(int(h1), int(m1), start_half)
        if start is None or stop is None:
            return None
        end = stop + 720 if stop < start and int(h2) < 12 and not half2 else stop
        if 0 < end - start <= MAX_RANGE_MINUTES:
            return end - start
    return None


def find_ranges(text: str) -> list[ClockRange]:
    """Every plausible clock range in `text`, in order."""
    found = []
    for match in _RANGE_RE.finditer(text):
        minutes = _range_minutes(match)
        if minutes is not None:
            h1, m1, _, h2, m2, _ = match.groups()
            found.append(ClockRange(f"{int(h1)}:{m1}", f"{int(h2)}:{m2}", minutes, match.start(), match.end()))
    return found
