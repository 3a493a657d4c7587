"""Extraction: ask the model for its terse pointers, then build a grounded `Extraction`.

The model points at goals, treatment lines, skill and response by line handles (a line's first
words, an enum in the per-note schema), says what kind each activity is, and normalises the
billing lines. The program reads the numbers on those lines itself, cross-checks them with the
model's, records every disagreement, and computes every evidence offset.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

from pydantic import ValidationError

from reviewer import parsing
from reviewer.backends.base import Completion, ModelBackend, ModelError
from reviewer.grounding import NumberedNote, locate
from reviewer.prompts import PromptTemplate
from reviewer.schema import (
    BillingLine,
    Clinician,
    Discrepancy,
    Evidence,
    Extraction,
    Goal,
    Grounded,
    ModelActivity,
    ModelOutput,
    TreatmentBlock,
    model_output_schema,
)

_GOAL_WORDS_RE = re.compile(
    r"\bgoals?\b|\bSTG|\bLTG|\bwill\b|\bobjectives?\b|\b(?:in|within|by)\s+\d+\s*(?:wks?|weeks?|visits?|months?|mos?)\b",
    re.IGNORECASE,
)
# A total the parser could not read is taken from the model only on a line labelled as that total.
_TOTAL_LABELS = {
    "total_timed_minutes": re.compile(r"\btimed\b|\bTCM\b", re.IGNORECASE),
    "total_treatment_minutes": re.compile(r"\btotal\b.*\b(?:treatment|tx|session|therapy|time)\b|\b(?:treatment|tx|session)\s+time\b", re.IGNORECASE),
}
_BILLING_WORDS_RE = re.compile(r"\bunits?\b|\bbill(?:ed|ing)?\b|\bcharges?\b|\bCPT\s*:", re.IGNORECASE)
_NOT_BILLED_RE = re.compile(r"not\s+billed|no\s+charge|unbilled|not\s+charged|non-?billable", re.IGNORECASE)
_GOAL_PREFIX_RE = re.compile(
    r"^\s*(?:[-*•]\s*)?(?:(?:STG|LTG|short[- ]term goals?|long[- ]term goals?|goals?)\s*(?:#?\d+)?\s*(?:\([^)]*\))?\s*[:.\-–]\s*)+",
    re.IGNORECASE,
)
_ASSISTANT_WORD_RE = re.compile(r"\b(?:therapy|therapist|physical therapist|occupational therapy|occupational therapist)\s+assistant\b", re.IGNORECASE)
_PROVIDER_HINT_RE = re.compile(r"sign|treated|seen|provided|performed|furnished|therapist|clinician|by\s", re.IGNORECASE)
_SIGNATURE_HINT_RE = re.compile(r"sign|electronically|e-signed|/s/", re.IGNORECASE)


class ExtractionFailed(Exception):
    """The model's output could not be turned into an extraction; the note must be reported failed."""


@dataclass
class ExtractionResult:
    extraction: Extraction
    raw_output: str
    attempts: int
    model_s: float
    prompt_tokens: int | None
    completion_tokens: int | None


def extract(text: str, backend: ModelBackend, prompt: PromptTemplate) -> ExtractionResult:
    """Ask the model (one retry on invalid output) and build the grounded extraction."""
    note = NumberedNote.from_text(text)
    messages = prompt.messages(note)
    schema = model_output_schema(note.handles, _goal_line_handles(note), _treatment_line_handles(note))
    started = time.perf_counter()
    prompt_tokens = completion_tokens = 0
    last_error = ""
    for attempt in (1, 2):
        try:
            completion: Completion = backend.complete(messages, schema)
        except ModelError as exc:
            raise ExtractionFailed(str(exc)) from None
        prompt_tokens += completion.prompt_tokens or 0
        completion_tokens += completion.completion_tokens or 0
        try:
            output = parse_model_output(completion.text)
        except ExtractionFailed as exc:
            last_error = str(exc)
            messages = prompt.retry_messages(messages, completion.text, last_error)
            continue
        return ExtractionResult(
            extraction=build_extraction(note, output),
            raw_output=completion.text,
            attempts=attempt,
            model_s=time.perf_counter() - started,
            prompt_tokens=prompt_tokens or None,
            completion_tokens=completion_tokens or None,
        )
    raise ExtractionFailed(f"model output invalid after a retry: {last_error}")


