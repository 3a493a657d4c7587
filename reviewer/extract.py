"""Extraction: the program segments the note into treatment blocks and reads its numbers; the model
answers one short constrained question per judgement; consistency decides.

The questions (prompts/extract.yaml) share one cached prefix: instructions, then the note with
numbered lines. Each answer is a yes or no, a line number, a kind, one of the numbers written in a
block, or none, with its probability as confidence. The program checks every answer against the
note (a line must exist; minutes must be written in their block and fit the note's totals); what
no consistent reading settles is recorded as uncertain and raises no billing flag.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache, partial
from typing import TypeVar

from reviewer import blocks as segmentation
from reviewer import clock, parsing, reconcile
from reviewer.backends.base import ANSWER, Completion, ModelBackend, ModelError, choice_schema
from reviewer.blocks import Block
from reviewer.codes import code_info, is_timed
from reviewer.data import load_yaml
from reviewer.grounding import NumberedNote
from reviewer.identity import read_episode_keys
from reviewer.prompts import PromptTemplate
from reviewer.schema import (
    ActivityKind,
    BillingLine,
    Clinician,
    Discrepancy,
    DocumentType,
    Evidence,
    Extraction,
    Goal,
    Grounded,
    Judgement,
    RecordElement,
    RecordPart,
    TreatmentBlock,
    Uncertain,
)

# Thresholds on the model's confidence, chosen on dev (see README, "How the reading works").
ABSENT_MIN = 0.6  # a "none" answer this sure, with no line to check, calls an element absent
OTHER_DOC_MIN = 0.85  # P(not a daily note) at which the model alone decides
OTHER_DOC_TITLED_MIN = 0.7  # ... and at which it decides when the first lines name another document type
OTHER_DOC_HEADED_MIN = 0.5  # ... and when they carry two or more message header fields (From:, To:, Subject:)
TITLE_LINES = 10  # "the first lines": a letterhead (name, address, date, addressee) comes before "RE:"
KIND_MIN = 0.6  # a kind this sure is taken; below it the block's kind is "other" (no flag)
NON_FUNCTIONAL_KINDS = ("exercise", "balance", "gait", "manual", "passive")  # need a second witness
# P(yes) at which the model confirms that a line shows the element (goal, skill, ...).
CHECK_MIN = {"goal": 0.6, "skill": 0.6, "response": 0.7, "group": 0.7, "passive": 0.6}
# A second witness in the line's own words lowers the bar: (cue vocabulary, P(yes) needed with it).
WITNESSED_CHECK_MIN = {"group": ("group_count", 0.5)}
# Elements whose suggested lines all failed get the model's own pick as one more line to check
# (the goal check separates well; for the others a leaning yes is too common to risk it).
PICK_AFTER_SUGGESTIONS = ("goal",)
IMPAIRMENT_GOAL_MIN = 0.55  # P(yes, "only a body measure") at which a goal naming no activity is not functional
CHECKS_PER_ELEMENT = 2
QUOTE_CHARS = 160

RECORD_PARTS: tuple[RecordPart, ...] = ("subjective", "objective", "assessment", "plan")
KINDS = ["functional", "exercise", "balance", "gait", "selfcare", "manual", "passive", "cognitive", "other"]
NONE = "none"
_GOAL_PREFIX_RE = re.compile(
    r"^\s*(?:[-*•]\s*)?(?:(?:STG|LTG|short[- ]term goals?|long[- ]term goals?|goals?)\s*(?:#?\d+)?\s*(?:\([^)]*\))?\s*[:.\-–—]\s*)+",
    re.IGNORECASE,
)
_GOAL_WORD_RE = re.compile(r"\b(?:goals?|STG|LTG)\b", re.IGNORECASE)
_LIST_ITEM_RE = re.compile(r"^\s*(?:\(?\d{1,2}[.)—–-]|[-*•·]|[a-z][.)]|STG|LTG)\s*", re.IGNORECASE)
_ALL_CODES_RE = re.compile(r"\b(?:both|all|each|every)\b", re.IGNORECASE)
_ASSISTANT_WORD_RE = re.compile(
    r"\b(?:therapy|therapist|physical therapist|occupational therapy|occupational therapist)\s+assistant\b",
    re.IGNORECASE,
)
_PROVIDER_HINT_RE = re.compile(
    r"sign|treated|seen|provided|performed|furnished|therapist|clinician|dictat|by\s", re.IGNORECASE
)
_OTHER_PATIENTS_RE = re.compile(r"\bother\s+(?:patients?|pts?|clients?)\b", re.IGNORECASE)
_SIGNATURE_HINT_RE = re.compile(r"sign|electronically|e-signed|/s/", re.IGNORECASE)
_MODIFIER_LINE_RE = re.compile(r"\bmod(?:ifier)?s?\b", re.IGNORECASE)
# A heading with nothing on its own line: "Pt Response:" (a field label) or "ASSESSMENT" (a section).
_LABEL_RE = re.compile(r"^\s*[A-Za-z][\w /&()'.#-]{0,40}:\s*$")
_SECTION_RE = re.compile(r"^\s*[A-Z][A-Z&()'.-]+(?:[ /]+[A-Z&()'.-]+){0,3}\s*$")
_CELL_SPLIT_RE = re.compile(r"\t+|\s{2,}|\s*\|\s*")
_COLUMN_NAME_RE = re.compile(r"[A-Z][A-Za-z/#.&()-]*(?: [A-Za-z/#.&()-]+)?")
_LABELLED_RE = re.compile(r"^\s*[A-Za-z][\w /&()'.#-]{0,30}:\s*\S")
_ALL_LINES_RE = re.compile(r"\b(?:all|each|every)\s+(?:billed\s+)?(?:lines?|codes?|services?)\b", re.IGNORECASE)


class ExtractionFailed(Exception):
    """The model's answers could not be turned into an extraction; the note must be reported failed."""


@dataclass
class ExtractionResult:
    extraction: Extraction
    raw_output: str  # the answers as JSON: `build_extraction` rebuilds the extraction from it
    attempts: int
    model_s: float
    prompt_tokens: int | None
    completion_tokens: int | None
    cached_tokens: int | None = None
    prompt_s: float | None = None
    output_s: float | None = None
    questions: int = 0


@dataclass
class _Reader:
    """Asks the questions about one note and keeps the answers and what they cost."""

    backend: ModelBackend
    prompt: PromptTemplate
    context: str
    answers: dict[str, Judgement] = field(default_factory=dict)
    completions: list[Completion] = field(default_factory=list)
    attempts: int = 1

    def ask(
        self,
        key: str,
        question: str,
        choices: list[str],
        messages: list[dict[str, str]] | None = None,
        presence: bool = False,
        probability_of: str | None = None,
        **fields,
    ) -> Judgement:
        messages = messages or self.prompt.messages(self.context, question, **fields)
        schema = choice_schema(choices)
        for attempt in (1, 2):
            try:
                completion = self.backend.complete(messages, schema)
            except ModelError as exc:
                raise ExtractionFailed(str(exc)) from None
            self.completions.append(completion)
            answer = _parse_choice(completion.text, choices)
            if answer is not None:
                confidence = _presence(answer, completion) if presence else completion.confidence
                if probability_of is not None and completion.first_token:
                    confidence = completion.first_token.get(probability_of, confidence)
                self.answers[key] = Judgement(answer=answer, confidence=confidence)
                self.attempts = max(self.attempts, attempt)
                return self.answers[key]
            messages = self.prompt.retry_messages(messages, completion.text, f"answer must be one of {choices[:12]}")
        raise ExtractionFailed(f"model answer to '{question}' invalid after a retry")


