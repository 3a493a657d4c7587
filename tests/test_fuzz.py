"""Fuzzing the readers of untrusted input with hypothesis: note decoding (text, PDF, DOCX), the
number and clock parsers, the treatment-block reader, the whole review on a fuzzed note, and the
importers (labels.jsonl and blocks.jsonl of a corpus, REVIEWER_USERS, sign-in hashes).

Each reader either answers or raises its own documented error (InputError, EvalError, UserError);
any other exception is a traceback a user would see. Every example runs under a deadline, so a
pathological input (catastrophic regex backtracking, a PDF that loops) fails instead of hanging.
Runs are derandomized: CI sees the same inputs every time (REVIEWER_FUZZ_EXAMPLES searches afresh).
"""

from __future__ import annotations

import io
import json
import os
import random
import re
import tempfile
from datetime import timedelta
from pathlib import Path

import pytest
from fakes import first_choice
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from reviewer import blocks, clock, parsing
from reviewer.backends.base import Completion
from reviewer.grounding import NumberedNote
from reviewer.inputs import MIN_NOTE_CHARS, InputError, read_note_bytes
from reviewer.review import review_text
from reviewer.settings import Settings
from reviewer.triage.users import ROLES, USERNAME_RE, UserError, parse_users, password_matches

# REVIEWER_FUZZ_EXAMPLES=5000 searches longer, with fresh random inputs (CI runs the fixed 120).
EXAMPLES = int(os.environ.get("REVIEWER_FUZZ_EXAMPLES", "120"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=timedelta(seconds=3),
    derandomize="REVIEWER_FUZZ_EXAMPLES" not in os.environ,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# What notes are made of, so the fuzzer reaches the parsers' interesting paths and not only their
# "no match" branch: codes, modifiers, units, minutes, clocks, dates, totals, tables, dictation.
FRAGMENTS = [
    "97530", "97110", "97140", "97112", "G0283", "97010", "-GP", " GP", "59", "KX", "x2", "x 3", "(2u)", "units",
    "2 units", "unit", "10:00", "9:02a", "1304-1316", "9:02-9:27", " to ", "–", "-", "pm", "am", "13h05",
    "min", "'", "mins", "minutes", "23", "8", "0", "120", "999", "Total", "Timed", "total timed", "Tx time",
    "Time in", "Time out", ":", "|", "||", "...", "....... 2", "DOS", "04/03/2025", "4/3/25", "2025-04-03",
    "Date of service", "PT", "DPT", "PTA", "OT", "COTA", "R. Patel", "signed", "/s/", "TherAct", "TherEx",
    "Ther act", "NMR", "gait", "sit to stand", "twenty", "three", "oh", "five", "Visit 3 of 12",
    "visit #4", "POC start", "STG:", "LTG:", "pt will", "independently", "in 4 wks", "CGA", "SBA", "VC",
    "Charges:", "CPT  Mod  Units", "group", "concurrent", "hot pack", "e-stim", "Medicare", "co-treat",
    "corrected", "late entry", "\n", "\n\n", "  ", "\t", "\r\n", "#", "*", "**", "1.", "a)",
]  # fmt: skip
fragment_text = st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=4)), max_size=80).map(
    lambda parts: " ".join(parts)
)
any_text = st.one_of(st.text(max_size=300), fragment_text, st.text(alphabet=" 0123456789:.-–/x'|\n", max_size=400))


# -- the number and clock parsers (reviewer/parsing.py, reviewer/clock.py) -------------------------

TEXT_PARSERS = {
    "parse_clock": clock.parse_clock,
    "find_ranges": clock.find_ranges,
    "normalize_spoken": parsing.normalize_spoken,
    "find_codes": parsing.find_codes,
    "codes_named": parsing.codes_named,
    "service_name_positions": parsing.service_name_positions,
    "block_minutes_explicit": parsing.block_minutes_explicit,
    "block_minutes": parsing.block_minutes,
    "strip_codes": parsing.strip_codes,
    "find_modifiers": parsing.find_modifiers,
    "parse_billing": parsing.parse_billing,
    "leader_units": parsing.leader_units,
    "parse_units": parsing.parse_units,
    "find_date_of_service": parsing.find_date_of_service,
    "assistant_minutes": parsing.assistant_minutes,
    "find_credentials": parsing.find_credentials,
    "find_outcome_measures": parsing.find_outcome_measures,
    "find_total_timed": parsing.find_total_timed,
    "find_total_treatment": parsing.find_total_treatment,
    "find_time_in_out": parsing.find_time_in_out,
    "goal_is_measurable": parsing.goal_is_measurable,
    "plan_of_care_start": parsing.plan_of_care_start,
    "visit_of": parsing.visit_of,
    "planned_visits": parsing.planned_visits,
    "read_date": parsing.read_date,
    "dates_in": parsing.dates_in,
    "labelled_date_of_service": parsing.labelled_date_of_service,
}


