"""Deterministic parsing of the numbers in a note: CPT codes, minutes, units, modifiers, clock times.

The model reads language; numbers are parsed here and cross-checked with the model's, because
a 1.5B model misreads digits and a disagreement must be reported, not hidden.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cache

from reviewer import clock
from reviewer.data import load_yaml

# Physical-medicine and SLP treatment codes and the therapy HCPCS the product knows of.
CPT_RE = re.compile(r"(?<![\d.])(97\d{3}|925\d{2}|92610|G0283)(?!\d)")
MODIFIERS = ("GP", "GO", "GN", "59", "XE", "XS", "XP", "XU", "CQ", "CO", "KX", "GA", "GY", "GZ", "KF")
_MOD_RE = re.compile(r"(?<![A-Za-z0-9])(" + "|".join(MODIFIERS) + r")(?![A-Za-z0-9])(?!\s*(?:[Mm][Ii][Nn]|'|%))")

_MIN_WORD = r"(?:minutes?|mins?\.?|mn|(?<=\d)(?-i:m)(?![A-Za-z]))"  # "25m" but not "72 M" (age, sex)
# "25 min", "25min", "x25 minutes", "x 25 min", "25'", "(25 min)", "25-min", "25 minutes"
_MINUTES_RE = re.compile(
    r"(?<![\d:/.])(?:x\s*|×\s*)?(\d{1,3})\s*(?:-\s*)?(?:" + _MIN_WORD + r"|'(?!\w)|′)", re.IGNORECASE
)
# units: "x2", "x 2", "× 2", "(2u)", "2 units", "2U", "units: 2", "#2"
# "each 15 minutes" / "EA 15 MIN" is the code's descriptor on a charge line, not minutes spent.
_DESCRIPTOR_RE = re.compile(r"\b(?:ea(?:ch)?|per)\.?\s*15\s*-?\s*min\w*\.?", re.IGNORECASE)
_UNITS_PATTERNS = (
    re.compile(r"\bqty\.?\s*[:=]?\s*(\d{1,2})(?!\d)", re.IGNORECASE),
    re.compile(r"(?:x|×|\*)\s*(\d{1,2})(?!\s*(?:\d|" + _MIN_WORD + r"|'|:))", re.IGNORECASE),
    re.compile(r"\(\s*(\d{1,2})\s*u(?:nits?)?\s*\)", re.IGNORECASE),
    re.compile(r"units?\s*[:=]\s*(\d{1,2})(?!\d)", re.IGNORECASE),
    re.compile(r"(?<![\d.])(\d{1,2})\s*(?:units?|u)(?![a-z])", re.IGNORECASE),
    re.compile(r"units?\s*(\d{1,2})(?!\d)", re.IGNORECASE),
)
DATE_PATTERN = (
    r"\b(\d{1,2}/\d{1,2}/\d{2,4}|\d{4}-\d{2}-\d{2}|\d{1,2}\.\d{1,2}\.\d{2}(?:\d{2})?)\b(?!\.\d)"  # a full date
)
_DATE_RE = re.compile(DATE_PATTERN)
_DOS_LABEL_RE = re.compile(
    r"\b(?:DOS|date of service|date of tx|date of treatment|service date|visit date|date)\b(?:\s*[:#-]?\s*|\s*\.{2,}\s*)",
    re.IGNORECASE,
)  # "DOS: 07/09/2025", "DOS ....... 07/09/2025"
# Dates that are not the visit's: birth, surgery or injury, onset, plan of care, referral, evaluation.
_OTHER_DATE_BEFORE_RE = re.compile(
    r"\b(?:DOB|D\.O\.B\.?|date of birth|birth\s*date|born|s/p|ORIF|surgery|surg|onset|DOI|injury|injured|POC|"
    r"cert(?:ified|ification)?|referr(?:al|ed)|eval(?:uation)?)\b[^\n\d]{0,12}$",
    re.IGNORECASE,
)

LICENSED_CREDENTIALS = (
    "PT",
    "DPT",
    "MPT",
    "MSPT",
    "PTA",
    "LPTA",
    "OT",
    "OTR",
    "OTR/L",
    "OTD",
    "COTA",
    "COTA/L",
    "OTA",
    "SLP",
    "CCC-SLP",
    "SLP-A",
    "SLPA",
)
# Specialty certifications: read as credentials, but no professional identification on their own.
CREDENTIALS = (
    *LICENSED_CREDENTIALS,
    "MS",
    "OCS",
    "NCS",
    "GCS",
    "SCS",
    "CHT",
    "ATC",
    "CSCS",
    "CLT",
    "FAAOMPT",
)
ASSISTANT_CREDENTIALS = ("PTA", "LPTA", "COTA", "COTA/L", "OTA", "SLP-A", "SLPA")
_CRED_RE = re.compile(
    r"(?<![A-Za-z/-])("
    + "|".join(sorted((re.escape(c) for c in CREDENTIALS), key=len, reverse=True))
    + r")(?![A-Za-z/])"
)

OUTCOME_MEASURES: dict[str, str | None] = load_yaml("outcome_measures.yaml")["measures"]  # name: better direction
_OUTCOME_RE = re.compile(
    r"(?<![A-Za-z])("
    + "|".join(re.escape(m) for m in sorted(OUTCOME_MEASURES, key=len, reverse=True))
    + r")(?![A-Za-z])",
    re.IGNORECASE,
)

_TOTAL_TIMED_RE = re.compile(
    r"(?:(?<![A-Za-z])total[\s_]+)?(?<![A-Za-z])timed(?:[\s_]+code)?(?:[\s_]+(?:treatment|tx))?[\s_]*(?:minutes?|mins?|min|time)?\s*(?:total)?[\s:=\-.…\"',]*(\d{1,3})\b",
    re.IGNORECASE,
)
_TOTAL_TREATMENT_RE = re.compile(
    r"(?:(?<![A-Za-z])total[\s_]+(?:treatment|tx|session|therapy)?|\btt\b|\bttx\b|\b(?:tx|treatment|session|therapy)[\s_]+time\b)[\s_]*(?:time|minutes?|mins?|min)?\s*(?:\(min\))?[\s:=\-.\"',]*x?(\d{1,3})(?!\d)(?!\s*:\d)",
    re.IGNORECASE,
)
_TIMED_AFTER_RE = re.compile(r"(?<![\d:/.])(\d{1,3})\s+(?:total\s+)?timed(?:\s+code)?\s+min", re.IGNORECASE)
_TREATMENT_AFTER_RE = re.compile(
    r"(?<![\d:/.])(\d{1,3})\s+min(?:utes?|s)?\s+(?:in\s+)?total\b(?!\s+timed)", re.IGNORECASE
)
_SESSION_RANGE_RE = re.compile(r"\b(?:session|tx|treatment|therapy)\s+time\b", re.IGNORECASE)
_CLOCK_VALUE = r"(\d{1,2}:?\d{2}\s*(?:[ap]\.?m\.?)?)"
_TIME_IN_RE = re.compile(
    r"(?:time[\s_]*in|\bin|\barrived|\barrival|\bstart(?:ed)?|(?-i:\bTI))\b[\s\"':=.,]*" + _CLOCK_VALUE, re.IGNORECASE
)
_TIME_OUT_RE = re.compile(
    r"(?:time[\s_]*out|\bout|\bdeparted|\bdeparture|\bend(?:ed)?|(?-i:\bTO))\b[\s\"':=.,]*" + _CLOCK_VALUE,
    re.IGNORECASE,
)
_TIME_IN_OUT_RE = re.compile(
    r"time\s*in\s*/\s*out\b\s*[:=.\s]*" + _CLOCK_VALUE + r"\s*/\s*" + _CLOCK_VALUE, re.IGNORECASE
)


_SMALL = {
    w: i
    for i, w in enumerate(
        [
            "zero",
            "one",
            "two",
            "three",
            "four",
            "five",
            "six",
            "seven",
            "eight",
            "nine",
            "ten",
            "eleven",
            "twelve",
            "thirteen",
            "fourteen",
            "fifteen",
            "sixteen",
            "seventeen",
            "eighteen",
            "nineteen",
        ]
    )
}
_TENS = {
    w: 10 * i
    for i, w in enumerate(["_", "_", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"])
    if i >= 2
}
_NUMBER_WORD = r"(?:" + "|".join(sorted([*_SMALL, *_TENS, "hundred", "thousand"], key=len, reverse=True)) + r")"
# Dictation says "oh" for a zero between digits ("nine two five oh seven").
_NUMBER_RUN_RE = re.compile(
    rf"\b{_NUMBER_WORD}(?:(?:\s+|-|\s+and\s+)(?:{_NUMBER_WORD}|oh(?=[\s-]+{_NUMBER_WORD}\b)))*\b", re.IGNORECASE
)
_SPOKEN_FIXES = (
    (re.compile(r"\b(97|92)\s+(\d{3})\b"), r"\1\2"),  # "97 530"
    (re.compile(r"\btimes\s+(?=\d)", re.IGNORECASE), "x"),  # "times three units"
    (re.compile(r"\b([GCXK])\.\s*([PONQSUEX])\b\.?"), r"\1\2"),  # "G. P." modifiers
)


def normalize_spoken(text: str) -> str:
    """Dictated notes write numbers in words: "nine seven five three zero" -> "97530",
    "twenty-five minutes" -> "25 minutes", "97 530 times three units, G. P." -> "97530 x3 units, GP"."""
    text = _NUMBER_RUN_RE.sub(_number_run_value, text)
    for pattern, replacement in _SPOKEN_FIXES:
        text = pattern.sub(replacement, text)
    return text


def _number_run_value(match: re.Match) -> str:
    """ "and" joins a number only after hundred or thousand ("one hundred and five"); elsewhere it
    separates two numbers ("times two and nine seven one one zero")."""
    words = ["zero" if w == "oh" else w for w in re.split(r"[\s-]+", match.group(0).lower()) if w]
    parts: list[list[str]] = [[]]
    for index, word in enumerate(words):
        if word == "and":
            if index and words[index - 1] in ("hundred", "thousand"):
                continue
            parts.append([])
        else:
            parts[-1].append(word)
    return " and ".join(_run_value(part) for part in parts if part)


def _run_value(words: list[str]) -> str:
    digits = 0
    while digits < len(words) and words[digits] in _SMALL and _SMALL[words[digits]] < 10:
        digits += 1
    if digits >= 3:  # a code read out digit by digit ("nine seven one one zero"), then maybe a number
        taken = min(digits, 5)
        code = "".join(str(_SMALL[w]) for w in words[:taken])
        return code if taken == len(words) else f"{code} {_words_value(words[taken:])}"
    return str(_words_value(words))


def _words_value(words: list[str]) -> int:
    total = current = 0
    for word in words:
        if word in _SMALL:
            current += _SMALL[word]
        elif word in _TENS:
            current += _TENS[word]
        elif word == "hundred":
            current = max(current, 1) * 100
        else:  # thousand
            total += max(current, 1) * 1000
            current = 0
    return total + current


@dataclass
class ParsedBilling:
    code: str
    units: int | None
    modifiers: list[str] = field(default_factory=list)


def find_codes(text: str) -> list[str]:
    """CPT/HCPCS therapy codes in `text`, in order."""
    text = normalize_spoken(text)
    return CPT_RE.findall(text)


@cache
def _services() -> tuple[tuple[str, re.Pattern, re.Pattern | None], ...]:
    """(code, name pattern, heading pattern) per service, from `data/services.yaml`."""
    out = []
    for code, entry in load_yaml("services.yaml")["services"].items():
        names = re.compile("|".join(f"(?:{p})" for p in entry["names"]), re.IGNORECASE)
        heads = entry.get("heads") or []
        head = re.compile(_HEAD_LEAD + r"(?:" + "|".join(heads) + r")" + _HEAD_TAIL) if heads else None
        out.append((str(code), names, head))
    return tuple(out)


# What follows a heading abbreviation: minutes, a code, a dash or colon, or the end of the line.
_HEAD_TAIL = r"(?![A-Za-z])(?=\s*(?:[x×]?\s*\d|[—–:\-(|▸=]|$|\(?cont(?:inued|'d|\.)?\b))"
# A line's opening before a heading abbreviation: bullets, checkboxes, a clock time or range.
_HEAD_LEAD = r"^\s*(?:\[[xX✓ ]?\]\s*|[-*•·▸]\s*|\d{1,2}:?\d{2}\s*(?:[ap]\.?m?\.?)?\s*(?:(?:-|–|—|to)\s*\d{1,2}:?\d{2}\s*(?:[ap]\.?m?\.?)?)?\s*[▸:|>-]?\s*)*"


def codes_named(text: str) -> list[str]:
    """Codes whose service the line names ("Manual therapy - 12 min" -> 97140), in order of appearance."""
    text = normalize_spoken(text)
    found = []
    for code, names, head in _services():
        match = names.search(text) or (head.match(text) if head else None)
        if match:
            found.append((match.start() if match.re is names else match.end(), code))
    return list(dict.fromkeys(code for _, code in sorted(found)))


def named_service_codes() -> set[str]:
    """The codes whose services have names to look for (data/services.yaml)."""
    return {code for code, _, _ in _services()}


def service_name_positions(text: str) -> list[int]:
    """Where the line names a service (the offsets of the names `codes_named` reads)."""
    text = normalize_spoken(text)
    positions = [m.start() for _, names, _ in _services() for m in names.finditer(text)]
    return positions + [m.end() for _, _, head in _services() if head for m in [head.match(text)] if m]


def block_minutes_explicit(text: str) -> int | None:
    """The first minute amount written in `text` ("25 min", "x25'", "twenty minutes"); clock ranges aside."""
    text = _DESCRIPTOR_RE.sub(" ", normalize_spoken(text))
    match = _MINUTES_RE.search(text)
    return int(match.group(1)) if match else None


def strip_codes(text: str) -> str:
    """`text` with its CPT/HCPCS codes blanked out (so their digits are not read as numbers)."""
    return CPT_RE.sub(lambda m: " " * len(m.group(0)), text)


def block_minutes(text: str) -> int | None:
    """The minutes a treatment line documents: an explicit amount, else its clock range."""
    text = normalize_spoken(text)
    text = _DESCRIPTOR_RE.sub(" ", text)
    explicit = [int(m.group(1)) for m in _MINUTES_RE.finditer(text)]
    if explicit:
        return explicit[0]
    ranges = clock.find_ranges(text)
    return ranges[0].minutes if ranges else None


_MINUTES_HEADER_RE = re.compile(
    r"^(?:min|mins|minutes|min\.|time\s*\(min\)|minutes?\s*\(min\)|tx\s*min)$", re.IGNORECASE
)


def table_cells(line: str) -> list[str] | None:
    """The cells of a table row: pipe ("| a | b |"), tab-separated, or comma-separated (CSV, with
    quotes) rows of four or more cells; None for other lines."""
    stripped = line.strip()
    if stripped.count("|") >= 2:
        return [cell.strip() for cell in stripped.strip("|").split("|")]
    if stripped.count("\t") >= 2:
        return [cell.strip() for cell in stripped.split("\t")]
    if stripped.count(",") >= 3 and ". " not in stripped:
        row = next(csv.reader([stripped]), [])
        return [cell.strip() for cell in row] if len(row) >= 4 else None
    return None


_UNITS_HEADER_RE = re.compile(r"^(?:units?|qty|quantity|#\s*units?)$", re.IGNORECASE)


def table_units(row: list[str], header: list[str]) -> int | None:
    """The row's units from the header's units column, when the cell is a bare count."""
    index = next((i for i, cell in enumerate(header) if _UNITS_HEADER_RE.match(cell.strip())), None)
    if index is None or index >= len(row):
        return None
    match = re.fullmatch(r"(\d{1,2})", row[index].strip())
    return int(match.group(1)) if match else None


def minutes_column(header: list[str]) -> int | None:
    """Index of the column a table header names as minutes."""
    for index, cell in enumerate(header):
        if _MINUTES_HEADER_RE.match(cell.strip()):
            return index
    return None


def table_minutes_list(row: list[str], header: list[str]) -> list[int]:
    """All minute amounts in the row's minutes cell ("12 / 25" for a row billing two codes)."""
    index = minutes_column(header)
    if index is None or index >= len(row):
        return []
    return [int(n) for n in re.findall(r"(?<![\d.])(\d{1,3})(?![\d.])", row[index])]