def parse_model_output(raw: str) -> ModelOutput:
    """Validate the model's raw text against the contract."""
    try:
        return ModelOutput.model_validate_json(raw)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()[:5])
        raise ExtractionFailed(problems or "output is not valid JSON") from None


def build_extraction(note: NumberedNote, output: ModelOutput) -> Extraction:
    """The grounded extraction from the model's pointers plus the program's own parsing."""
    discrepancies: list[Discrepancy] = []
    billing = _billing(note, output.bill, discrepancies)
    blocks = _blocks(note, output.acts, note.line_of_handle(output.group), billing, discrepancies)
    passive_lines = {note.line_of_handle(handle) for handle in output.passive}
    for block in blocks:
        claimed = block.evidence is not None and note.line_at(block.evidence.start) in passive_lines
        block.includes_passive = block.kind == "passive" or (claimed and parsing.names_passive_treatment(block.description))
        if claimed and not block.includes_passive:
            discrepancies.append(Discrepancy(field="block.includes_passive", parser="no passive treatment named", model="passive", chosen="not passive"))
    blocks += _blocks_model_missed(note, blocks, billing, discrepancies)
    total_timed = _stated_total(note, output.timed, parsing.find_total_timed, "total_timed_minutes", discrepancies)
    total_treatment = _stated_total(note, output.total, parsing.find_total_treatment, "total_treatment_minutes", discrepancies)
    time_in, time_out = _time_in_out(note)
    if total_treatment is None and time_in and time_out:
        minutes = parsing.minutes_between(time_in.value, time_out.value)
        if minutes:
            total_treatment = Grounded[int](value=minutes, evidence=time_out.evidence, source="computed")
    signature = _signature(note)
    assistant = _assistant(note, output.asst, discrepancies)
    dos = parsing.find_date_of_service(note.text)
    return Extraction(
        document_type=output.doc,
        date_of_service=Grounded[str](value=dos[0], evidence=_span(note, dos[1], dos[2], "date")) if dos else None,
        discipline=_discipline(output.disc, billing, signature),
        signature=signature,
        clinicians=[signature] if signature else [],
        assistant_involved=assistant is not None,
        assistant_evidence=assistant,
        goals=_goals(note, output, discrepancies),
        blocks=blocks,
        total_timed_minutes=total_timed,
        total_treatment_minutes=total_treatment,
        time_in=time_in,
        time_out=time_out,
        billing=billing,
        skilled_justification=_handle_spans(note, output.skill, "skill"),
        patient_response=_handle_spans(note, output.resp, "response"),
        outcome_measures=[
            Grounded[str](value=name, evidence=_span(note, start, end, "outcome")) for name, start, end in parsing.find_outcome_measures(note.text)
        ],
        discrepancies=discrepancies,
    )


def _treatment_line_handles(note: NumberedNote) -> list[str]:
    """Lines that could be treatment lines (a code, minutes, a clock range or a named service)."""
    return [
        handle for handle, line in zip(note.handles, note.lines)
        if (parsing.find_codes(line) or parsing.block_minutes(line) is not None or parsing.codes_named(line)) and not _is_total_line(line)
    ]


def _is_total_line(line: str) -> bool:
    return parsing.find_total_timed(line) is not None or parsing.find_total_treatment(line) is not None


def _goal_line_handles(note: NumberedNote) -> list[str]:
    """Lines that could state a goal (goal vocabulary of therapy notes); the model judges which do."""
    return [handle for handle, line in zip(note.handles, note.lines) if _GOAL_WORDS_RE.search(line)]