def _presence(answer: str, completion: Completion) -> float | None:
    """How sure the model is that a line-or-none question's element is there (or not): P(none)
    for "none", else 1 - P(none), since the digits of the line numbers split the rest."""
    first = completion.first_token
    if not first or NONE not in first:
        return completion.confidence
    return round(first[NONE] if answer == NONE else 1.0 - first[NONE], 4)


def _parse_choice(raw: str, choices: list[str]) -> str | None:
    try:
        value = json.loads(raw).get(ANSWER)
    except (ValueError, AttributeError):
        return None
    return str(value) if value is not None and str(value) in choices else None


def render_context(note: NumberedNote) -> str:
    """What every question sees first: the numbered note."""
    return "NOTE:\n" + note.render()


@dataclass(frozen=True)
class NoteNumbers:
    """What the program reads in a note before any question: its blocks, charges and totals."""

    found: list[Block]
    billing: list[BillingLine]
    total_timed: Grounded[int] | None
    total_treatment: Grounded[int] | None

    @classmethod
    def read(cls, note: NumberedNote) -> NoteNumbers:
        found = segmentation.segment(note)
        return cls(
            found,
            _billing(note),
            _stated_total(note, parsing.find_total_timed, found),
            _stated_total(note, parsing.find_total_treatment, found),
        )


def extract(text: str, backend: ModelBackend, prompt: PromptTemplate) -> ExtractionResult:
    """Ask the questions (one retry on an invalid answer) and build the grounded extraction."""
    note = NumberedNote.from_text(text)
    numbers = NoteNumbers.read(note)
    reader = _Reader(backend, prompt, render_context(note))
    started = time.perf_counter()
    lines = [NONE] + [str(n) for n in range(1, len(note.lines) + 1)]
    reader.ask(
        "doc", "doc", ["no", "yes"], probability_of="yes"
    )  # "no": a daily note (the first question of every review)
    if document_type(note, numbers.billing, reader.answers) != "other":
        for key in ("goal", "skill", "response"):
            _check_element(reader, note, key, cue_lines(note, key), lines)
        _ask_goal_function(reader, note)
        for part in RECORD_PARTS:
            if record_line(note, part) is None:  # no line names it in its words: the model points, or says none
                reader.ask(f"record_{part}", f"record_{part}", lines, presence=True)
        if any(is_timed(b.code) for b in numbers.billing):
            _ask_billed_questions(reader, note, numbers, lines)
    answers = {key: judgement.model_dump() for key, judgement in reader.answers.items()}
    completions = reader.completions
    extraction = build_extraction(note, reader.answers, numbers)
    return ExtractionResult(
        extraction=extraction,
        raw_output=json.dumps(answers, sort_keys=True),
        attempts=reader.attempts,
        model_s=time.perf_counter() - started,
        prompt_tokens=_sum(c.prompt_tokens for c in completions),
        completion_tokens=_sum(c.completion_tokens for c in completions),
        cached_tokens=_sum(c.cached_tokens for c in completions),
        prompt_s=_sum(c.prompt_s for c in completions),
        output_s=_sum(c.output_s for c in completions),
        questions=len(completions),
    )


def _value(total: Grounded[int] | None) -> int | None:
    return total.value if total else None


_Number = TypeVar("_Number", int, float)


def _sum(values: Iterable[_Number | None]) -> _Number | None:
    present = [v for v in values if v is not None]
    return sum(present) if present else None


def _ask_billed_questions(reader: _Reader, note: NumberedNote, numbers: NoteNumbers, lines: list[str]) -> None:
    """Group, passive care, the kind of the blocks the rules judge, and minutes no witness settles."""
    found = numbers.found
    _check_element(reader, note, "group", cue_lines(note, "group"), lines)
    counted_units = {n for b in found if _may_count_passive(b) for n in b.units}
    _check_element(reader, note, "passive", [n for n in cue_lines(note, "passive") if n in counted_units], lines)
    for index, block in enumerate(found, 1):
        if _needs_kind(block) and not _functional_by_its_words(note, block):
            reader.ask(
                f"kind:B{index}",
                "kind",
                KINDS,
                first=block.first,
                last=block.last,
                text=quote_span(note, block.first, block.last),
            )
    written = {i: segmentation.numbers_in(note, b) for i, b in enumerate(found)}
    to_ask = reconcile.blocks_to_ask(found, _value(numbers.total_timed), _value(numbers.total_treatment), written)
    for index, choices in to_ask.items():
        block = found[index]
        options = [str(n) for n in choices]
        reader.ask(
            f"minutes:B{index + 1}",
            "minutes",
            options + [NONE],
            first=block.first,
            last=block.last,
            options=", ".join(options),
        )


def document_type(note: NumberedNote, billing: list[BillingLine], answers: dict[str, Judgement]) -> DocumentType:
    """What the document is. One that bills nothing is a treatment note without billing lines
    unless it shows what else it is (an evaluation's sections, a referral, a letter) or the model
    is sure; its documentation is reviewed, its flag stays `not_a_treatment_note` (FORMAT.md)."""
    if billing:
        return "other" if is_other_document(note, answers) else "treatment_note"
    if other_document_line(note) is not None or _p_other(answers) >= OTHER_DOC_MIN:
        return "other"
    return "unbilled_note"


def other_document_line(note: NumberedNote, anywhere: bool = True) -> int | None:
    """The line that shows the document is not a daily note: a title cue among the first lines, a
    message header, or (`anywhere`) an evaluation's, report's or letter's wording anywhere."""
    titled = _title_line(note)
    if titled is not None:
        return titled
    if is_template(note):
        return 1
    if len(message_fields(note)) >= 2:
        return next(n for n, line in enumerate(note.lines, 1) if _message_field_re().match(line))
    return next(iter(cue_lines(note, "other_document")), None) if anywhere else None


def is_template(note: NumberedNote) -> bool:
    """A form not yet filled in: most of its lines are headings or labels with nothing after them."""
    empty = sum(1 for line in note.lines if _LABEL_RE.match(line))
    return len(note.lines) >= 5 and empty >= 0.6 * len(note.lines)


def _title_line(note: NumberedNote) -> int | None:
    """The first of the document's first lines that names another document type."""
    return next((n for n in cue_lines(note, "document") if n <= TITLE_LINES), None)


def _p_yes(judgement: Judgement) -> float:
    """P(yes) of a yes/no answer: its confidence, else 1 or 0 by the answer."""
    return judgement.confidence if judgement.confidence is not None else float(judgement.answer == "yes")


def _p_other(answers: dict[str, Judgement]) -> float:
    judgement = answers.get("doc")
    return _p_yes(judgement) if judgement is not None else 0.0