def table_minutes(row: list[str], header: list[str]) -> int | None:
    """The row's minutes from the header's minutes column, when the cell is a bare number."""
    index = minutes_column(header)
    if index is None or index >= len(row):
        return None
    match = re.fullmatch(r"(\d{1,3})\s*(?:min|mins|minutes|')?", row[index].strip(), re.IGNORECASE)
    return int(match.group(1)) if match else None


def find_modifiers(text: str) -> list[str]:
    mods: list[str] = []
    for match in _MOD_RE.finditer(text.upper()):
        if match.group(1) not in mods:
            mods.append(match.group(1))
    return mods


def parse_billing(text: str, reach: int | None = None) -> list[ParsedBilling]:
    """Billing entries in `text`: "97530-GP x2", "97530 GP 59 x2", "97140-GP-59 x1", "97530 (2u)".
    `reach` reads only that many characters after each code (units and modifiers written next
    to it, not the repetitions of a description further on)."""
    text = normalize_spoken(text)
    matches = list(CPT_RE.finditer(text))
    entries = []
    for i, match in enumerate(matches):
        end = matches[i + 1].start() if i + 1 < len(matches) else len(text)
        segment = text[match.end() : end if reach is None else min(end, match.end() + reach)]
        entries.append(ParsedBilling(match.group(1), parse_units(segment), find_modifiers(segment)))
    return entries