def _handle_spans(note: NumberedNote, handles: list[str], supports: str) -> list[Evidence]:
    spans = []
    for handle in dict.fromkeys(handles):
        number = note.line_of_handle(handle)
        spans.append(note.line_evidence(number, supports) if number else Evidence(text=handle, match="none", supports=supports))
    return spans


def _span(note: NumberedNote, start: int, end: int, supports: str) -> Evidence:
    return Evidence(text=note.text[start:end], start=start, end=end, match="exact", supports=supports)


def _goals(note: NumberedNote, output: ModelOutput, discrepancies: list[Discrepancy]) -> list[Goal]:
    goals: dict[int | str, Goal] = {}
    candidates = set(_goal_line_handles(note))
    for handle in output.goals:
        number = note.line_of_handle(handle)
        if number is not None and handle not in candidates:  # the schema allows only goal-like lines
            discrepancies.append(Discrepancy(field="goal", parser="no goal wording on the line", model=handle, chosen=None, line=number))
            continue
        if number is None:  # kept, but unverified: it never counts as documented
            goals.setdefault(handle, Goal(text=handle, measurable=output.measurable, evidence=Evidence(text=handle, supports="goal")))
            continue
        evidence = note.line_evidence(number, "goal")
        text = _GOAL_PREFIX_RE.sub("", evidence.text).strip() or evidence.text
        measurable = parsing.goal_is_measurable(text)  # a target is a number or an assist level: parsed
        if measurable != output.measurable:
            discrepancies.append(Discrepancy(field="goal.measurable", parser=str(measurable), model=str(output.measurable), chosen=str(measurable), line=number))
        goals.setdefault(number, Goal(text=text, measurable=measurable, evidence=evidence))
    return list(goals.values())


def _blocks(note: NumberedNote, acts: list[ModelActivity], group_line: int | None, billing: list[BillingLine], discrepancies: list[Discrepancy]) -> list[TreatmentBlock]:
    """A block per treatment line the model pointed at; code and minutes read from the line itself."""
    billed_codes = [line.code for line in billing]
    billing_lines = {note.line_at(b.evidence.start) for b in billing if b.evidence and b.evidence.start is not None}
    blocks: list[TreatmentBlock] = []
    seen: set[int] = set()
    parent: int | None = None
    candidates = set(_treatment_line_handles(note))
    for act in acts:
        number = note.line_of_handle(act.line)
        if number is None or act.line not in candidates:  # the schema allows only plausible treatment lines
            discrepancies.append(Discrepancy(field="block.line", parser=None, model=act.line, chosen=None, line=number))
            continue
        line = note.lines[number - 1]
        if number in seen or _is_total_line(line) or (number in billing_lines and _line_minutes(note, number) is None):
            continue  # a charge line, unless it is also a treatment row with minutes
        seen.add(number)
        if parent is not None and _is_sub_item(note, number, parent):
            discrepancies.append(Discrepancy(field="block.sub_item", parser=f"part of line {parent}", model=act.line, chosen=None, line=number))
            continue
        parent = number
        blocks.extend(_line_blocks(note, number, act, billed_codes, discrepancies))
    if group_line is not None:  # the group line, or the treatment block it belongs to
        owner = [b for b in blocks if b.evidence and 0 <= group_line - note.line_at(b.evidence.start) <= 2]
        for block in blocks:
            if owner and block.evidence == owner[-1].evidence:
                block.group = True
    return blocks