@pytest.mark.timeout(120)
@pytest.mark.parametrize("name", sorted(TEXT_PARSERS))
def test_text_parsers_answer_any_text(name):
    parse = TEXT_PARSERS[name]

    @FUZZ
    @given(any_text)
    def check(text):
        parse(text)

    check()


@pytest.mark.timeout(60)
@FUZZ
@given(any_text, any_text)
def test_clock_intervals_are_plausible_sessions(start, stop):
    minutes = clock.minutes_between(start, stop)
    assert minutes is None or 0 < minutes <= clock.MAX_RANGE_MINUTES
    span = clock.interval(start, stop)
    assert span is None or span[0] <= span[1]


@pytest.mark.timeout(60)
@FUZZ
@given(any_text)
@example("9:02-9:27 then 1304-1316 and 3:00-3:45 pm")
def test_clock_ranges_point_into_the_text(text):
    for found in clock.find_ranges(text):
        assert 0 <= found.begin < found.end <= len(text)
        assert 0 < found.minutes <= clock.MAX_RANGE_MINUTES


@pytest.mark.timeout(60)
@FUZZ
@given(any_text)
def test_table_rows_read_as_cells_units_and_minutes(line):
    cells = parsing.table_cells(line)
    if cells is None:
        return
    header = parsing.table_cells("| CPT | Mod | Units | Minutes |") or []
    for row in (cells, header):
        parsing.table_units(cells, row)
        parsing.table_minutes(cells, row)
        parsing.table_minutes_list(cells, row)
        parsing.minutes_column(row)


# -- the treatment-block reader (reviewer/blocks.py) and the whole review ---------------------------

note_text = st.lists(fragment_text, min_size=1, max_size=12).map("\n".join)


@pytest.mark.timeout(120)
@FUZZ
@given(note_text)
def test_the_block_reader_answers_any_note(text):
    note = NumberedNote.from_text(text)
    found = blocks.segment(note)
    blocks.log_stamps(note)
    blocks.correction_start(note)
    for block in found:
        assert 1 <= block.first <= block.last <= len(note.lines)
        blocks.summary_minutes(note, block)
        blocks.numbers_in(note, block)


class FirstChoiceModel:
    name, model_id = "fake", "first-choice"

    def complete(self, messages, schema):
        return Completion(text=first_choice(schema))


class RandomModel:
    """Any valid choice: the program must cope with every answer the schema allows."""

    name, model_id = "fake", "random-choice"

    def __init__(self, seed: int):
        self.rng = random.Random(seed)

    def complete(self, messages, schema):
        choices = schema["properties"]["answer"]["enum"]
        return Completion(text=json.dumps({"answer": self.rng.choice(choices)}), confidence=self.rng.random())


@pytest.mark.timeout(180)
@settings(FUZZ, max_examples=max(1, EXAMPLES // 2))
@given(note_text, st.integers(0, 2**16))
def test_a_review_of_any_note_is_a_report_never_a_crash(text, seed):
    review_settings = Settings(_env_file=None, backend="replay")
    for backend in (FirstChoiceModel(), RandomModel(seed)):
        report = review_text(text, note_id="fuzz", backend=backend, settings=review_settings)
        assert report.status in ("ok", "failed")
        if report.status == "ok":
            assert report.score is not None and report.extraction is not None
            for finding in report.findings:
                for evidence in finding.evidence:  # every span the program grounds is really in the note
                    if evidence.verified and evidence.start is not None and evidence.end is not None:
                        assert text[evidence.start : evidence.end] == evidence.text


# -- note decoding (reviewer/inputs.py) ------------------------------------------------------------


def decoded_or_refused(data: bytes, name: str) -> None:
    try:
        text = read_note_bytes(data, name)
    except InputError as exc:
        assert str(exc) and "\n" not in str(exc)  # one line a user can act on
        return
    assert isinstance(text, str) and len(text.strip()) >= MIN_NOTE_CHARS and "\r" not in text


@pytest.mark.timeout(120)
@FUZZ
@given(st.binary(max_size=3000), st.sampled_from(["n.txt", "n.md", "n.pdf", "n.docx", "n", "n.TXT", "n.rtf"]))
def test_any_bytes_decode_or_are_refused_with_one_line(data, name):
    decoded_or_refused(data, name)


@pytest.mark.timeout(60)
@FUZZ
@given(st.text(max_size=500), st.sampled_from(["utf-8", "utf-16", "utf-8-sig", "cp1252", "latin-1"]))
def test_any_text_in_any_encoding_decodes_or_is_refused(text, encoding):
    decoded_or_refused(text.encode(encoding, errors="replace"), "note.txt")


def _pdf() -> bytes:
    from reportlab.pdfgen.canvas import Canvas

    buffer = io.BytesIO()
    canvas = Canvas(buffer)
    canvas.drawString(72, 720, "TherAct 97530 x 25 min: car transfers with CGA, cues for sequencing")
    canvas.drawString(72, 700, "97530-GP x2   R. Patel, PT, DPT")
    canvas.save()
    return buffer.getvalue()


def _docx() -> bytes:
    import docx

    document = docx.Document()
    document.add_paragraph("TherAct 97530 x 25 min: car transfers with CGA, cues for sequencing")
    table = document.add_table(rows=1, cols=2)
    table.rows[0].cells[0].text, table.rows[0].cells[1].text = "97530-GP", "x2"
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


@st.composite
def mutated(draw, original: bytes) -> bytes:
    """`original` with a few bytes changed, removed or inserted, or cut short."""
    data = bytearray(original)
    for _ in range(draw(st.integers(1, 8))):
        position = draw(st.integers(0, len(data) - 1))
        kind = draw(st.sampled_from(["flip", "delete", "insert", "truncate"]))
        if kind == "flip":
            data[position] = draw(st.integers(0, 255))
        elif kind == "delete":
            del data[position : position + draw(st.integers(1, 64))]
        elif kind == "insert":
            data[position:position] = draw(st.binary(min_size=1, max_size=32))
        else:
            del data[max(position, 1) :]
        if not data:
            data = bytearray(b"x")
    return bytes(data)


@pytest.mark.timeout(180)
@FUZZ
@given(mutated(_pdf()))
def test_a_damaged_pdf_is_read_or_refused_with_one_line(data):
    decoded_or_refused(data, "note.pdf")


@pytest.mark.timeout(180)
@FUZZ
@given(mutated(_docx()))
def test_a_damaged_docx_is_read_or_refused_with_one_line(data):
    decoded_or_refused(data, "note.docx")


def _zip_with(members: dict[str, bytes]) -> bytes:
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return buffer.getvalue()


@pytest.mark.timeout(120)
@FUZZ
@given(st.binary(max_size=400), st.booleans())
def test_a_docx_whose_xml_is_damaged_is_refused_with_one_line(xml, keep_parts):
    """A real .docx with its document.xml replaced: damage the zip checks cannot see."""
    import zipfile

    with zipfile.ZipFile(io.BytesIO(_docx())) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    members["word/document.xml"] = xml
    if not keep_parts:
        members.pop("[Content_Types].xml")
    decoded_or_refused(_zip_with(members), "note.docx")


# -- importers: corpus labels and blocks (JSON lines), REVIEWER_USERS, password hashes -------------

json_value = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=10),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)