_LEADER_COUNT_RE = re.compile(r"(?:\.{2,}|…+|\s{3,})\s*(\d{1,2})(?=\s|$)")


def leader_units(segment: str) -> int | None:
    """A charge row's units after leader dots or a wide gap ("97530 Ther act ....... 2   GP")."""
    if _MINUTES_RE.search(segment):
        return None
    match = _LEADER_COUNT_RE.search(segment)
    return int(match.group(1)) if match and 0 < int(match.group(1)) <= 16 else None


_MINUTES_FIELD_RE = re.compile(r"(?<![A-Za-z])(?:min(?:utes?|s)?\.?|time)\s*[:=]?\s*\d{1,3}(?!\d)", re.IGNORECASE)


def parse_units(segment: str) -> int | None:
    """The unit count in the text after a code, if it is written in a recognised way, including a
    bare count after the modifiers as in a "CPT  Mod  Units" table row ("97530   GP    2")."""
    segment = _MINUTES_FIELD_RE.sub(" ", _DESCRIPTOR_RE.sub(" ", segment))
    for pattern in _UNITS_PATTERNS:
        match = pattern.search(segment)
        if match:
            return int(match.group(1))
    bare = re.fullmatch(r"[\s|:,/-]*(\d{1,2})[\s|]*", _MOD_RE.sub(" ", segment.upper()))
    if bare and 0 < int(bare.group(1)) <= 16:
        return int(bare.group(1))
    return None


