"""Readers for the CMS edit files users download: NCCI PTP practitioner edits and practitioner MUEs.

Layouts (as CMS publishes them; see README "CMS edit tables" for what was verified):

- PTP practitioner edits, `ccipra-v###r#-f1` … `-f4`, tab-delimited text (latin-1) or a spreadsheet:
  a few notice/header lines, then one edit per line: Column 1 code, Column 2 code, "*" when the edit
  existed before 1996, effective date (YYYYMMDD), deletion date (YYYYMMDD, "*" = none), modifier
  indicator (0 not allowed, 1 allowed, 9 not applicable), PTP edit rationale.
- Practitioner services MUEs, `MCR_MUE_PractitionerServices_Eff_MM-DD-YYYY` (.csv, tab-delimited .txt or a
  spreadsheet): header lines, then HCPCS/CPT code, MUE value, MUE adjudication indicator ("1 Line
  Edit", "2 Date of Service Edit: Policy", "3 Date of Service Edit: Clinical"), MUE rationale.

A line that does not fit is refused with its file and line number; nothing is returned for a
file that has one, so a caller never stores half a file. Never logs file contents.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from reviewer.edit_tables import MueValue, PtpPair

CODE = re.compile(r"^[0-9A-Z][0-9]{3}[0-9A-Z]$")  # CPT (97530), HCPCS (G0283), Category II/III (0001F, 0593T)
YYYYMMDD = re.compile(r"^\d{8}$")
MAX_HEADER_LINES = 30  # notice lines before the data; a file with more is not a CMS edit file
SPREADSHEET_SUFFIXES = (".xlsx", ".xlsm")


class EditFileError(Exception):
    """A CMS edit file that cannot be read: the message names the file and, where known, the line."""

    def __init__(self, path: Path | str, message: str, line: int | None = None):
        self.path, self.line = Path(path), line
        where = f"{Path(path).name}, line {line}" if line is not None else Path(path).name
        super().__init__(f"{where}: {message}")


@dataclass(frozen=True)
class ParsedFile:
    """One file's rows, and how many data lines it had (`rows_read`) before keeping only some."""

    path: Path
    sha256: str
    rows_read: int
    ptp: tuple[PtpPair, ...] = ()
    mue: tuple[MueValue, ...] = ()

    @property
    def rows_kept(self) -> int:
        return len(self.ptp) + len(self.mue)


Keep = Callable[[str], bool]


def read_ptp_file(path: Path, keep: Keep | None = None) -> ParsedFile:
    """The PTP edits of one `ccipra` file; with `keep`, only pairs where either code passes it."""
    path = Path(path)
    pairs: dict[tuple[str, str, date], tuple[int, PtpPair]] = {}
    read = 0
    for line, fields in _data_rows(path, _is_ptp_row, code_columns=(0, 1)):
        pair = _ptp_pair(path, line, fields)
        read += 1
        if keep is not None and not (keep(pair.column1) or keep(pair.column2)):
            continue
        key = (pair.column1, pair.column2, pair.effective)
        if key in pairs and pairs[key][1] != pair:
            raise EditFileError(
                path,
                f"{pair.column1}/{pair.column2} effective {pair.effective} differs from line {pairs[key][0]}",
                line,
            )
        pairs.setdefault(key, (line, pair))
    if not read:
        raise EditFileError(path, "no PTP edit lines found (expected the CMS practitioner PTP layout)")
    return ParsedFile(path, _sha256(path), read, ptp=tuple(p for _, p in pairs.values()))


def read_mue_file(path: Path, keep: Keep | None = None) -> ParsedFile:
    """The MUE values of one practitioner services MUE file; with `keep`, only codes passing it."""
    path = Path(path)
    values: dict[str, tuple[int, MueValue]] = {}
    read = 0
    for line, fields in _data_rows(path, _is_mue_row, code_columns=(0,)):
        value = _mue_value(path, line, fields)
        read += 1
        if keep is not None and not keep(value.code):
            continue
        if value.code in values and values[value.code][1] != value:
            raise EditFileError(path, f"{value.code} differs from line {values[value.code][0]}", line)
        values.setdefault(value.code, (line, value))
    if not read:
        raise EditFileError(path, "no MUE lines found (expected the CMS practitioner services MUE layout)")
    return ParsedFile(path, _sha256(path), read, mue=tuple(v for _, v in values.values()))


def ptp_version_from_name(name: str) -> str | None:
    """`ccipra-v321r0-f1.txt` -> "v321r0"."""
    found = re.search(r"v(\d{3})r(\d+)", name, re.IGNORECASE)
    return f"v{found[1]}r{found[2]}" if found else None


def ptp_part_from_name(name: str) -> str:
    """`ccipra-v321r0-f2.txt` -> "f2"; a file without a part suffix is its own part (its name)."""
    found = re.search(r"-(f\d+)(?:\.|$)", name, re.IGNORECASE)
    return found[1].lower() if found else Path(name).name


def ptp_quarter(version: str) -> tuple[date, date] | None:
    """The quarter an NCCI version applies to, from its number: v3YQ -> year 1994+3Y, quarter Q+1
    (v310 = 2025 Q1, v313 = 2025 Q4, v322 = 2026 Q3). None when the number does not fit."""
    found = re.fullmatch(r"v(\d{2})(\d)r\d+", version, re.IGNORECASE)
    if not found or int(found[2]) > 3:
        return None
    return quarter_span(1994 + int(found[1]), int(found[2]) + 1)


def mue_effective_from_name(name: str) -> date | None:
    """`MCR_MUE_PractitionerServices_Eff_10-01-2026.csv` -> 2026-10-01."""
    found = re.search(r"Eff_?(\d{2})-(\d{2})-(\d{4})", name, re.IGNORECASE)
    if not found:
        return None
    try:
        return date(int(found[3]), int(found[1]), int(found[2]))
    except ValueError:
        return None