def is_other_document(note: NumberedNote, answers: dict[str, Judgement]) -> bool:
    """A note with billing lines that is not a daily treatment note: the model is sure it is another
    kind of document, or leans to it and the document's first lines call it a letter, memo,
    appeal, request, report or instruction, or open with message header fields (the cues only
    lower the bar; the model decides)."""
    if "doc" not in answers:
        return False
    p_other = _p_other(answers)
    titled = _title_line(note) is not None
    headed = len(message_fields(note)) >= 2
    return (
        p_other >= OTHER_DOC_MIN
        or (titled and p_other >= OTHER_DOC_TITLED_MIN)
        or (headed and p_other >= OTHER_DOC_HEADED_MIN)
    )


def message_fields(note: NumberedNote) -> set[str]:
    """The message header fields ("From:", "To:", "Subject:") that open lines among the first ones."""
    fields = _message_field_re()
    return {m.group(1).lower() for line in note.lines[:TITLE_LINES] if (m := fields.match(line))}


@cache
def _message_field_re() -> re.Pattern:
    names = "|".join(re.escape(name) for name in load_yaml("cues.yaml")["message_fields"])
    return re.compile(rf"^\s*({names})\s*:", re.IGNORECASE)


def cue_lines(note: NumberedNote, key: str) -> list[int]:
    """The lines the cue vocabulary suggests checking for an element, most cues first."""
    patterns = _cue_patterns()[key]
    scored = [(sum(1 for p in patterns if p.search(line)), number) for number, line in enumerate(note.lines, 1)]
    return [number for score, number in sorted(scored, key=lambda item: (-item[0], item[1])) if score > 0]


@cache
def _cue_patterns() -> dict[str, list[re.Pattern]]:
    return {
        key: [re.compile(p, re.IGNORECASE) for p in patterns]
        for key, patterns in load_yaml("cues.yaml")["cues"].items()
    }


def _check_element(reader: _Reader, note: NumberedNote, key: str, suggested: list[int], lines: list[str]) -> None:
    """Whether the note shows an element (goal, skill, response, group, passive): the model checks
    the suggested lines one at a time until one is confirmed; with no suggestion it first picks a
    line itself among all of them."""
    candidates = list(dict.fromkeys(n for n in map(partial(content_line, note), suggested) if n))[:CHECKS_PER_ELEMENT]
    confirmed = False
    for number in candidates:
        if _check_line(reader, note, key, number):
            if key != "goal" or names_activity(note, number):  # a goal that names no activity: look on
                return
            confirmed = True
    if confirmed or (candidates and key not in PICK_AFTER_SUGGESTIONS):
        return
    pick = reader.ask(key, key, lines, presence=True)
    picked = content_line(note, int(pick.answer)) if pick.answer != NONE else None
    if picked is not None and picked not in candidates:
        _check_line(reader, note, key, picked)


def record_line(note: NumberedNote, part: str) -> int | None:
    """The first line that records a SOAP part in its own words (spoken numbers read as digits):
    a line with content, not a heading alone nor a charge line."""
    for number, line in enumerate(note.lines, 1):
        if segmentation.is_charge_unit(line) or content_line(note, number) != number:
            continue
        if names_element(parsing.normalize_spoken(line), part):
            return number
    return None


def _record(note: NumberedNote, answers: dict[str, Judgement]) -> list[RecordElement]:
    """Each SOAP part: recorded where a line names it in its own words; absent only when no line
    names it and the model is sure there is none. A line the model points to that names nothing of
    the part is a disagreement of the witnesses: doubtful, shown with that line, no finding."""
    out: list[RecordElement] = []
    for part in RECORD_PARTS:
        number = record_line(note, part)
        if number is not None:
            out.append(
                RecordElement(part=part, present=True, evidence=_line_evidence(note, number, part), source="parser")
            )
            continue
        pick = answers.get(f"record_{part}")
        if pick is None:
            continue
        pointed = content_line(note, int(pick.answer)) if pick.answer != NONE else None
        sure = pick.answer == NONE and (pick.confidence if pick.confidence is not None else 1.0) >= ABSENT_MIN
        evidence = _line_evidence(note, pointed, part) if pointed is not None else None
        out.append(
            RecordElement(
                part=part, present=False if sure else None, evidence=evidence, source="model" if evidence else "none"
            )
        )
    return out


def names_activity(note: NumberedNote, number: int) -> bool:
    """A goal line (with the items of its list) names a daily-life activity in its own words."""
    text = " ".join(note.lines[n - 1] for n in _goal_list(note, number))
    return any(p.search(text) for p in (*_cue_patterns()["goal_activity"], *_cue_patterns()["functional_task"]))


def _ask_goal_function(reader: _Reader, note: NumberedNote) -> None:
    """Confirmed goals that name no daily-life activity ("increase grip to 75 lb"): the model says
    whether they name only a body measure, as a second witness. Asked that way round because the
    model leans to yes: a yes must be sure (0.55), where goals it has no activity words for scored
    0.49 on the question's trial."""
    goal_lines = confirmed_lines(note, reader.answers, "goal")
    if not goal_lines or any(names_activity(note, n) for n in goal_lines):
        return
    number = goal_lines[0]
    items = _goal_list(note, number)
    reader.ask(
        f"goal_function:{number}",
        "goal_function",
        ["yes", "no"],
        probability_of="yes",
        line=number,
        lines=_line_range(items[0], items[-1]),
        text=quote_span(note, items[0], items[-1]),
    )


def _check_line(reader: _Reader, note: NumberedNote, key: str, number: int) -> bool:
    """Ask whether one line shows the element; True when the model confirms it."""
    check = reader.ask(
        f"{key}_check:{number}",
        f"{key}_check",
        ["yes", "no"],
        probability_of="yes",
        line=number,
        lines=_line_range(number, wrapped_end(note, number)),
        text=quote(note, number),
    )
    return _confirms(note, key, number, check)


def _confirms(note: NumberedNote, key: str, number: int, check: Judgement) -> bool:
    """The model's yes on a line is sure enough, alone or with the line's own words as a second witness."""
    confidence = check.confidence or 0
    if confidence >= CHECK_MIN[key]:
        return True
    witness = WITNESSED_CHECK_MIN.get(key)
    return witness is not None and confidence >= witness[1] and names_element(note.lines[number - 1], witness[0])


def content_line(note: NumberedNote, number: int) -> int | None:
    """The line that holds what a line says: itself, or, for a heading alone on its line, the line
    under it; None for a heading with nothing under it (an empty template field such as
    "Pt Response:" followed by the next field)."""
    if not note.has_line(number):
        return None
    line = note.lines[number - 1]
    if _is_table_head(line):
        return None
    label, section = bool(_LABEL_RE.match(line)), bool(_SECTION_RE.match(line))
    if not (label or section):
        return number
    after = number + 1
    if not note.has_line(after):
        return None
    following = note.lines[after - 1]
    if section and not label and not any(c.islower() for c in following):  # a note written in capitals
        return number
    if _LABEL_RE.match(following) or _SECTION_RE.match(following) or (label and _LABELLED_RE.match(following)):
        return None
    return after


