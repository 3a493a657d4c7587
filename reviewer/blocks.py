"""Treatment blocks: every unit of the note that documents one service, with the minutes each
witness on those units reads.

A block opens on a unit that names a code or a service, starts with a clock range, or states
minutes; it takes in the units that continue it (the rest of a dictated paragraph, wrapped or
indented lines, lettered sub-items, a subtotal of its own code) and closes at a blank line, a
labelled section, another block, a total or a charge line. Layout decides, not vocabulary: a
block's kind is the model's reading, its minutes are reconciled in `reviewer.reconcile`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from itertools import pairwise

from reviewer import clock, parsing
from reviewer.grounding import NumberedNote

# A number standing at the end of a unit after leader dots or a wide gap: a minutes column
# ("bus-step simulation ..... 9", "THER EX ...  14 min").
_LEADER_RE = re.compile(
    r"(?:\.{2,}|…+|_{2,}|\s{3,}|\t|\s[—–]\s*(?=\())\s*\(?(\d{1,3})\)?\s*(?:min(?:utes?|s)?\.?|'|m)?\s*$", re.IGNORECASE
)
# "Min: 32", "Minutes : 25", "Min 10", "Time: 12 min"
_FIELD_RE = re.compile(
    r"(?<![A-Za-z])(?<!timed )(?<!total )(?<!tx )(?:min(?:utes?|s)?|time)\s*[:=]?\s*(\d{1,3})(?![\d:/])", re.IGNORECASE
)
_FIELD_LINE_RE = re.compile(
    r"^\s*(?:min(?:utes?|s)?|time)\s*(?:\(min\))?\s*[:=.]+\s*(\d{1,3})(?![\d:/])", re.IGNORECASE
)
_SUBTOTAL_RE = re.compile(r"\b(?:sub-?total|total)\b", re.IGNORECASE)
_SUB_ITEM_RE = re.compile(r"^\s*(?:[a-z][.)]|\(?[ivx]+\)|[-*•·◦▪]|\d{1,2}[.)])\s+", re.IGNORECASE)
_SECTION_RE = re.compile(r"^\s*(?:[A-Z]|[A-Za-z][A-Za-z /&'-]{1,28})\s*:(?!\d)")
_UNCHECKED_RE = re.compile(r"^\s*(?:\[\s\]|☐|□)")
_NOT_BILLED_RE = re.compile(
    r"not\s+billed|no\s+charge|unbilled|not\s+charged|non-?billable|not\s+counted", re.IGNORECASE
)
BILLING_WORDS_RE = re.compile(r"\bunits?\b|\bbill(?:ed|ing)?\b|\bcharges?\b|\bCPT\s*:|\bqty\b", re.IGNORECASE)
_ENDS_SENTENCE_RE = re.compile(r"[.!?:;]\s*$")
# a number that names something other than minutes: units, repetitions, weights, distances, scores
_NOT_MINUTES_AFTER_RE = re.compile(
    r"^\s*(?:units?\b|u\b|reps?\b|x\b|×|sets?\b|lbs?\b|#|kg\b|ft\b|feet\b|m\b|meters?\b|%|/|°|deg|degrees?\b|"
    r"in\b|inch|cm\b|steps?\b|trials?\b|times\b|pts?\b|patients?\b|s\b|sec|seconds?\b|:\d|-?\d)",
    re.IGNORECASE,
)
_TIMES_BEFORE_RE = re.compile(r"(?:^|[\s(,;])[x×]\s*$", re.IGNORECASE)  # "x10": ten times, unless "x10 min"
_MINUTES_AFTER_RE = re.compile(r"^\s*(?:min|mins|minutes?\b|'|m\b)", re.IGNORECASE)
_NUMBER_RE = re.compile(r"(?<![\d.:/])(\d{1,3})(?![\d.:/])")
_SETS_RE = re.compile(r"(?<![\d.\-])(?!59\s*[x×])\d{1,2}\s*[x×]\s*\d{1,3}(?!\d)")  # "2x15": sets by repetitions
HEAD_CLOCK_WITHIN = 16  # a clock range that opens a unit (its first characters) opens a block


@dataclass(frozen=True)
class Reading:
    """One witness's reading of a block's minutes."""

    value: int
    kind: str  # subtotal, sum, leader, column, field, stated, clock, inline
    unit: int  # the unit it is written on


@dataclass
class Block:
    first: int  # unit numbers, 1-based, inclusive
    last: int
    codes: list[str]
    readings: list[Reading] = field(default_factory=list)
    start_time: str | None = None
    stop_time: str | None = None
    not_billed: bool = False
    role: str = "service"  # service, mention, summary or correction (see `_role`)
    charge_row: bool = False  # the head also bills the code (units or modifiers): a restatement when other blocks exist
    on_total: bool = False  # the head is a line of totals: its minutes are the note's total, not the code's
    subtotal_unit: int | None = None  # "97530 total ..... 31": the block's own total, not the note's

    @property
    def units(self) -> range:
        return range(self.first, self.last + 1)

    def values(self) -> list[int]:
        """The distinct minute values the witnesses read, in order of precedence."""
        return list(dict.fromkeys(r.value for r in self.readings))


def is_total_unit(line: str) -> bool:
    return parsing.find_total_timed(line) is not None or parsing.find_total_treatment(line) is not None


def is_charge_unit(line: str) -> bool:
    """A charge line: codes with units or modifiers, worded as billing or carrying no minutes."""
    if not parsing.find_codes(line):
        return False
    entries = parsing.parse_billing(without_sets(line))
    if not any(e.units is not None or e.modifiers for e in entries):
        return False
    return bool(BILLING_WORDS_RE.search(line)) or parsing.block_minutes(line) is None


def without_sets(line: str) -> str:
    """The line with "2x15" (sets by repetitions) blanked, so it is not read as units."""
    return _SETS_RE.sub(" ", line)


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _opens_block(note: NumberedNote, number: int) -> bool:
    line = note.lines[number - 1]
    names = parsing.find_codes(line) or parsing.codes_named(line)
    if _UNCHECKED_RE.match(line) or (is_total_unit(line) and not names):
        return False
    if is_charge_unit(line) and not _has_minutes(line) and _table_row_minutes(note, number) is None:
        return False
    if names:
        return True
    ranges = clock.find_ranges(line)
    if ranges and ranges[0].begin <= HEAD_CLOCK_WITHIN + _indent(line):
        return True
    return parsing.block_minutes(line) is not None and not note.joined[number - 1] and len(line.strip()) <= 120


def _has_minutes(line: str) -> bool:
    return parsing.block_minutes(line) is not None or _FIELD_RE.search(line) is not None


def _continues(note: NumberedNote, block: Block, number: int) -> bool:
    """Whether unit `number` (which opens no block) belongs to the block before it."""
    line, head = note.lines[number - 1], note.lines[block.first - 1]
    if is_total_unit(line) or is_charge_unit(line):
        return False
    if note.joined[number - 1]:
        return True
    if note.breaks[number - 1] or _SECTION_RE.match(line):
        return False
    previous = note.lines[number - 2]
    wrapped = not _ENDS_SENTENCE_RE.search(previous) and (line.lstrip()[:1].islower() or _LEADER_RE.search(line))
    return _indent(line) > _indent(head) or bool(_SUB_ITEM_RE.match(line)) or bool(wrapped)


def _closed_item(note: NumberedNote, block: Block, number: int) -> bool:
    """A row with its own minutes column at the head's indent, after a row whose minutes closed it
    ("cryo/compression, not billed ....... (7)" under "TE 97110 ... (11)"): a block of its own."""
    line, head = note.lines[number - 1], note.lines[block.first - 1]
    if is_total_unit(line) or is_charge_unit(line):
        return False
    return bool(
        _LEADER_RE.search(line) and _LEADER_RE.search(note.lines[number - 2]) and _indent(line) <= _indent(head)
    )


def _sub_line(note: NumberedNote, block: Block, number: int) -> bool:
    """A unit indented under the block's head that names no code or service of its own."""
    line, head = note.lines[number - 1], note.lines[block.first - 1]
    if note.breaks[number - 1] or is_total_unit(line) or parsing.find_codes(line) or parsing.codes_named(line):
        return False
    return _indent(line) > _indent(head) or (note.joined[number - 1] and not clock.find_ranges(line))