def _is_sub_item(note: NumberedNote, number: int, parent: int) -> bool:
    """A line indented under an earlier treatment line, naming no code or service of its own
    (e.g. the bulleted activities of a "TherAct - 25 min" block): part of that block."""
    line = note.lines[number - 1]
    deeper = _indent(line) > _indent(note.lines[parent - 1])
    return number > parent and deeper and not parsing.find_codes(line) and not parsing.codes_named(line)


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _line_blocks(note: NumberedNote, number: int, act: ModelActivity, billed_codes: list[str], discrepancies: list[Discrepancy]) -> list[TreatmentBlock]:
    """The block(s) a treatment line documents: one per code when a row names several codes."""
    line = note.lines[number - 1]
    evidence = note.line_evidence(number, "activity")
    codes = parsing.find_codes(line)
    code_from_model = False
    if not codes:
        named = [c for c in parsing.codes_named(line) if c in billed_codes or not billed_codes]
        code_from_model = not named and bool(act.code and act.code in billed_codes)
        codes = named if len(named) > 1 else [act.code] if code_from_model else named[:1]
    elif act.code and act.code not in codes:
        discrepancies.append(Discrepancy(field="block.code", parser=codes[0], model=act.code, chosen=codes[0], line=number))
    not_billed = bool(_NOT_BILLED_RE.search(line))
    task, task_verified = (act.task, locate(line, act.task).verified) if act.task else (None, False)
    common = dict(description=evidence.text, kind=act.kind, billed_as_not_billed=not_billed, evidence=evidence, daily_task=task, daily_task_verified=task_verified)
    if len(codes) > 1:  # one line, several codes: minutes only where the row pairs them ("12 / 25")
        cells, header = parsing.table_cells(line), _table_header(note, number)
        paired = parsing.table_minutes_list(cells, header) if cells and header and header != cells else []
        minutes = paired if len(paired) == len(codes) else [None] * len(codes)
        ranges = parsing.clock_ranges(line)
        return [
            TreatmentBlock(
                code=code, minutes=m, minutes_source="parser" if m is not None else "none",
                start_time=ranges[0][0] if ranges else None, stop_time=ranges[0][1] if ranges else None,
                **{**common, "kind": act.kind if code == act.code else "other"},  # the model's kind is for its code
            )
            for code, m in zip(codes, minutes)
        ]
    minutes, source = _block_minutes(note, line, act, number, discrepancies)
    if code_from_model:  # a line naming no code or service (e.g. "rest 5 min" inside a block): kind only
        minutes, source = None, "none"
    ranges = parsing.clock_ranges(line)
    return [
        TreatmentBlock(
            code=codes[0] if codes else None, minutes=minutes, minutes_source=source,
            start_time=ranges[0][0] if ranges else None, stop_time=ranges[0][1] if ranges else None, **common,
        )
    ]


def _table_header(note: NumberedNote, number: int) -> list[str] | None:
    """The header row of the pipe table that line `number` belongs to: the row above the nearest
    separator row ("|---|"), else the topmost row of the contiguous table lines."""
    top = None
    for index in range(number, 0, -1):
        cells = parsing.table_cells(note.lines[index - 1])
        if cells is None:
            break
        if all(re.fullmatch(r":?-{2,}:?", c) or not c for c in cells):
            return parsing.table_cells(note.lines[index - 2]) if index > 1 else None
        top = cells
    return top


def _line_minutes(note: NumberedNote, number: int) -> int | None:
    """Minutes written on a line: a table's minutes column first, else an amount or clock range."""
    line = note.lines[number - 1]
    cells, header = parsing.table_cells(line), _table_header(note, number)
    minutes = parsing.table_minutes(cells, header) if cells and header and header != cells else None
    return minutes if minutes is not None else parsing.block_minutes(line)


_MINUTES_FIELD_RE = re.compile(r"^\s*(?:minutes?|mins?|time)\b\s*[:=.]*\s*(\d{1,3})\b", re.IGNORECASE)


def _field_minutes_below(note: NumberedNote, number: int) -> int | None:
    """A "Minutes : 25" field among the indented lines under a treatment heading."""
    depth = _indent(note.lines[number - 1])
    for below in note.lines[number : number + 12]:
        if _indent(below) <= depth or parsing.find_codes(below):
            break
        match = _MINUTES_FIELD_RE.match(below)
        if match:
            return int(match.group(1))
    return None