def _is_table_head(line: str) -> bool:
    """A table's header row ("Activity   Parameters   Assist   Code"): column names, no values."""
    cells = [cell for cell in _CELL_SPLIT_RE.split(line.strip()) if cell]
    return len(cells) >= 3 and all(_COLUMN_NAME_RE.fullmatch(cell) for cell in cells)


def quote(note: NumberedNote, number: int) -> str:
    """A line as the verification question quotes it, with the lines it wraps onto."""
    return quote_span(note, number, wrapped_end(note, number))


def wrapped_end(note: NumberedNote, number: int, most: int = 2) -> int:
    """The last line of the item that starts at `number`: a line that breaks off ("therapist-",
    "and,") or is followed by a more indented line that starts no new item continues there."""
    last = number
    while last - number < most and note.has_line(last + 1) and not note.breaks[last] and not note.joined[last]:
        line, following = note.lines[last - 1], note.lines[last]
        breaks_off = line.rstrip().endswith(("-", ",", "+", "&", "/"))
        indented = _indent(following) > _indent(line) and not _LIST_ITEM_RE.match(following)
        if not (breaks_off or indented):
            break
        last += 1
    return last


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _line_range(first: int, last: int) -> str:
    """How a question names the lines it asks about without quoting them: "Line 12", "Lines 12-13"."""
    return f"Line {first}" if first == last else f"Lines {first}-{last}"


def quote_span(note: NumberedNote, first: int, last: int) -> str:
    """Lines quoted as one: spaces collapsed, double quotes made single, cut at `QUOTE_CHARS`."""
    text = " ".join(" ".join(note.lines[n - 1].split()) for n in range(first, last + 1)).replace('"', "'")
    return text if len(text) <= QUOTE_CHARS else text[: QUOTE_CHARS - 1].rsplit(" ", 1)[0] + "…"


def _may_count_passive(block: Block) -> bool:
    """A block whose minutes a timed code may count: it names a timed code, or names none and has
    minutes or times, and is not marked as not billed."""
    if block.not_billed:
        return False
    if block.codes:
        return is_timed(block.codes[0])
    return bool(block.readings) or block.start_time is not None


def _needs_kind(block: Block) -> bool:
    """97530 blocks (their kind decides ACT001/ACT005) and uncoded blocks with minutes (passive care
    beside timed codes); other codes take the kind their code describes."""
    uncoded = not block.codes and bool(block.readings) and (not block.not_billed or block.start_time is not None)
    return (block.codes == ["97530"] and not block.not_billed) or uncoded


# ---------------------------------------------------------------------------
# Building the extraction from the note and the answers (no model: re-scoring uses it too)
# ---------------------------------------------------------------------------


def build_extraction(
    note: NumberedNote, answers: dict[str, Judgement], numbers: NoteNumbers | None = None
) -> Extraction:
    """The grounded extraction from the program's reading of the note plus the model's answers."""
    discrepancies: list[Discrepancy] = []
    numbers = numbers or NoteNumbers.read(note)
    found, billing, total_timed, total_treatment = (
        numbers.found,
        numbers.billing,
        numbers.total_timed,
        numbers.total_treatment,
    )
    time_in, time_out = _time_in_out(note)
    if total_treatment is None and time_in and time_out:
        minutes = clock.minutes_between(time_in.value, time_out.value)
        if minutes:
            total_treatment = Grounded[int](value=minutes, evidence=time_out.evidence, source="computed")
    model_minutes = {
        int(key.split(":B")[1]) - 1: (None if j.answer == NONE else int(j.answer), j.confidence)
        for key, j in answers.items()
        if key.startswith("minutes:B")
    }
    resolutions = reconcile.resolve(found, _value(total_timed), _value(total_treatment), model_minutes)
    billed_timed = [b.code for b in billing if is_timed(b.code)]
    treatment_blocks, uncertain = _treatment_blocks(note, found, resolutions, answers, discrepancies, billed_timed)
    signature = _signature(note)
    assistant = _assistant(note)
    dos = parsing.find_date_of_service(note.text)
    doubtful: list[str] = []
    skill = witnessed_lines(note, confirmed_lines(note, answers, "skill", doubtful), "skill", discrepancies)
    response = confirmed_lines(note, answers, "response", doubtful)
    goal_lines = confirmed_lines(note, answers, "goal", doubtful)
    goals = _goals(note, sorted(goal_lines, key=lambda n: not names_activity(note, n)), answers)
    kind = document_type(note, billing, answers)
    kind_line = other_document_line(note, anywhere=not billing)
    goal_numbers = _goal_line_numbers(note, goals)
    for key, shown in (("skill", skill), ("response", response)):
        if not shown and key not in doubtful:
            _absence_witness(note, key, goal_numbers, doubtful, discrepancies)
    episode, episode_conflicts = read_episode_keys(note.text)
    return Extraction(
        document_type=kind,
        document_evidence=_line_evidence(note, kind_line, "document") if kind == "other" and kind_line else None,
        date_of_service=Grounded[str](value=dos[0], evidence=_span(note, dos[1], dos[2], "date")) if dos else None,
        date_of_service_labelled=parsing.labelled_date_of_service(note.text),
        signature_date=_signature_date(note, signature),
        plan_of_care_start=_grounded_text(note, parsing.plan_of_care_start(note.text), "plan"),
        **_visits(note),
        named_codes=_named_codes(note, billing),
        discipline=_discipline(note, billing, signature),
        signature=signature,
        clinicians=[signature] if signature else [],
        assistant_involved=assistant is not None,
        assistant_evidence=assistant,
        goals=goals,
        blocks=treatment_blocks,
        total_timed_minutes=total_timed,
        total_treatment_minutes=total_treatment,
        time_in=time_in,
        time_out=time_out,
        billing=billing,
        group_evidence=next((note.line_evidence(n, "group") for n in confirmed_lines(note, answers, "group")), None),
        skilled_justification=[_line_evidence(note, n, "skill") for n in skill],
        patient_response=[_line_evidence(note, n, "response") for n in response],
        record=_record(note, answers),
        instructions=[_text_evidence(note, start, end, "instruction") for start, end in note.instructions],
        outcome_measures=[
            Grounded[str](value=name, evidence=_span(note, start, end, "outcome"))
            for name, start, end in parsing.find_outcome_measures(note.text)
        ],
        episode=episode,
        discrepancies=discrepancies,
        uncertain=uncertain + episode_conflicts,
        judgements=answers,
        doubtful=doubtful,
    )


def raw_to_extraction(text: str, raw_output: str) -> Extraction:
    """Rebuild the extraction from cached answers (for re-scoring without the model)."""
    try:
        data = json.loads(raw_output)
        answers = {key: Judgement.model_validate(value) for key, value in data.items()}
    except (ValueError, TypeError, AttributeError) as exc:
        raise ExtractionFailed(f"cached answers unreadable: {exc}") from None
    return build_extraction(NumberedNote.from_text(text), answers)


