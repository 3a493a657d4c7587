"""The fee-schedule file a user supplies for the KX threshold check: allowed amounts per code and year.

Format: a CSV file with a header row naming at least the columns `code`, `amount` and `year`
(in any order; other columns are ignored), one row per code and calendar year:

    code,amount,year
    97110,29.11,2025
    97530,33.24,2025

`amount` is the allowed amount in US dollars for one unit of the code (the locality's Medicare
Physician Fee Schedule amount the user bills under; the reviewer ships none, since the amounts
differ by locality and year). A code with two rows for one year is an error, so a file cannot
silently disagree with itself.
"""

from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass, field
from pathlib import Path

REQUIRED_COLUMNS = ("code", "amount", "year")


class FeeScheduleError(ValueError):
    """The fee-schedule file cannot be read; the message names the file and row."""


@dataclass(frozen=True)
class FeeSchedule:
    amounts: dict[tuple[str, int], float] = field(default_factory=dict)
    name: str = ""  # the file's name, for messages
    fingerprint: str = ""  # sha256 of the file's bytes

    def amount(self, code: str, year: int) -> float | None:
        """The allowed amount of one unit of `code` in `year`; None when the file has none."""
        return self.amounts.get((code.strip().upper(), year))

    @property
    def years(self) -> list[int]:
        return sorted({year for _, year in self.amounts})


def load_fee_schedule(path: Path) -> FeeSchedule:
    """Read a fee-schedule CSV (format in the module docstring). Raises FeeScheduleError."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise FeeScheduleError(f"{path.name}: cannot read ({exc.strerror or type(exc).__name__})") from exc
    rows = csv.DictReader(raw.decode("utf-8-sig").splitlines())
    columns = {(name or "").strip().lower(): name for name in rows.fieldnames or []}
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing:
        raise FeeScheduleError(f"{path.name}: missing column(s) {', '.join(missing)} (need code, amount, year)")
    amounts: dict[tuple[str, int], float] = {}
    for line, row in enumerate(rows, start=2):
        code = (row[columns["code"]] or "").strip().upper()
        if not code:
            continue
        try:
            amount = float((row[columns["amount"]] or "").strip().lstrip("$").replace(",", ""))
            year = int((row[columns["year"]] or "").strip())
        except ValueError as exc:
            raise FeeScheduleError(f"{path.name} line {line}: amount must be a number and year a year") from exc
        if amount < 0 or not 1990 <= year <= 2100:
            raise FeeScheduleError(f"{path.name} line {line}: amount below zero or year out of range")
        if (code, year) in amounts:
            raise FeeScheduleError(f"{path.name} line {line}: {code} {year} is listed twice")
        amounts[(code, year)] = amount
    return FeeSchedule(amounts=amounts, name=path.name, fingerprint=hashlib.sha256(raw).hexdigest())