def find_date_of_service(text: str) -> tuple[str, int, int] | None:
    """The date of service (value, start, end): a labelled date first, else the first date that is
    not written as a birth, surgery, onset, plan-of-care or referral date."""
    for label in _DOS_LABEL_RE.finditer(text):
        date = _DATE_RE.match(text, label.end())
        if date:
            return date.group(1), date.start(1), date.end(1)
    for found in _DATE_RE.finditer(text):  # the first date that is not a birth, surgery or plan date
        if not _OTHER_DATE_BEFORE_RE.search(text[max(0, found.start() - 24) : found.start()]):
            return found.group(1), found.start(1), found.end(1)
    return None


_CRED_ANY_CASE_RE = re.compile(_CRED_RE.pattern, re.IGNORECASE)
_CANONICAL_CREDENTIAL = {c.upper(): c for c in CREDENTIALS}


_ASSISTANT = (
    r"\b(?:" + "|".join(re.escape(c) for c in sorted(ASSISTANT_CREDENTIALS, key=len, reverse=True)) + r")(?![\w/])"
)
_MINUTE_UNIT = r"(?:min(?:ute)?s?\b|'|′|’)"
_ASSISTANT_MINUTES_RES = (
    # "PTA 3 min", "PTA: 3", "(PT 35 / PTA 3)"
    re.compile(_ASSISTANT + r"\s*[:=]?\s*(\d{1,3})(?:\s*" + _MINUTE_UNIT + r"|(?=\s*[),;/]|\s*$))"),
    # "PTA T. Hollis guarded 3' of curb practice"
    re.compile(_ASSISTANT + r"[^\d\n]{0,30}?(\d{1,3})\s*" + _MINUTE_UNIT),
    # "3 min by the PTA"
    re.compile(r"(?<![\d:])(\d{1,3})\s*" + _MINUTE_UNIT + r"\s*(?:by|with|w/|of)?\s*(?:the\s+)?" + _ASSISTANT),
)
_ASSISTANT_NAMED_RE = re.compile(_ASSISTANT)