def confirmed_lines(
    note: NumberedNote, answers: dict[str, Judgement], key: str, doubtful: list[str] | None = None
) -> list[int]:
    """The lines the model confirmed show an element. With no line to check, a sure "none" makes
    the element absent and an unsure one doubtful (no flag on it)."""
    checks = {int(k.rsplit(":", 1)[1]): j for k, j in answers.items() if k.startswith(f"{key}_check:")}
    confirmed = [n for n, j in checks.items() if note.has_line(n) and _confirms(note, key, n, j)]
    pick = answers.get(key)
    if (
        not checks
        and pick is not None
        and pick.answer == NONE
        and (pick.confidence or 1) < ABSENT_MIN
        and doubtful is not None
    ):
        doubtful.append(key)
    return sorted(confirmed)


_NEGATION_RE = re.compile(
    r"\b(?:no|not|without|w/o|never|nor)\b[^.;,:]{0,25}$|\bindependent(?:ly)?\b[^.;,:]{0,15}$", re.IGNORECASE
)


def names_element(line: str, key: str) -> bool:
    """The line names the element in its own words: a cue that is not negated ("did not need any
    cues", "without assist" name none)."""
    return any(
        not _NEGATION_RE.search(line[max(0, m.start() - 40) : m.start()])
        for p in _cue_patterns()[key]
        for m in p.finditer(line)
    )


def witnessed_lines(note: NumberedNote, lines: list[int], key: str, discrepancies: list[Discrepancy]) -> list[int]:
    """The confirmed lines that also name the element in their own words (its cue vocabulary): for
    an element that raises a billing flag, the model's yes on a line that names none of it is a
    disagreement of the witnesses, shown and not counted."""
    named = [n for n in lines if names_element(note.lines[n - 1], key)]
    discrepancies += [
        Discrepancy(field=key, parser="the line names none of it", model=f"line {n}", chosen=None, line=n)
        for n in lines
        if n not in named
    ]
    return named


def _absence_witness(
    note: NumberedNote, key: str, skip: set[int], doubtful: list[str], discrepancies: list[Discrepancy]
) -> None:
    """The model confirmed no line showing the element: if a line names it in its own words (not a
    heading, not a goal), the witnesses disagree and the element is doubtful, with no flag on it."""
    named = [
        n
        for n, line in enumerate(note.lines, 1)
        if n not in skip and content_line(note, n) == n and names_element(line, key)
    ]
    if named:
        doubtful.append(key)
        discrepancies.append(
            Discrepancy(
                field=key, parser=f"line {named[0]} names it", model="no line confirmed", chosen=None, line=named[0]
            )
        )


def _goal_line_numbers(note: NumberedNote, goals: list[Goal]) -> set[int]:
    """The lines the goals are read from, and any line that calls itself a goal."""
    lines = {n for n, line in enumerate(note.lines, 1) if _GOAL_WORD_RE.search(line)}
    for goal in goals:
        span = goal.evidence
        if span is not None and span.start is not None and span.end is not None:
            first, last = note.line_at(span.start), note.line_at(max(span.start, span.end - 1))
            if first is not None and last is not None:
                lines.update(range(first, last + 1))
    return lines


def _line_evidence(note: NumberedNote, number: int, supports: str = "") -> Evidence:
    """The evidence of a line known to be in the note (a confirmed line, a block's or a goal list's)."""
    evidence = note.line_evidence(number, supports)
    if evidence is None:
        raise ValueError(f"line {number} is not in the note")
    return evidence


def _text_evidence(note: NumberedNote, start: int, end: int, supports: str) -> Evidence:
    """The span of the note's own text between two offsets, its surrounding blanks left out."""
    raw = note.text[start:end]
    start += len(raw) - len(raw.lstrip())
    text = raw.strip()
    return Evidence(text=text, start=start, end=start + len(text), match="exact", supports=supports)


def _span_evidence(note: NumberedNote, first: int, last: int, supports: str) -> Evidence:
    start = _line_evidence(note, first).start
    end = _line_evidence(note, last).end
    return Evidence(text=note.text[start:end], start=start, end=end, match="exact", supports=supports)


def _kind(
    note: NumberedNote, block: Block, index: int, answers: dict[str, Judgement], discrepancies: list[Discrepancy]
) -> tuple[str, float | None]:
    """The kind of a block the rules judge. A block that names a functional task is functional
    (a non-functional answer could not stand, so the model is not asked). Otherwise the model's
    kind, when it is sure; a non-functional kind also needs the block's own words to name isolated
    care (`activity_witness`), or the witnesses disagree: the kind stays unjudged and the
    disagreement is shown."""
    if _functional_by_its_words(note, block):
        return "functional", None  # no answer could raise a flag here, so none is asked
    judgement = answers.get(f"kind:B{index + 1}")
    if judgement is None:
        return (_code_kind(block.codes[0]) if len(block.codes) == 1 else "other"), None
    if judgement.confidence is not None and judgement.confidence < KIND_MIN:
        return "other", judgement.confidence
    if judgement.answer in NON_FUNCTIONAL_KINDS:
        witness = activity_witness(note, block)
        if witness != "isolated":
            discrepancies.append(
                Discrepancy(
                    field="block.kind",
                    parser=witness or "names neither a functional task nor isolated care",
                    model=judgement.answer,
                    chosen=None,
                    line=block.first,
                )
            )
            return "other", judgement.confidence
    return judgement.answer, judgement.confidence


def _functional_by_its_words(note: NumberedNote, block: Block) -> bool:
    """A block the rules judge that names a functional task: functional, without asking the model."""
    return _needs_kind(block) and activity_witness(note, block) == "functional"


def activity_witness(note: NumberedNote, block: Block) -> str | None:
    """What the block's lines name: "functional" (a functional task, the 97530 descriptor's
    examples), "isolated" (only isolated exercise, drills, manual or passive care), or None. The
    isolated-care words are taken out first, so a device named like a task names no task."""
    text = parsing.strip_codes(" ".join(note.lines[number - 1] for number in range(block.first, block.last + 1)))
    patterns = _cue_patterns()
    rest = text
    for pattern in patterns["isolated_care"]:  # "finger ladder" names an exercise, not a ladder
        rest = pattern.sub(" ", rest)
    if any(p.search(rest) for p in patterns["functional_task"]):
        return "functional"
    if rest != text:
        return "isolated"
    return None