_CORRECTION_RE = re.compile(r"\b(?:correct(?:ed|ion)|amended|should\s+read|late\s+entry)\b", re.IGNORECASE)
_LEAD_IN_RE = re.compile(r"^\s*(?:\[[xX✓ ]?\]|☒|☑|[-*•·]|\d{1,2}[.)]|[A-Za-z]\)|\|)?\s*")
SERVICE_WITHIN = 40  # a code or service named this close to the start of its unit heads a service block


def _role(line: str) -> str:
    """service: the unit opens with its service (a header, a row, a narrative "Therapeutic activities
    23 minutes ..."); mention: it names the code in passing ("the first 2 min of 97530"); summary:
    it names several codes in one sentence."""
    text = parsing.normalize_spoken(line)
    codes = parsing.find_codes(text)
    named = parsing.codes_named(text)
    if _CORRECTION_RE.search(text) and len(set(codes or named)) == 1:
        return "correction"
    if len(set(codes or named)) > 1 and parsing.table_cells(line) is None:
        return "summary"
    if parsing.table_cells(line) is not None:
        return "service"  # a row of a table of treatments
    lead = _LEAD_IN_RE.match(text)
    rest = text[lead.end() if lead else 0 :]
    ranges = clock.find_ranges(rest)
    if ranges and ranges[0].begin <= HEAD_CLOCK_WITHIN:
        rest = rest[ranges[0].end :]
    positions = [m.start() for m in parsing.CPT_RE.finditer(rest)] + parsing.service_name_positions(rest)
    return "service" if not positions or min(positions) <= SERVICE_WITHIN else "mention"