def assistant_minutes(text: str) -> tuple[bool, int | None]:
    """Whether `text` (one treatment block) names an assistant (PTA, COTA, ...), and the assistant's
    minutes it states: one value, or None when it states none or several that differ."""
    if not _ASSISTANT_NAMED_RE.search(text):
        return False, None
    values = {int(m.group(1)) for pattern in _ASSISTANT_MINUTES_RES for m in pattern.finditer(text)}
    return True, (values.pop() if len(values) == 1 else None)


def find_credentials(text: str, any_case: bool = False) -> list[str]:
    """Professional credentials in `text`. `any_case` also reads "dana k., pta" (only for lines known
    to be signatures: in running text a lower-case "pt" means the patient)."""
    found: list[str] = []
    for match in (_CRED_ANY_CASE_RE if any_case else _CRED_RE).finditer(text):
        credential = _CANONICAL_CREDENTIAL.get(match.group(1).upper(), match.group(1))
        if credential not in found:
            found.append(credential)
    return found


def find_outcome_measures(text: str) -> list[tuple[str, int, int]]:
    return [(m.group(1), m.start(1), m.end(1)) for m in _OUTCOME_RE.finditer(text)]


def find_total_timed(line: str) -> int | None:
    """A stated total of timed-code minutes on this line ("Timed code minutes: 40", "Total timed 53 min",
    "45 timed minutes")."""
    line = normalize_spoken(line).replace("|", " ")  # a table row: "| Total timed minutes | | 38 |"
    if not re.search(r"timed", line, re.IGNORECASE) or re.search(r"untimed", line, re.IGNORECASE):
        return None
    match = _TOTAL_TIMED_RE.search(line) or _TIMED_AFTER_RE.search(line)
    return int(match.group(1)) if match else None