@st.composite
def label_line(draw) -> str:
    """A labels.jsonl line: mostly almost right (an id, a gold object), sometimes anything at all."""
    if draw(st.booleans()):
        return draw(st.one_of(st.text(max_size=60), json_value.map(json.dumps)))
    label = {"id": draw(st.one_of(st.sampled_from(["n1", "n2"]), json_value))}
    label |= draw(st.dictionaries(st.sampled_from(["gold", "payer", "state"]), json_value, max_size=3))
    return json.dumps(label)


@st.composite
def block_line(draw) -> str:
    if draw(st.booleans()):
        return draw(st.one_of(st.text(max_size=60), json_value.map(json.dumps)))
    block = draw(st.dictionaries(st.sampled_from(["lines", "code", "minutes", "kind"]), json_value, max_size=4))
    if draw(st.booleans()):
        block["lines"] = draw(st.lists(st.integers(-3, 30), max_size=3))
    return json.dumps(
        {"id": draw(st.sampled_from(["n1", "n2"])), "blocks": draw(st.one_of(st.just([block]), json_value))}
    )


@pytest.mark.timeout(120)
@FUZZ
@given(st.lists(label_line(), max_size=5), st.lists(block_line(), max_size=5))
def test_a_corpus_loads_or_names_its_bad_line(labels, block_lines):
    from evals.harness import EvalError, load_corpus

    with tempfile.TemporaryDirectory() as folder:
        corpus = Path(folder)
        (corpus / "labels.jsonl").write_text("\n".join(labels), encoding="utf-8")
        (corpus / "blocks.jsonl").write_text("\n".join(block_lines), encoding="utf-8")
        try:
            loaded = load_corpus(corpus)
        except EvalError as exc:
            assert re.search(r"(labels|blocks)\.jsonl", str(exc))
            return
    assert loaded and all(isinstance(entry.gold, dict) for entry in loaded)


@pytest.mark.timeout(60)
@FUZZ
@given(st.one_of(st.text(max_size=120), st.lists(st.text(max_size=20), max_size=5).map(",".join)))
@example("alice:$2b$04$abcdefghijklmnopqrstuv,bob:")
def test_reviewer_users_parse_or_are_refused(spec):
    try:
        users = parse_users(spec)
    except UserError:
        return
    assert all(
        USERNAME_RE.match(name) and account.password_hash and account.role in ROLES for name, account in users.items()
    )


@pytest.mark.timeout(60)
@FUZZ
@given(st.text(max_size=80), st.one_of(st.text(max_size=80), st.just("$2b$04$" + "a" * 53)))
def test_a_malformed_password_hash_signs_nobody_in(password, password_hash):
    assert password_matches(password, password_hash) is False