def _treatment_blocks(
    note, found, resolutions, answers, discrepancies, billed_timed: list[str]
) -> tuple[list[TreatmentBlock], list[Uncertain]]:
    group_line = next(iter(confirmed_lines(note, answers, "group")), None)
    passive_line = next(
        iter(witnessed_lines(note, confirmed_lines(note, answers, "passive"), "passive", discrepancies)), None
    )
    out: list[TreatmentBlock] = []
    uncertain: list[Uncertain] = []
    for index, block in enumerate(found):
        resolution = resolutions[index]
        evidence = _span_evidence(note, block.first, block.last, "activity")
        kind, kind_confidence = _kind(note, block, index, answers, discrepancies)
        contains = partial(_within, block)
        assistant_named, assistant_minutes = parsing.assistant_minutes(evidence.text)
        common = dict(
            assistant_named=assistant_named,
            assistant_minutes=assistant_minutes,
            description=evidence.text,
            kind=kind,
            kind_confidence=kind_confidence,
            evidence=evidence,
            billed_as_not_billed=block.not_billed,
            start_time=block.start_time,
            stop_time=block.stop_time,
            group=contains(group_line),
            minutes_candidates=block.values(),
        )
        pair = segmentation.table_minutes_pair(note, block.first) if len(block.codes) > 1 else []
        if len(block.codes) > 1 and len(pair) == len(block.codes):  # one table row, one cell per code
            for code, minutes in zip(block.codes, pair):
                out.append(
                    TreatmentBlock(
                        code=code, minutes=minutes, minutes_source="parser", **{**common, "kind": _code_kind(code)}
                    )
                )
            continue
        code = block.codes[0] if block.codes else None
        if resolution.source == "model" and resolution.minutes is not None:
            discrepancies.append(
                Discrepancy(
                    field="block.minutes",
                    parser="/".join(map(str, block.values())) or None,
                    model=str(resolution.minutes),
                    chosen=str(resolution.minutes),
                    line=block.first,
                )
            )
        elif resolution.source == "total":
            discrepancies.append(
                Discrepancy(
                    field="block.minutes",
                    parser="/".join(map(str, block.values())),
                    model=None,
                    chosen=f"{resolution.minutes} (fits the stated total)",
                    line=block.first,
                )
            )
        out.append(
            TreatmentBlock(
                code=code,
                minutes=resolution.minutes,
                minutes_source=resolution.source if resolution.minutes is not None else "none",
                counted=resolution.counted and len(block.codes) <= 1,
                charge_restatement=block.charge_row and not resolution.counted,
                includes_passive=kind == "passive" or (contains(passive_line) and (code is None or is_timed(code))),
                **common,
            )
        )
        if resolution.uncertain and resolution.counted:
            uncertain.append(
                Uncertain(
                    field="minutes",
                    code=code,
                    reason=resolution.uncertain,
                    candidates=list(resolution.candidates),
                    evidence=evidence,
                )
            )
    _add_summary_minutes(note, found, out)
    _apply_corrections(note, found, out)
    _attribute_uncoded(out, billed_timed, uncertain)
    if group_line is not None and not any(b.group for b in out):  # a group line outside any block: the block after it
        after = [
            b
            for b in out
            if b.evidence and note.line_at(b.evidence.start) and note.line_at(b.evidence.start) > group_line
        ]
        target = after[0] if after else next((b for b in out if b.code == "97530"), None)
        if target is not None:
            target.group = True
    return out, uncertain


def _within(block: Block, line: int | None) -> bool:
    return line is not None and block.first <= line <= block.last


def _attribute_uncoded(out: list[TreatmentBlock], billed_timed: list[str], uncertain: list[Uncertain]) -> None:
    """One timed code billed and no block naming a code: the note's uncoded active blocks (not
    passive care, not marked unbilled) are that code's minutes. A block whose witnesses disagree
    gives uncertain minutes, as a coded one would."""
    if len(billed_timed) != 1 or any(b.code and b.minutes is not None and b.counted for b in out):
        return
    for block in out:
        if (
            block.code is None
            and block.minutes is not None
            and block.kind != "passive"
            and not block.billed_as_not_billed
        ):
            block.code, block.counted = billed_timed[0], True
            if len(block.minutes_candidates) > 1:
                uncertain.append(
                    Uncertain(
                        field="minutes",
                        code=block.code,
                        candidates=list(block.minutes_candidates),
                        evidence=block.evidence,
                        reason="the block's witnesses disagree and nothing names its code",
                    )
                )
                block.minutes, block.minutes_source = None, "none"


def _add_summary_minutes(note: NumberedNote, found: list[Block], out: list[TreatmentBlock]) -> None:
    """A code whose minutes no block gives, stated per code in a summary or charge sentence
    ("97530 ×2 (24 min) | 97535 ×1 (13 min)"): counted from there."""
    documented = {b.code for b in out if b.counted and b.code and b.minutes is not None}
    for block in found:
        if len(block.codes) < 2:
            continue
        for code, minutes in segmentation.summary_minutes(note, block).items():
            if code not in documented and is_timed(code):
                out.append(_stated_minutes(note, block, code, minutes))
                documented.add(code)


def _apply_corrections(note: NumberedNote, found: list[Block], out: list[TreatmentBlock]) -> None:
    """An addendum that corrects a code's minutes supersedes the blocks before it (the record
    follows the corrected figures)."""
    start = segmentation.correction_start(note)
    if start is None:
        return
    offset = note.offsets[start - 1]
    corrected: dict[str, tuple[int, Block]] = {}
    for block in found:
        if block.last < start:
            continue
        if len(block.codes) == 1 and block.values() and is_timed(block.codes[0]):
            corrected[block.codes[0]] = (block.values()[0], block)
        elif block.role == "summary":
            for code, minutes in segmentation.summary_minutes(note, block).items():
                if is_timed(code):
                    corrected[code] = (minutes, block)
    for code, (minutes, block) in corrected.items():
        for earlier in out:
            if earlier.code == code and _starts_before(earlier, offset):
                earlier.counted = False
        current = [b for b in out if b.code == code and b.counted and _starts_from(b, offset)]
        if sum(b.minutes or 0 for b in current) != minutes:
            for b in current:
                b.counted = False
            out.append(_stated_minutes(note, block, code, minutes))


def _stated_minutes(note: NumberedNote, block: Block, code: str, minutes: int) -> TreatmentBlock:
    """A code's minutes as a summary sentence or a correction states them, evidenced by its lines."""
    evidence = _span_evidence(note, block.first, block.last, "minutes")
    return TreatmentBlock(
        code=code,
        minutes=minutes,
        minutes_source="parser",
        description=evidence.text,
        kind=_code_kind(code),
        evidence=evidence,
    )


def _code_kind(code: str) -> ActivityKind:
    info = code_info(code)
    return info.kind if info and info.kind else "other"


def _span(note: NumberedNote, start: int, end: int, supports: str) -> Evidence:
    return Evidence(text=note.text[start:end], start=start, end=end, match="exact", supports=supports)


def _goals(note: NumberedNote, lines: list[int], answers: dict[str, Judgement]) -> list[Goal]:
    """The goal line the model confirmed (one naming an activity first) and the goal-list items
    that follow it. They are not functional when they name no daily-life activity and the model,
    asked, is sure they name only a body measure: both witnesses agree."""
    goals: list[Goal] = []
    if not lines:
        return goals
    impairment = answers.get(f"goal_function:{lines[0]}")
    functional = None
    if impairment is not None and not names_activity(note, lines[0]):
        functional = _p_yes(impairment) < IMPAIRMENT_GOAL_MIN
    for number in _goal_list(note, lines[0]):
        evidence = _line_evidence(note, number, "goal")
        text = _GOAL_PREFIX_RE.sub("", evidence.text).strip()
        if len(text) < 6:  # a bare "Goals:" heading
            continue
        goals.append(
            Goal(text=text, measurable=parsing.goal_is_measurable(text), functional=functional, evidence=evidence)
        )
    return goals