def _subtotal_of(note: NumberedNote, block: Block, number: int) -> bool:
    """A "97530 subtotal ..... 27" unit right after a block of that code: part of the block."""
    line = note.lines[number - 1]
    codes = parsing.find_codes(line) or parsing.codes_named(line)
    return bool(_SUBTOTAL_RE.search(line) and codes and set(codes) <= set(block.codes))


_STAMP_RE = re.compile(
    r"^\s*\[?(\d{1,2}:?\d{2}\s*(?:[ap]\.?m?\.?)?)\]?(?!\s*(?:-|–|—|to)\s*\d)(?=\s|[▸>|:-])", re.IGNORECASE
)
MAX_LOG_STEP = 120  # minutes from one log entry to the next


def log_stamps(note: NumberedNote) -> dict[int, int]:
    """Unit -> minutes of the day, for a time-stamped log: two or more units that open with a single
    clock time, in increasing order ("1304 ▸ TA ...", "1316 ▸ SC/HM ...", "1341 ▸ session end")."""
    stamps: dict[int, int] = {}
    for number, line in enumerate(note.lines, 1):
        match = _STAMP_RE.match(line)
        value = clock.parse_clock(match.group(1)) if match else None
        if value is not None:
            stamps[number] = value
    values = list(stamps.values())
    increasing = all(0 < b - a <= MAX_LOG_STEP for a, b in pairwise(values))
    return stamps if len(stamps) >= 2 and increasing else {}


def segment(note: NumberedNote) -> list[Block]:
    """The treatment blocks of the note, in order."""
    blocks: list[Block] = []
    current: Block | None = None
    stamps = log_stamps(note)
    for number in range(1, len(note.lines) + 1):
        line = note.lines[number - 1]
        if number in stamps:
            current = Block(first=number, last=number, codes=parsing.find_codes(line) or parsing.codes_named(line)[:2])
            blocks.append(current)
            continue
        if current is not None and current.last == number - 1 and _subtotal_of(note, current, number):
            current.last = number
            current.subtotal_unit = number
            continue
        if current is not None and current.last == number - 1 and _sub_line(note, current, number):
            current.last = number
        elif _opens_block(note, number):
            codes = parsing.find_codes(line)
            current = Block(
                first=number,
                last=number,
                codes=codes or parsing.codes_named(line)[:2],
                role=_role(line),
                charge_row=bool(codes)
                and any(e.units is not None or e.modifiers for e in parsing.parse_billing(without_sets(line))),
                on_total=is_total_unit(line),
            )
            blocks.append(current)
        elif current is not None and current.last == number - 1 and _closed_item(note, current, number):
            current = Block(first=number, last=number, codes=[])
            blocks.append(current)
        elif current is not None and current.last == number - 1 and _continues(note, current, number):
            current.last = number
        else:
            current = None
    for block in blocks:
        _read_minutes(note, block)
    _read_log(note, blocks, stamps)
    return blocks