def find_total_treatment(line: str) -> int | None:
    """A stated total treatment time on this line ("Total treatment time: 50 min", "Total tx min: 44",
    "tt 35 min", "Session time: 3:00-3:45 pm")."""
    line = normalize_spoken(line).replace("|", " ")  # a table row: "| Total treatment minutes | | 45 |"
    for match in _TOTAL_TREATMENT_RE.finditer(line):
        label = line[max(0, match.start() - 6) : match.end()].lower()
        if "timed" in label:
            continue
        return int(match.group(1))
    after = _TREATMENT_AFTER_RE.search(line)
    if after and not find_codes(line[: after.start()]):  # "97530 38 min total" is that code's total
        return int(after.group(1))
    if _SESSION_RANGE_RE.search(line):
        ranges = clock.find_ranges(line)
        if ranges:
            return ranges[0].minutes
    return None


def find_time_in_out(text: str) -> tuple[tuple[str, int, int] | None, tuple[str, int, int] | None]:
    """Time in and time out as (value, start, end): "Time in 9:02 ... Time out 9:57", "in 1:12 out 1:47",
    "Arrived 2:05 pm, departed 2:58 pm", "Time In / Out .... 13:00 / 13:42"."""
    both = _TIME_IN_OUT_RE.search(text)
    if both:
        return _clock_at(both, 1), _clock_at(both, 2)
    found_in, found_out = _TIME_IN_RE.search(text), _TIME_OUT_RE.search(text)
    return (_clock_at(found_in, 1) if found_in else None), (_clock_at(found_out, 1) if found_out else None)