def _block_minutes(note: NumberedNote, line: str, act: ModelActivity, number: int, discrepancies: list[Discrepancy]) -> tuple[int | None, str]:
    """The line's minutes as parsed (a table's minutes column first), cross-checked with the model's."""
    parsed = _line_minutes(note, number)
    if parsed is None:
        parsed = _field_minutes_below(note, number)
    if parsed is not None:
        if act.min is not None and act.min != parsed:
            discrepancies.append(Discrepancy(field="block.minutes", parser=str(parsed), model=str(act.min), chosen=str(parsed), line=number))
        return parsed, "both" if act.min == parsed else "parser"
    if act.min is not None:  # minutes the program cannot read on the line are not documented
        discrepancies.append(Discrepancy(field="block.minutes", parser=None, model=str(act.min), chosen=None, line=number))
    return None, "none"


def _billing(note: NumberedNote, model_lines: list[str], discrepancies: list[Discrepancy]) -> list[BillingLine]:
    """Billing lines from the model's normalised strings, each checked against a note line."""
    candidates = _billing_line_candidates(note)
    for_all_lines = _all_lines_modifiers(note)
    billing: list[BillingLine] = []
    for entry in model_lines:
        for parsed in parsing.parse_billing(entry):
            billing.append(_ground_billing(note, parsed, candidates, for_all_lines, discrepancies))
    if not billing:  # the model found none: take the billing lines the parser can read
        for number in candidates:
            for parsed in parsing.parse_billing(note.lines[number - 1]):
                if parsed.units is not None or parsed.modifiers:
                    evidence = note.line_evidence(number, "billing")
                    billing.append(BillingLine(code=parsed.code, units=parsed.units, modifiers=parsed.modifiers, evidence=evidence, source="parser"))
    merged: dict[str, BillingLine] = {}
    for line in billing:  # one claim line per code per date (Pub. 100-04 Ch. 5 §20.2, line-item reporting)
        if line.code in merged:
            kept = merged[line.code]
            if kept.evidence == line.evidence:
                continue
            kept.units = (kept.units or 0) + (line.units or 0) if (kept.units or line.units) else None
            kept.modifiers += [m for m in line.modifiers if m not in kept.modifiers]
        else:
            merged[line.code] = line
    return list(merged.values())


def _billing_line_candidates(note: NumberedNote) -> list[int]:
    """Lines that carry a code with units or modifiers, billing-worded lines first. A line with
    minutes and no billing words is a treatment line ("x10" there is repetitions, not units)."""
    ranked: list[tuple[int, int]] = []
    for number, line in enumerate(note.lines, 1):
        if not parsing.find_codes(line):
            continue
        entries = parsing.parse_billing(line)
        if not any(e.units is not None or e.modifiers for e in entries):
            continue
        worded, has_minutes = bool(_BILLING_WORDS_RE.search(line)), parsing.block_minutes(line) is not None
        if has_minutes and not worded:
            continue
        ranked.append((0 if worded else 1, number))
    return [number for _, number in sorted(ranked)]


def _ground_billing(
    note: NumberedNote, parsed: parsing.ParsedBilling, candidates: list[int], for_all_lines: list[str], discrepancies: list[Discrepancy]
) -> BillingLine:
    for number in candidates:
        for on_line in parsing.parse_billing(note.lines[number - 1]):
            if on_line.code != parsed.code:
                continue
            evidence = note.line_evidence(number, "billing")
            units = parsed.units
            if on_line.units is not None and on_line.units != parsed.units:
                discrepancies.append(Discrepancy(field=f"billing.{parsed.code}.units", parser=str(on_line.units), model=str(parsed.units), chosen=str(on_line.units), line=number))
                units = on_line.units
            stated = on_line.modifiers + _continuation_modifiers(note, number) + for_all_lines
            modifiers = list(dict.fromkeys(stated + [m for m in parsed.modifiers if _modifier_in_note(note, m)]))
            return BillingLine(code=parsed.code, units=units, modifiers=modifiers, evidence=evidence, source="both")
    evidence = locate(note.text, parsed.code, "billing", fuzzy=False)
    modifiers = [m for m in parsed.modifiers if _modifier_in_note(note, m)]
    return BillingLine(code=parsed.code, units=parsed.units, modifiers=modifiers, evidence=evidence if evidence.verified else None, source="model")