def _read_log(note: NumberedNote, blocks: list[Block], stamps: dict[int, int]) -> None:
    """A log entry lasts until the next entry: its clock reading."""
    ordered = sorted(stamps)
    for block in blocks:
        if block.first in stamps and ordered.index(block.first) + 1 < len(ordered):
            following = ordered[ordered.index(block.first) + 1]
            minutes = stamps[following] - stamps[block.first]
            if not any(r.kind == "clock" for r in block.readings):
                block.readings.append(Reading(minutes, "clock", block.first))
                start, stop = stamps[block.first], stamps[following]
                block.start_time, block.stop_time = f"{start // 60}:{start % 60:02d}", f"{stop // 60}:{stop % 60:02d}"


def table_row(note: NumberedNote, number: int) -> tuple[list[str], list[str]] | None:
    """Unit `number` as a table row with its header row (None when it is not a row under a header)."""
    cells = parsing.table_cells(note.lines[number - 1])
    header = table_header(note, number) if cells else None
    return (cells, header) if cells and header and header != cells else None


def _table_row_minutes(note: NumberedNote, number: int) -> int | None:
    row = table_row(note, number)
    return parsing.table_minutes(*row) if row else None


_BOX_BORDER_RE = re.compile(r"^\s*\+[-=+]+\+\s*$")


def table_header(note: NumberedNote, number: int) -> list[str] | None:
    """The header row of the table that unit `number` belongs to: the row above the nearest
    separator row ("|---|"), else the topmost row of the contiguous rows of as many cells."""
    top = None
    width = len(parsing.table_cells(note.lines[number - 1]) or [])
    for index in range(number, 0, -1):
        if _BOX_BORDER_RE.match(note.lines[index - 1]):  # "+----+-----+": a separator of a box table
            above = parsing.table_cells(note.lines[index - 2]) if index > 1 else None
            if above is not None and len(above) == width and index - 1 != number:
                return above
            continue
        cells = parsing.table_cells(note.lines[index - 1])
        if cells is None or len(cells) != width:
            break
        if all(re.fullmatch(r":?-{2,}:?", c) or not c for c in cells):
            return parsing.table_cells(note.lines[index - 2]) if index > 1 else None
        top = cells
    return top


_ALIGNED_MIN_HEADER_RE = re.compile(r"(?:(?<=\s\s)|^\s*)(MIN|Min|Mins|MINS|Minutes|MINUTES|Min\.)(?=\s\s|\s*$)")
_NUMBER_SPAN_RE = re.compile(r"(?<![\w.:/#-])(\d{1,3})(?![\w.:/#'-])")
HEADER_REACH = 12  # units above a row where its column header may stand


def aligned_minutes(note: NumberedNote, number: int) -> int | None:
    """A space-aligned table's minutes column: the number in the row that stands under the
    header's MIN column ("ACTIVITY   SETS×REPS   LOAD   MIN   CODE")."""
    row = note.lines[number - 1]
    for index in range(number - 1, max(0, number - 1 - HEADER_REACH), -1):
        header = note.lines[index - 1]
        match = _ALIGNED_MIN_HEADER_RE.search(header)
        if match and len(re.split(r"\s{2,}", header.strip())) >= 3:
            left, right = match.start(1), match.end(1)
            for number_match in _NUMBER_SPAN_RE.finditer(row):
                if number_match.start() <= right + 2 and number_match.end() >= left - 2:
                    return int(number_match.group(1))
            return None
        if note.breaks[index]:  # a blank line above the row's run: no header for it
            return None
    return None


def table_minutes_pair(note: NumberedNote, number: int) -> list[int]:
    """All minute amounts in a table row's minutes cell ("12 / 25" for a row of two codes)."""
    row = table_row(note, number)
    return parsing.table_minutes_list(*row) if row else []