def quarter_span(year: int, quarter: int) -> tuple[date, date]:
    start = date(year, 3 * quarter - 2, 1)
    end = date(year + 1, 1, 1) if quarter == 4 else date(year, 3 * quarter + 1, 1)
    return start, date.fromordinal(end.toordinal() - 1)


def quarter_of(day: date) -> tuple[int, int] | None:
    """(year, quarter) when `day` is the first day of a calendar quarter, else None."""
    return (day.year, (day.month - 1) // 3 + 1) if day.day == 1 and day.month in (1, 4, 7, 10) else None


# --- rows ----------------------------------------------------------------------------------------


def _data_rows(
    path: Path, is_data: Callable[[list[str]], bool], code_columns: tuple[int, ...]
) -> Iterator[tuple[int, list[str]]]:
    """(line number, fields) of every data line: the lines after the notice/header lines. Once the
    data starts, every non-blank line is data (a bad one is refused there, not skipped)."""
    started = False
    for line, fields in _rows(path, code_columns):
        if not any(fields):
            continue
        if not started:
            if not is_data(fields):
                if line > MAX_HEADER_LINES:
                    raise EditFileError(path, f"no data in the first {MAX_HEADER_LINES} lines", line)
                continue
            started = True
        yield line, fields


def _rows(path: Path, code_columns: tuple[int, ...]) -> Iterator[tuple[int, list[str]]]:
    if not path.is_file():
        raise EditFileError(path, "no such file")
    if path.suffix.lower() in SPREADSHEET_SUFFIXES:
        yield from _spreadsheet_rows(path, code_columns)
        return
    text = path.read_bytes().decode("latin-1")  # CMS text files are latin-1; ASCII codes either way
    tabbed = "\t" in text[:20_000]
    reader = (
        csv.reader(io.StringIO(text), delimiter="\t", quoting=csv.QUOTE_NONE)
        if tabbed
        else csv.reader(io.StringIO(text))
    )
    for number, fields in enumerate(reader, start=1):
        yield number, [field.strip() for field in fields]


def _spreadsheet_rows(path: Path, code_columns: tuple[int, ...]) -> Iterator[tuple[int, list[str]]]:
    """Rows of the first sheet as text; a code stored as a number gets back its leading zeros (100 -> 00100)."""
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises several unrelated types for a file that is not a workbook
        raise EditFileError(path, f"not a readable spreadsheet ({type(exc).__name__})") from exc
    try:
        sheet = workbook.worksheets[0]
        for number, row in enumerate(sheet.iter_rows(values_only=True), start=1):
            fields = [_cell_text(value) for value in row]
            for index in code_columns:
                if index < len(row) and isinstance(row[index], (int, float)) and fields[index].isdigit():
                    fields[index] = fields[index].zfill(5)
            yield number, fields
    finally:
        workbook.close()


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y%m%d")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def _code(fields: list[str], index: int) -> str:
    return fields[index].upper() if index < len(fields) else ""


def _is_ptp_row(fields: list[str]) -> bool:
    return bool(CODE.match(_code(fields, 0))) or (len(fields) > 3 and bool(YYYYMMDD.match(fields[3])))


def _is_mue_row(fields: list[str]) -> bool:
    return bool(CODE.match(_code(fields, 0)))


def _ptp_pair(path: Path, line: int, fields: list[str]) -> PtpPair:
    if len(fields) < 6:
        raise EditFileError(
            path,
            f"expected 7 columns (column 1, column 2, prior-1996 mark, effective date, deletion date, modifier indicator, rationale), found {len(fields)}",
            line,
        )
    column1, column2 = _code(fields, 0), _code(fields, 1)
    for name, code in (("column 1", column1), ("column 2", column2)):
        if not CODE.match(code):
            raise EditFileError(path, f"{name} code {code!r} is not a CPT/HCPCS code", line)
    if fields[2] not in ("", "*"):
        raise EditFileError(path, f"prior-1996 mark {fields[2]!r} is not '*' or empty", line)
    effective = _date(path, line, fields[3], "effective date")
    deleted = None if fields[4] in ("", "*") else _date(path, line, fields[4], "deletion date")
    if fields[5] not in ("0", "1", "9"):
        raise EditFileError(path, f"modifier indicator {fields[5]!r} is not 0, 1 or 9", line)
    return PtpPair(
        column1=column1,
        column2=column2,
        modifier_indicator=int(fields[5]),
        effective=effective,
        deleted=deleted,
        prior_1996=fields[2] == "*",
        rationale=fields[6] if len(fields) > 6 else "",
    )


def _mue_value(path: Path, line: int, fields: list[str]) -> MueValue:
    if len(fields) < 3:
        raise EditFileError(
            path, f"expected 4 columns (code, MUE value, adjudication indicator, rationale), found {len(fields)}", line
        )
    if not fields[1].isdigit():
        raise EditFileError(path, f"MUE value {fields[1]!r} is not a whole number", line)
    indicator = re.match(r"^([123])\b", fields[2])
    if not indicator:
        raise EditFileError(path, f"MUE adjudication indicator {fields[2]!r} is not 1, 2 or 3", line)
    return MueValue(
        code=_code(fields, 0),
        value=int(fields[1]),
        indicator=int(indicator[1]),
        indicator_text=fields[2],
        rationale=fields[3] if len(fields) > 3 else "",
    )


def _date(path: Path, line: int, text: str, name: str) -> date:
    try:
        if YYYYMMDD.match(text):
            return date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        pass
    raise EditFileError(path, f"{name} {text!r} is not a YYYYMMDD date", line)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