def _clock_at(match: re.Match, group: int) -> tuple[str, int, int]:
    value = match.group(group).rstrip(" .")
    return value, match.start(group), match.start(group) + len(value)


# What makes a goal measurable: an assistance level, or a number with a unit or count. A deadline
# ("in 4 wks") alone is not a measurable target.
_ASSIST_LEVEL_RE = re.compile(
    r"\b(?:independent(?:ly)?|indep|mod\s*I|modified\s+independen\w*|SBA|CGA|stand[- ]?by|contact\s+guard|"
    r"(?:min|mod|max|minimal|moderate|maximal)\s*(?:A|assist\w*)|supervision|set[- ]?up)\b",
    re.IGNORECASE,
)
_DEADLINE_RE = re.compile(r"\b(?:in|within|by|x)\s*\d+\s*(?:wks?|weeks?|visits?|months?|mos?|days?)\b", re.IGNORECASE)
_QUANTITY_RE = re.compile(
    r"\d+(?:\.\d+)?\s*(?:ft|feet|foot|m\b|meters?|yards?|reps?|repetitions|x\b|min|minutes?|mins?|sec|seconds?|s\b|hrs?|hours?|"
    r"lbs?|#|pounds?|kg|°|deg|degrees?|/\s*\d+|%|steps?|stairs?|flights?|blocks?|trials?|times|cm|inch|in\b|\")"
    r"|[<>≤≥]=?\s*\d|\d+\s*out\s+of\s+\d+|\b(?:less|more|fewer|greater)\s+than\s+\d",
    re.IGNORECASE,
)


_CRITERION_RE = re.compile(
    r"\b(?:w/o|without|no)\s+(?:pain|LOB|loss\s+of\s+balance|falls?|(?:an?\s+)?(?:AD|assistive\s+device|device)|"
    r"(?:UE|hand|arm)\s+support|rest(?:\s+breaks?)?|(?:a\s+)?breaks?|assist\w*|cues?|substitution)\b|\bpain[- ]free\b",
    re.IGNORECASE,
)


def goal_is_measurable(text: str) -> bool:
    """Whether a goal states a measurable target: an assist level, a quantity with a unit, or an
    all-or-nothing criterion ("w/o pain", "without loss of balance", "pain-free")."""
    text = normalize_spoken(text)
    target = _DEADLINE_RE.sub(" ", text)
    return bool(_ASSIST_LEVEL_RE.search(target) or _QUANTITY_RE.search(target) or _CRITERION_RE.search(target))