def _read_minutes(note: NumberedNote, block: Block) -> None:
    """Every witness's reading of the block's minutes, most specific first."""
    readings: list[Reading] = []
    head = parsing.normalize_spoken(note.lines[block.first - 1])
    leaders: list[Reading] = []
    for number in block.units:
        line = parsing.normalize_spoken(note.lines[number - 1])
        leader = _LEADER_RE.search(line)
        if number != block.first and _SUBTOTAL_RE.search(line) and leader:
            readings.append(Reading(int(leader.group(1)), "subtotal", number))
        elif leader and not is_charge_unit(line):
            leaders.append(Reading(int(leader.group(1)), "leader", number))
    sub_items = [r for r in leaders if r.unit != block.first]
    if len(sub_items) >= 2 and not any(r.unit == block.first for r in leaders):
        readings.append(Reading(sum(r.value for r in sub_items), "sum", sub_items[-1].unit))
    elif leaders:
        readings.append(leaders[-1])
    column = _table_row_minutes(note, block.first)
    if column is None:
        column = aligned_minutes(note, block.first)
    if column is not None:
        readings.append(Reading(column, "column", block.first))
        block.role = "service" if len(block.codes) <= 1 else block.role  # a row of a table of treatments
    field_match = _FIELD_RE.search(head)
    if field_match:
        readings.append(Reading(int(field_match.group(1)), "field", block.first))
    else:  # a "Minutes : 25" field among the lines under a heading
        for number in block.units:
            below = _FIELD_LINE_RE.match(note.lines[number - 1])
            if below and number != block.first:
                readings.append(Reading(int(below.group(1)), "field", number))
                break
    stated = parsing.block_minutes_explicit(head)
    if stated is not None:
        readings.append(Reading(stated, "stated", block.first))
    ranges = clock.find_ranges(head)
    if ranges:
        readings.append(Reading(ranges[0].minutes, "clock", block.first))
        block.start_time, block.stop_time = ranges[0].start, ranges[0].stop
    if not readings:
        for number in block.units:
            if number == block.first:
                continue
            line = note.lines[number - 1]
            inline = parsing.block_minutes_explicit(line)
            if inline is not None:
                readings.append(Reading(inline, "inline", number))
                break
    block.readings = readings
    block.not_billed = any(_NOT_BILLED_RE.search(note.lines[n - 1]) for n in block.units)


def correction_start(note: NumberedNote) -> int | None:
    """The first unit of an addendum or late entry that corrects the record ("time correction",
    "Corrected: 97110 0836-0846 = 10 min"): what it states supersedes what came before."""
    for number, line in enumerate(note.lines, 1):
        if _CORRECTION_RE.search(line):
            return number
    return None


def summary_minutes(note: NumberedNote, block: Block) -> dict[str, int]:
    """Per-code minutes a summary sentence states, each code with the one minute amount written
    between it and the next code ("97530 ×2 (24 min) | 97535 ×1 (13 min)")."""
    text = parsing.normalize_spoken(" ".join(note.lines[n - 1] for n in block.units))
    found = list(parsing.CPT_RE.finditer(text))
    out: dict[str, int] = {}
    for index, match in enumerate(found):
        end = found[index + 1].start() if index + 1 < len(found) else len(text)
        segment = text[match.end() : end]
        field_match = _FIELD_RE.search(segment)
        minutes = parsing.block_minutes_explicit(segment) if field_match is None else int(field_match.group(1))
        if minutes is not None and match.group(1) not in out:
            out[match.group(1)] = minutes
    return out


def numbers_in(note: NumberedNote, block: Block) -> list[int]:
    """The numbers written in a block that could be minutes (not units, repetitions such as "x10",
    weights, distances, scores, dates or clock times): the model's choices for the block's minutes."""
    found: list[int] = []
    for number in block.units:
        line = parsing.normalize_spoken(note.lines[number - 1])
        line = parsing.strip_codes(line)
        for match in _NUMBER_RE.finditer(line):
            value = int(match.group(1))
            after = line[match.end() :]
            repetitions = _TIMES_BEFORE_RE.search(line[: match.start()]) and not _MINUTES_AFTER_RE.match(after)
            if 0 < value <= 240 and not _NOT_MINUTES_AFTER_RE.match(after) and not repetitions and value not in found:
                found.append(value)
    return found