def _goal_list(note: NumberedNote, number: int) -> list[int]:
    """The named line, and after it the items of the same list (numbered, bulleted, or the
    continuing sentences of one paragraph), up to a blank line."""
    out = [number]
    heading = len(_GOAL_PREFIX_RE.sub("", note.lines[number - 1]).strip()) < 6
    for following in range(number + 1, min(len(note.lines), number + 4) + 1):
        line = note.lines[following - 1]
        if note.breaks[following - 1] and not heading:
            break
        if (
            _LIST_ITEM_RE.match(line)
            or (heading and following == number + 1)
            or (
                note.joined[following - 1]
                and parsing.goal_is_measurable(line)
                and _GOAL_PREFIX_RE.match(line) is None
                and _mentions_goal(line)
            )
        ):
            out.append(following)
        else:
            break
    return out


def _mentions_goal(line: str) -> bool:
    return bool(re.search(r"\b(?:will|goal|able to)\b", line, re.IGNORECASE))


def _stated_total(note: NumberedNote, find, found: list[Block]) -> Grounded[int] | None:
    """A stated total on a labelled line (a block's own subtotal is not the note's total)."""
    own = {b.subtotal_unit for b in found if b.subtotal_unit}
    corrected_from = segmentation.correction_start(note) or len(note.lines) + 1
    stated: list[tuple[int, int]] = []
    for number, line in enumerate(note.lines, 1):
        value = find(line) if number not in own else None
        if value is not None:
            stated.append((number, value))
    if not stated:
        return None
    corrections = [item for item in stated if item[0] >= corrected_from]
    number, value = corrections[-1] if corrections else stated[0]  # an addendum's corrected total wins
    return Grounded[int](value=value, evidence=note.line_evidence(number, "minutes"), source="parser")


def _billing(note: NumberedNote) -> list[BillingLine]:
    """The charge lines as the note writes them: codes with units and modifiers, one per code.
    Charges restated in an addendum that corrects them replace the earlier ones."""
    for_all_lines = _all_lines_modifiers(note)
    candidates = _billing_line_candidates(note)
    lines: list[BillingLine] = []
    for number, near in candidates:
        line = note.lines[number - 1]
        entries = parsing.parse_billing(segmentation.without_sets(line), reach=_REACH if near else None)
        shared = entries[-1].modifiers if len(entries) > 1 and _ALL_CODES_RE.search(line) else []
        row = segmentation.table_row(note, number)
        column_units = parsing.table_units(*row) if row and len(entries) == 1 else None
        for entry in entries:
            modifiers = list(
                dict.fromkeys(entry.modifiers + shared + _continuation_modifiers(note, number) + for_all_lines)
            )
            units = next((u for u in (column_units, entry.units, _row_units(line, entries)) if u is not None), None)
            lines.append(
                BillingLine(
                    code=entry.code,
                    units=units,
                    modifiers=modifiers,
                    evidence=note.line_evidence(number, "billing"),
                    source="parser",
                )
            )
    lines = _corrected_charges(note, lines)
    merged: dict[str, BillingLine] = {}
    for charge in lines:  # one claim line per code per date (Pub. 100-04 Ch. 5 §20.2, line-item reporting)
        if charge.code in merged:
            kept = merged[charge.code]
            kept.units = (kept.units or 0) + (charge.units or 0) if (kept.units or charge.units) else None
            kept.modifiers += [m for m in charge.modifiers if m not in kept.modifiers]
        else:
            merged[charge.code] = charge
    return list(merged.values())


def _corrected_charges(note: NumberedNote, lines: list[BillingLine]) -> list[BillingLine]:
    """Charges an addendum restates: a restated charge list (two or more codes with units on one
    line) replaces the earlier charges; a single restated code replaces that code's line. A
    restated line that writes no modifiers keeps the ones the earlier line gave the code."""
    start = segmentation.correction_start(note)
    if start is None:
        return lines
    offset = note.offsets[start - 1]
    late = [b for b in lines if _starts_from(b, offset) and b.units is not None]
    early = [b for b in lines if _starts_before(b, offset)]
    if not late or not early:
        return lines
    by_line: dict[int, list[BillingLine]] = {}
    for entry in late:
        if entry.evidence is not None and entry.evidence.start is not None:  # true of every late charge
            by_line.setdefault(entry.evidence.start, []).append(entry)
    written = {b.code: b.modifiers for b in early if b.modifiers}
    for entry in late:  # "units unchanged (97140 x1, 97530 x2)": a restatement without modifiers keeps them
        if not entry.modifiers:
            entry.modifiers = list(written.get(entry.code, []))
    restated = [group for group in by_line.values() if len(group) >= 2]
    if restated:
        return restated[-1]
    codes = {b.code for b in late}
    return [b for b in early if b.code not in codes] + late


def _starts_from(item: TreatmentBlock | BillingLine, offset: int) -> bool:
    """The item's evidence starts at `offset` or later."""
    return bool(item.evidence and item.evidence.start is not None and item.evidence.start >= offset)


def _starts_before(item: TreatmentBlock | BillingLine, offset: int) -> bool:
    """The item's evidence starts before `offset`."""
    return bool(item.evidence and item.evidence.start is not None and item.evidence.start < offset)


_REACH = 16  # characters after a code where a treatment line's own billing (units, modifiers) sits


def _row_units(line: str, entries: list[parsing.ParsedBilling]) -> int | None:
    """A one-code charge row's units after leader dots ("97530-GP ........ 2")."""
    if len(entries) != 1:
        return None
    match = parsing.CPT_RE.search(parsing.normalize_spoken(line))
    return parsing.leader_units(parsing.normalize_spoken(line)[match.end() :]) if match else None


def _billing_line_candidates(note: NumberedNote) -> list[tuple[int, bool]]:
    """(line, near) for each line that bills a code. A billing-worded line, or a code line under a
    billing heading ("CHARGES"), bills what it writes. Elsewhere only units or modifiers written
    next to the code count ("97530-GP x2 (30 min)"), not the repetitions of a description
    ("97530 23 min: sit to stand x10"); a table row with a units column counts too."""
    headings = [n for n, line in enumerate(note.lines, 1) if segmentation.BILLING_WORDS_RE.search(line)]
    out: list[tuple[int, bool]] = []
    for number, line in enumerate(note.lines, 1):
        if not parsing.find_codes(line):
            continue
        plain = segmentation.without_sets(line)
        worded = number in headings or _in_charge_list(note, number, headings)
        entries = parsing.parse_billing(plain) if worded else parsing.parse_billing(plain, reach=_REACH)
        row = segmentation.table_row(note, number)
        column = row is not None and parsing.table_units(*row) is not None
        if (
            column
            or any(e.units is not None or e.modifiers for e in entries)
            or (worded and _row_units(line, entries) is not None)
        ):
            out.append((number, not worded))
    return out


def _in_charge_list(note: NumberedNote, number: int, headings: list[int]) -> bool:
    """A code line a few lines under a billing heading ("CHARGES" then "97530 ...... x1"), with no
    blank line between."""
    return any(0 < number - h <= 6 and all(not note.breaks[k - 1] for k in range(h + 1, number + 1)) for h in headings)