_MODIFIER_LINE_RE = re.compile(r"\bmod(?:ifier)?s?\b", re.IGNORECASE)
_ALL_LINES_RE = re.compile(r"\b(?:all|each|every)\s+(?:billed\s+)?(?:lines?|codes?|services?)\b", re.IGNORECASE)


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


def _modifier_in_note(note: NumberedNote, modifier: str) -> bool:
    return re.search(rf"(?<![A-Za-z0-9]){re.escape(modifier)}(?![A-Za-z0-9])", note.text, re.IGNORECASE) is not None


def _blocks_model_missed(note: NumberedNote, blocks: list[TreatmentBlock], billing: list[BillingLine], discrepancies: list[Discrepancy]) -> list[TreatmentBlock]:
    """Lines with a code (or a named service that is billed) and explicit minutes that the model
    did not point at."""
    taken = {b.evidence.start for b in blocks if b.evidence}
    billed_codes = [line.code for line in billing]
    extra = []
    for number, line in enumerate(note.lines, 1):
        codes = parsing.find_codes(line) or [c for c in parsing.codes_named(line) if c in billed_codes]
        evidence = note.line_evidence(number, "activity")
        if not codes or evidence is None or evidence.start in taken or _is_total_line(line):
            continue
        minutes = _line_minutes(note, number)
        if minutes is None:
            continue  # (a charge line restating minutes, "97530 x3 (45 min)", is kept: the rules count it
            # only for a code that no treatment line gives minutes for)
        discrepancies.append(Discrepancy(field="block.missed_by_model", parser=f"{'/'.join(codes)} {minutes} min", model=None, chosen=f"{'/'.join(codes)} {minutes} min", line=number))
        placeholder = ModelActivity(line=f"line {number}", code=codes[0] if len(codes) == 1 else None, min=None, kind="other", task=None)
        extra.extend(_line_blocks(note, number, placeholder, billed_codes, discrepancies))
    return extra


def _stated_total(note, model_value, find, field, discrepancies) -> Grounded[int] | None:
    """A stated total: the parser's reading of a labelled line, cross-checked with the model's."""
    for number, line in enumerate(note.lines, 1):
        value = find(line)
        if value is None:
            continue
        evidence = note.line_evidence(number, "minutes")
        if model_value is not None and model_value != value:
            discrepancies.append(Discrepancy(field=field, parser=str(value), model=str(model_value), chosen=str(value), line=number))
        return Grounded[int](value=value, evidence=evidence, source="both" if model_value == value else "parser")
    if model_value is None:
        return None
    pattern = re.compile(rf"(?<!\d){model_value}(?!\d)")
    label = _TOTAL_LABELS[field]
    for number, line in enumerate(note.lines, 1):
        if pattern.search(line) and label.search(line):
            return Grounded[int](value=model_value, evidence=note.line_evidence(number, "minutes"), source="model")
    discrepancies.append(Discrepancy(field=field, parser=None, model=str(model_value), chosen=None))
    return None


def _time_in_out(note: NumberedNote) -> tuple[Grounded[str] | None, Grounded[str] | None]:
    found_in, found_out = parsing.find_time_in_out(note.text)
    if found_in and found_out and parsing.minutes_between(found_in[0], found_out[0]) is None:
        return None, None  # two clock times that are not a session (e.g. "in 4 wks ... out 9:00")
    return tuple(  # type: ignore[return-value]
        Grounded[str](value=found[0], evidence=_span(note, found[1], found[2], "minutes")) if found else None
        for found in (found_in, found_out)
    )


