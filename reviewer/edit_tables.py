"""CMS edit tables as plain data: NCCI PTP pairs and MUE values of one table version.

The rules read an `EditTables` value from their context; it is built outside the rules (from the
imported tables in the database, `reviewer.edit_table_store`, or directly in tests), so the rules
never touch the database. A review gets the version in force on its date of service, restricted to
the codes the note bills.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Literal, Protocol

from reviewer.report import EditTableUse

TableKind = Literal["ncci_ptp", "mue"]
TABLE_LABELS: dict[str, str] = {"ncci_ptp": "NCCI PTP practitioner", "mue": "MUE practitioner"}

# MUE adjudication indicators (MAI) as the CMS file spells them.
MAI_LABELS: dict[int, str] = {1: "Line Edit", 2: "Date of Service Edit: Policy", 3: "Date of Service Edit: Clinical"}


@dataclass(frozen=True)
class TableVersion:
    """One imported table version: what was loaded and for which dates of service."""

    kind: TableKind
    version: str
    effective_from: date
    effective_to: date | None = None  # last date of service of the version's quarter (None: open)
    rows_read: int = 0
    rows_kept: int = 0
    kept: str = "all"  # "all" or "therapy" (rows where a code of data/codes.yaml appears)
    files: tuple[str, ...] = ()

    def covers(self, day: date) -> bool:
        return self.effective_from <= day and (self.effective_to is None or day <= self.effective_to)

    @property
    def label(self) -> str:
        return f"{TABLE_LABELS[self.kind]} {self.version}"


@dataclass(frozen=True)
class PtpPair:
    """One NCCI procedure-to-procedure edit: column 2 is denied with column 1 unless a modifier is
    allowed (indicator 1) and used; 0 = no modifier can unbundle; 9 = not applicable."""

    column1: str
    column2: str
    modifier_indicator: int
    effective: date
    deleted: date | None = None  # the last date of service the edit applies to (None: not deleted)
    prior_1996: bool = False
    rationale: str = ""

    def active_on(self, day: date) -> bool:
        return self.effective <= day and (self.deleted is None or day <= self.deleted)


@dataclass(frozen=True)
class MueValue:
    """The most units of one code one practitioner reports for one patient on one date (normally)."""

    code: str
    value: int
    indicator: int  # MAI: 1 line edit, 2 date-of-service policy, 3 date-of-service clinical
    indicator_text: str = ""
    rationale: str = ""

    @property
    def indicator_label(self) -> str:
        return self.indicator_text or MAI_LABELS.get(self.indicator, f"MAI {self.indicator}")


@dataclass(frozen=True)
class PtpTable:
    version: TableVersion
    pairs: tuple[PtpPair, ...] = ()


@dataclass(frozen=True)
class MueTable:
    version: TableVersion
    values: dict[str, MueValue] = field(default_factory=dict)


@dataclass(frozen=True)
class EditTables:
    """The edit tables a review applies: each None when no table of that kind is imported.

    `newest` holds the newest imported version of each kind, to warn when the date of service is
    past it (the table in force may then be missing).
    """

    ptp: PtpTable | None = None
    mue: MueTable | None = None
    newest: dict[str, TableVersion] = field(default_factory=dict)

    def uses(self, service_date: date) -> list[EditTableUse]:
        """What the report says about the tables applied on `service_date`."""
        return [
            _use("ncci_ptp", self.ptp.version if self.ptp else None, self.newest.get("ncci_ptp"), service_date),
            _use("mue", self.mue.version if self.mue else None, self.newest.get("mue"), service_date),
        ]


class EditTableSource(Protocol):
    """Where a review gets its tables (`reviewer.edit_table_store.EditTableStore` is one)."""

    def fingerprint(self) -> str:
        """The imported versions in one string ("" when none): part of a stored review's key."""
        ...

    def tables_for(self, service_date: date, codes: Iterable[str]) -> EditTables:
        """The tables in force on `service_date`, restricted to `codes`."""
        ...


def pick_version(versions: list[TableVersion], day: date) -> TableVersion | None:
    """The version in force on `day`: the newest that starts on or before it (the latest revision of
    a quarter wins), else the oldest imported one (its rows carry their own dates); None if none."""
    if not versions:
        return None
    started = [v for v in versions if v.effective_from <= day]
    if started:
        return max(started, key=lambda v: (v.effective_from, _revision(v.version)))
    return min(versions, key=lambda v: (v.effective_from, _revision(v.version)))


def staleness(newest: TableVersion | None, day: date) -> str | None:
    """A warning when the newest imported table ends before `day`; None when it covers the date."""
    if newest is None or newest.effective_to is None or day <= newest.effective_to:
        return None
    return (
        f"the newest imported {TABLE_LABELS[newest.kind]} table ({newest.version}, through "
        f"{newest.effective_to.isoformat()}) is older than the date of service {day.isoformat()}"
    )


def _use(kind: TableKind, version: TableVersion | None, newest: TableVersion | None, day: date) -> EditTableUse:
    if version is None:
        note = (
            "no CMS table imported: bundled pairs from secondary sources (unverified edit table)"
            if kind == "ncci_ptp"
            else "no CMS MUE table imported: units per code were not checked"
        )
        return EditTableUse(table=kind, version=None, verified=False, note=note)
    notes = [n for n in (staleness(newest, day),) if n]
    if not version.covers(day) and day < version.effective_from:
        notes.append(f"{version.version} starts {version.effective_from.isoformat()}, after the date of service")
    return EditTableUse(
        table=kind,
        version=version.version,
        verified=True,
        effective_from=version.effective_from,
        effective_to=version.effective_to,
        note="; ".join(notes) or None,
    )


def _revision(version: str) -> int:
    """The revision of an NCCI version name (v321r2 -> 2); 0 when it has none."""
    head, sep, tail = version.lower().rpartition("r")
    return int(tail) if sep and head and tail.isdigit() else 0