def _continuation_modifiers(note: NumberedNote, number: int) -> list[str]:
    """Modifiers on the lines after a charge line ("Modifier 1: GO"), up to the next code."""
    found: list[str] = []
    for line in note.lines[number : number + 4]:
        if parsing.find_codes(line) or not _MODIFIER_LINE_RE.search(line):
            break
        found += parsing.find_modifiers(line)
    return found


def _all_lines_modifiers(note: NumberedNote) -> list[str]:
    """Modifiers the note applies to every line ("Modifiers: GO on all lines")."""
    found: list[str] = []
    for line in note.lines:
        if _MODIFIER_LINE_RE.search(line) and _ALL_LINES_RE.search(line) and not parsing.find_codes(line):
            found += parsing.find_modifiers(line)
    return found


def _time_in_out(note: NumberedNote) -> tuple[Grounded[str] | None, Grounded[str] | None]:
    found_in, found_out = parsing.find_time_in_out(note.text)
    if found_in and found_out and clock.minutes_between(found_in[0], found_out[0]) is None:
        return None, None  # two clock times that are not a session (e.g. "in 4 wks ... out 9:00")

    def grounded(found: tuple[str, int, int] | None) -> Grounded[str] | None:
        return Grounded[str](value=found[0], evidence=_span(note, found[1], found[2], "minutes")) if found else None

    return grounded(found_in), grounded(found_out)


def _signature(note: NumberedNote) -> Clinician | None:
    """The signing clinician: the last line that reads like a signature and names a credential."""
    for number in range(len(note.lines), 0, -1):
        line = note.lines[number - 1]
        closing = _in_closing_lines(note, number)
        credentials = parsing.find_credentials(line, any_case=closing and "," in line)
        if any(c in parsing.LICENSED_CREDENTIALS for c in credentials) and (_SIGNATURE_HINT_RE.search(line) or closing):
            return Clinician(
                name=_signer_name(line), credentials=credentials, evidence=note.line_evidence(number, "signature")
            )
    for number in range(len(note.lines), 0, -1):  # signed, but no credential
        if re.search(r"(?i)\bsigned\b|\bsignature\b", note.lines[number - 1]):
            return Clinician(
                name=_signer_name(note.lines[number - 1]),
                credentials=[],
                evidence=note.line_evidence(number, "signature"),
            )
    return None


def _signature_date(note: NumberedNote, signature: Clinician | None) -> Grounded[str] | None:
    """The latest date written on the signature line or on a line that says it was signed."""
    lines = [n for n, line in enumerate(note.lines, 1) if _SIGNATURE_HINT_RE.search(line)]
    if signature is not None and signature.evidence is not None and signature.evidence.start is not None:
        lines.append(note.line_at(signature.evidence.start) or 0)
    dated = [
        (parsed, value, note.offsets[n - 1] + start, note.offsets[n - 1] + end)
        for n in sorted(set(lines))
        if n
        for value, start, end in parsing.dates_in(note.lines[n - 1])
        if (parsed := parsing.read_date(value)) is not None
    ]
    if not dated:
        return None
    _, value, start, end = max(dated)
    return Grounded[str](value=value, evidence=_span(note, start, end, "signature date"))


def _grounded_text(note: NumberedNote, found: tuple[str, int, int] | None, supports: str) -> Grounded[str] | None:
    return Grounded[str](value=found[0], evidence=_span(note, found[1], found[2], supports)) if found else None


def _named_codes(note: NumberedNote, billing: list[BillingLine]) -> list[Grounded[str]]:
    """Each code the note names, with its first line: a service name anywhere (a charge line that
    describes the service names it too), or the code written on a line that bills nothing."""
    charge_lines = {note.line_at(b.evidence.start) for b in billing if b.evidence and b.evidence.start is not None}
    found: dict[str, Grounded[str]] = {}
    for number, line in enumerate(note.lines, 1):
        written = [] if number in charge_lines else parsing.find_codes(line)
        for code in [*parsing.codes_named(line), *written]:
            found.setdefault(code, Grounded[str](value=code, evidence=_line_evidence(note, number, "service")))
    return list(found.values())


def _visits(note: NumberedNote) -> dict[str, Grounded[int] | None]:
    """The visit number and the visits planned, as the note writes them."""
    visit = parsing.visit_of(note.text)
    if visit is not None:
        number, of, start, end = visit
        evidence = _span(note, start, end, "visits")
        return {
            "visit_number": Grounded[int](value=number, evidence=evidence),
            "visits_planned": Grounded[int](value=of, evidence=evidence),
        }
    planned = parsing.planned_visits(note.text)
    visits = (
        Grounded[int](value=planned[0], evidence=_span(note, planned[1], planned[2], "visits")) if planned else None
    )
    return {"visit_number": None, "visits_planned": visits}


def _in_closing_lines(note: NumberedNote, number: int) -> bool:
    """One of the last three lines, where a signature block sits."""
    return number > len(note.lines) - 3


def _signer_name(line: str) -> str | None:
    cleaned = re.sub(
        r"(?i)^.*?(?:electronically\s+signed|e-signed|signed(?:\s+by)?|signature|/s/)\s*[:,]?\s*", "", line.strip()
    )
    name = re.split(r",|\s{2,}|\d", cleaned, maxsplit=1)[0].strip(" ,.-")
    return name or None


def _assistant(note: NumberedNote) -> Evidence | None:
    """Evidence that a PTA/OTA furnished treatment: a provider or signature line naming one (not a
    line about the assistant's other patients)."""
    for number in range(1, len(note.lines) + 1):
        line = note.lines[number - 1]
        signature_like = _in_closing_lines(note, number) and "," in line
        credentials = set(parsing.find_credentials(line, any_case=signature_like))
        names = bool(credentials & set(parsing.ASSISTANT_CREDENTIALS) or _ASSISTANT_WORD_RE.search(line))
        if names and _OTHER_PATIENTS_RE.search(line):  # "two other patients were in the gym with the PTA"
            continue
        if names and (_PROVIDER_HINT_RE.search(line) or _in_closing_lines(note, number)):
            return note.line_evidence(number, "assistant")
    return None


_DISCIPLINE_WORDS = (
    ("PT", r"\bphysical therap|\bPT\b"),
    ("OT", r"\boccupational therap|\bOT\b"),
    ("SLP", r"\bspeech|\bSLP\b"),
)


def _discipline(note: NumberedNote, billing: list[BillingLine], signature: Clinician | None):
    """The discipline the billing modifiers name, else the signer's credential, else the heading."""
    modifiers = {m for line in billing for m in line.modifiers}
    named = [d for m, d in (("GP", "PT"), ("GO", "OT"), ("GN", "SLP")) if m in modifiers]
    if len(named) == 1:
        return named[0]
    credentials = set(signature.credentials) if signature else set()
    for discipline, group in (
        ("PT", {"PT", "DPT", "PTA", "MPT", "MSPT"}),
        ("OT", {"OT", "OTR", "OTR/L", "COTA", "OTA", "COTA/L"}),
        ("SLP", {"SLP", "CCC-SLP"}),
    ):
        if credentials & group:
            return discipline
    heading = " ".join(note.lines[:3])
    for discipline, pattern in _DISCIPLINE_WORDS:
        if re.search(pattern, heading):
            return discipline
    return None