_MONTH_DAY = r"\d{1,2}/\d{1,2}(?:/\d{2,4})?"
_PLAN_DATES_RE = re.compile(
    r"\b(?:POC|plan\s+of\s+care|cert(?:ification|ified)?(?:\s+period)?)\b[^\d\n]{0,30}?"
    rf"({_MONTH_DAY})\s*(?:-|–|—|to|through|thru)\s*({_MONTH_DAY})",
    re.IGNORECASE,
)
_CERTIFIED_THROUGH_RE = re.compile(
    r"\bcert(?:ified|ification)?\s+(?:through|thru|until|to|ends?)\s*:?\s*" + _DATE_RE.pattern, re.IGNORECASE
)
_VISIT_OF_RE = re.compile(r"\bvisit\s*#?\s*(\d{1,3})\s*(?:/|of)\s*(\d{1,3})\b", re.IGNORECASE)
_FREQUENCY_RE = re.compile(
    r"\b(\d)\s*x\s*/?\s*(?:wk|week)s?\b(?:\s*(?:x|for)\s*(\d{1,2})\s*(?:wks?|weeks?)\b)?", re.IGNORECASE
)


def plan_of_care_periods(text: str) -> list[tuple[tuple[str, int, int], tuple[str, int, int]]]:
    """Every certification period the note writes ("POC 01/06–03/31/25"): (start, end), each (the date
    as written, with the end's year where the start has none; start offset; end offset)."""
    periods = []
    for match in _PLAN_DATES_RE.finditer(text):
        start, end = match.group(1), match.group(2)
        if start.count("/") == 1 and end.count("/") == 2:
            start = f"{start}/{end.rsplit('/', 1)[1]}"
        periods.append(((start, match.start(1), match.end(1)), (end, match.start(2), match.end(2))))
    return periods


def plan_of_care_start(text: str) -> tuple[str, int, int] | None:
    """The start of the first certification period written (value, start, end)."""
    periods = plan_of_care_periods(text)
    return periods[0][0] if periods else None


def certified_through(text: str) -> list[tuple[str, int, int]]:
    """Each end date a certification states on its own ("certified through 07/16/2025")."""
    return [(m.group(1), m.start(1), m.end(1)) for m in _CERTIFIED_THROUGH_RE.finditer(text)]


def visit_of(text: str) -> tuple[int, int, int, int] | None:
    """A visit number out of the visits planned or authorised ("visit 8 of 16", "Visit 6/12"):
    (number, of, start, end) of the first one written."""
    match = _VISIT_OF_RE.search(text)
    if match is None or int(match.group(2)) == 0:
        return None
    return int(match.group(1)), int(match.group(2)), match.start(), match.end()


def planned_visits(text: str) -> tuple[int, int, int] | None:
    """The visits a frequency with a duration plans ("2x/wk x 6 wks" = 12): (visits, start, end)."""
    for match in _FREQUENCY_RE.finditer(text):
        if match.group(2):
            return int(match.group(1)) * int(match.group(2)), match.start(), match.end()
    return None


DATE_FORMATS = (
    "%m/%d/%Y", "%m/%d/%y", "%Y-%m-%d", "%m-%d-%Y", "%m-%d-%y", "%m.%d.%Y", "%m.%d.%y", "%B %d, %Y", "%b %d, %Y",
)  # fmt: skip


def read_date(text: str) -> date | None:
    """A date in the usual US spellings ("03/11/2025", "3/11/25", "2025-03-11", "March 11, 2025")."""
    for fmt in DATE_FORMATS:
        try:
            return datetime.strptime(text.strip(), fmt).date()
        except ValueError:
            continue
    return None


def dates_in(text: str) -> list[tuple[str, int, int]]:
    """Every full date written in `text` (value, start, end)."""
    return [(m.group(1), m.start(1), m.end(1)) for m in _DATE_RE.finditer(text)]


def labelled_date_of_service(text: str) -> bool:
    """The note labels its date of service ("DOS:", "Date of service", "Date:")."""
    return any(_DATE_RE.match(text, label.end()) for label in _DOS_LABEL_RE.finditer(text))