def _signature(note: NumberedNote) -> Clinician | None:
    """The signing clinician: the last line that reads like a signature and names a credential."""
    for number in range(len(note.lines), 0, -1):
        line = note.lines[number - 1]
        closing = _in_closing_lines(note, number)
        credentials = parsing.find_credentials(line, any_case=closing and "," in line)
        if any(c in parsing.LICENSED_CREDENTIALS for c in credentials) and (_SIGNATURE_HINT_RE.search(line) or closing):
            return Clinician(name=_signer_name(line), credentials=credentials, evidence=note.line_evidence(number, "signature"))
    for number in range(len(note.lines), 0, -1):  # signed, but no credential
        if re.search(r"(?i)\bsigned\b|\bsignature\b", note.lines[number - 1]):
            return Clinician(name=_signer_name(note.lines[number - 1]), credentials=[], evidence=note.line_evidence(number, "signature"))
    return None


def _in_closing_lines(note: NumberedNote, number: int) -> bool:
    """One of the last three lines, where a signature block sits."""
    return number > len(note.lines) - 3


def _signer_name(line: str) -> str | None:
    cleaned = re.sub(r"(?i)^.*?(?:electronically\s+signed|e-signed|signed(?:\s+by)?|signature|/s/)\s*[:,]?\s*", "", line.strip())
    name = re.split(r",|\s{2,}|\d", cleaned, maxsplit=1)[0].strip(" ,.-")
    return name or None


def _assistant(note: NumberedNote, handle: str | None, discrepancies: list[Discrepancy]) -> Evidence | None:
    """Evidence that a PTA/OTA furnished treatment: the model's line if it names an assistant,
    else a provider line that names one."""
    def names_assistant(number: int) -> bool:
        line = note.lines[number - 1]
        signature_like = _in_closing_lines(note, number) and "," in line
        credentials = set(parsing.find_credentials(line, any_case=signature_like))
        return bool(credentials & set(parsing.ASSISTANT_CREDENTIALS) or _ASSISTANT_WORD_RE.search(line))

    number = note.line_of_handle(handle)
    if number is not None and names_assistant(number):
        return note.line_evidence(number, "assistant")
    if handle:
        discrepancies.append(Discrepancy(field="assistant", parser=None, model=handle, chosen=None, line=number))
    found = [
        n for n in range(1, len(note.lines) + 1)
        if names_assistant(n) and (_PROVIDER_HINT_RE.search(note.lines[n - 1]) or _in_closing_lines(note, n))
    ]
    if found:
        if not handle:
            discrepancies.append(Discrepancy(field="assistant", parser=f"line {found[0]}", model=None, chosen=f"line {found[0]}", line=found[0]))
        return note.line_evidence(found[0], "assistant")
    return None


def _discipline(model_value: str, billing: list[BillingLine], signature: Clinician | None):
    if model_value in ("PT", "OT", "SLP"):
        return model_value
    modifiers = {m for line in billing for m in line.modifiers}
    for modifier, discipline in (("GP", "PT"), ("GO", "OT"), ("GN", "SLP")):
        if modifier in modifiers:
            return discipline
    credentials = set(signature.credentials) if signature else set()
    if credentials & {"PT", "DPT", "PTA", "MPT", "MSPT"}:
        return "PT"
    if credentials & {"OT", "OTR", "OTR/L", "COTA", "OTA"}:
        return "OT"
    if credentials & {"SLP", "CCC-SLP"}:
        return "SLP"
    return None


def raw_to_extraction(text: str, raw_output: str) -> Extraction:
    """Rebuild the extraction from a cached raw model output (for re-scoring without the model)."""
    return build_extraction(NumberedNote.from_text(text), parse_model_output(raw_output))

