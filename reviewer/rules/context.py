"""What the rules read: the extraction plus the facts derived from it once (billing, minutes, units).

Only evidence-verified values count as documented: an unverified block, total or goal is treated
as if the note did not state it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property

from reviewer import clock
from reviewer.codes import code_info, is_timed, is_untimed, normalize_code, normalize_modifier
from reviewer.edit_tables import EditTables
from reviewer.parsing import read_date
from reviewer.payers import PayerProfile, default_payer, get_payer
from reviewer.report import UnitRow
from reviewer.schema import Evidence, Extraction, Grounded, TreatmentBlock
from reviewer.units import UnitAllocation, allocate, compare_billed

DISCIPLINE_MODIFIERS = {"PT": "GP", "OT": "GO", "SLP": "GN"}


@dataclass
class ReviewContext:
    extraction: Extraction
    payer: PayerProfile
    payer_known: bool
    requested_payer: str
    state: str | None
    service_date: date
    edit_tables: EditTables = field(
        default_factory=EditTables
    )  # the imported CMS tables in force (empty: none imported)

    @classmethod
    def build(
        cls,
        extraction: Extraction,
        *,
        payer: str,
        state: str | None,
        as_of: date | None = None,
        edit_tables: EditTables | None = None,
    ) -> ReviewContext:
        profile = get_payer(payer) if isinstance(payer, str) else None
        return cls(
            extraction=extraction,
            payer=profile or default_payer(),
            payer_known=profile is not None,
            requested_payer=str(payer),
            state=state,
            service_date=as_of or service_date_of(extraction),
            edit_tables=edit_tables or EditTables(),
        )

    # --- billing -------------------------------------------------------------------------------

    @cached_property
    def billed(self) -> dict[str, int]:
        """Units billed per code (codes normalised; lines with zero units dropped)."""
        out: dict[str, int] = {}
        for line in self.extraction.billing:
            units = 1 if line.units is None else line.units
            if units > 0:
                code = normalize_code(line.code)
                out[code] = out.get(code, 0) + units
        return out

    @cached_property
    def modifiers(self) -> dict[str, set[str]]:
        out: dict[str, set[str]] = {}
        for line in self.extraction.billing:
            out.setdefault(normalize_code(line.code), set()).update(normalize_modifier(m) for m in line.modifiers)
        return out

    @cached_property
    def billed_timed(self) -> dict[str, int]:
        return {code: units for code, units in self.billed.items() if is_timed(code)}

    def billing_evidence(self, code: str) -> list[Evidence | None]:
        return [line.evidence for line in self.extraction.billing if normalize_code(line.code) == code]

    # --- documented treatment ------------------------------------------------------------------

    @cached_property
    def blocks(self) -> list[TreatmentBlock]:
        """Verified blocks the note bills (blocks it marks "not billed" are left out)."""
        return [b for b in self.extraction.blocks if b.verified and not b.billed_as_not_billed]

    def blocks_all_documented(self) -> list[TreatmentBlock]:
        """Verified blocks whose minutes count, billed or marked not billed (not restatements)."""
        return [b for b in self.extraction.blocks if b.verified and (b.counted or b.billed_as_not_billed)]

    def blocks_for(self, code: str) -> list[TreatmentBlock]:
        return [b for b in self.blocks if b.code and normalize_code(b.code) == code]

    def block_evidence(self, code: str) -> list[Evidence | None]:
        return [b.evidence for b in self.blocks_for(code)]

    @cached_property
    def documented_timed_minutes(self) -> dict[str, int]:
        """Minutes per timed code from the note's own per-code minutes.

        A span of the note documents its minutes once: blocks citing the same span with the same code
        and minutes count once. A billing line that restates minutes ("97530 x3, 38 min") counts only
        for a code no treatment block gives minutes for.
        """
        timed = [b for b in self.blocks if b.code and b.minutes is not None and is_timed(b.code) and b.counted]
        restated = [b for b in timed if self._on_billing_line(b)]
        out = _sum_minutes(b for b in timed if b not in restated)
        for code, minutes in _sum_minutes(restated).items():
            out.setdefault(code, minutes)
        return out

    def _on_billing_line(self, block: TreatmentBlock) -> bool:
        spans = [
            line.evidence for line in self.extraction.billing if line.evidence is not None and line.evidence.verified
        ]
        if block.evidence is None or block.evidence.start is None or block.evidence.end is None:
            return False
        here = (block.evidence.start, block.evidence.end)
        return any(s.start is not None and s.end is not None and overlaps(here, (s.start, s.end)) for s in spans)

    @cached_property
    def minutes_from_total(self) -> bool:
        """One timed code billed, no per-code minutes, a stated total: the total is that code's time."""
        return not self.documented_timed_minutes and len(self.billed_timed) == 1 and self.stated_total_timed is not None

    @cached_property
    def timed_minutes(self) -> dict[str, int]:
        """Minutes per timed code that the units are judged on."""
        if self.minutes_from_total:
            return {next(iter(self.billed_timed)): max(0, self.stated_total_timed or 0)}
        return self.documented_timed_minutes

    @cached_property
    def minutes_missing(self) -> list[str]:
        """Billed timed codes with no documented minutes of their own."""
        return [code for code in self.billed_timed if code not in self.timed_minutes]

    @cached_property
    def stated_total_timed(self) -> int | None:
        return _verified_value(self.extraction.total_timed_minutes)

    @cached_property
    def total_treatment(self) -> int | None:
        """Stated total treatment minutes, else the span from time in to time out."""
        stated = _verified_value(self.extraction.total_treatment_minutes)
        return stated if stated is not None else self.time_in_out_minutes

    @cached_property
    def time_in_out_minutes(self) -> int | None:
        start, stop = (_verified_value(self.extraction.time_in), _verified_value(self.extraction.time_out))
        interval = clock.interval(start, stop)
        return None if interval is None else interval[1] - interval[0]

    # --- units -----------------------------------------------------------------------------------

    @cached_property
    def allocation(self) -> UnitAllocation | None:
        """Supported units under the payer's method; None when billed minutes are missing (CMS)."""
        if self.payer.unit_method == "medicare" and self.minutes_missing:
            return None
        return allocate(self.timed_minutes, self.payer.unit_method, billed=self.billed_timed)

    @cached_property
    def unit_rows(self) -> list[UnitRow]:
        """The unit table: timed codes documented or billed, then untimed and unknown billed codes."""
        if self.allocation is not None:
            rows = compare_billed(self.allocation, self.billed_timed)
        else:
            rows = [
                UnitRow(code=c, minutes=m, billed=self.billed_timed.get(c), supported=None)
                for c, m in self.timed_minutes.items()
            ]
            rows += [
                UnitRow(code=c, minutes=None, billed=u, supported=None)
                for c, u in self.billed_timed.items()
                if c in self.minutes_missing
            ]
        uncertain = self.extraction.uncertain_codes()
        for row in rows:
            if row.code in uncertain:
                row.uncertain, row.supported, row.at_risk = True, None, 0
            elif row.supported is None and row.billed:
                row.at_risk = row.billed  # nothing documented supports these units
        for code, units in self.billed.items():
            if is_untimed(code):
                rows.append(
                    UnitRow(
                        code=code,
                        minutes=self._untimed_minutes(code),
                        billed=units,
                        supported=1,
                        at_risk=max(0, units - 1),
                    )
                )
            elif code_info(code) is None:
                rows.append(UnitRow(code=code, minutes=None, billed=units, supported=None))
        return rows

    def _untimed_minutes(self, code: str) -> int | None:
        minutes = [b.minutes for b in self.blocks_for(code) if b.minutes is not None and b.counted]
        return sum(minutes) if minutes else None

    # --- people ----------------------------------------------------------------------------------

    @cached_property
    def discipline(self) -> str | None:
        """The note's discipline, else the one its GP/GO/GN modifiers name."""
        if self.extraction.discipline:
            return self.extraction.discipline
        named = {d for d, mod in DISCIPLINE_MODIFIERS.items() for mods in self.modifiers.values() if mod in mods}
        return named.pop() if len(named) == 1 else None


def service_date_of(extraction: Extraction) -> date:
    """The note's verified date of service, else today."""
    return parse_date(extraction.date_of_service) or date.today()


def billed_codes(extraction: Extraction) -> set[str]:
    """The codes of the note's billing lines, normalised."""
    return {normalize_code(line.code) for line in extraction.billing}


def parse_date(value: Grounded[str] | None) -> date | None:
    """A verified date of service, in the usual US spellings; None when absent or unreadable."""
    text = _verified_value(value)
    return read_date(text) if isinstance(text, str) else None


def block_interval(block: TreatmentBlock) -> tuple[int, int] | None:
    return clock.interval(block.start_time, block.stop_time)


def overlaps(a: tuple[int, int], b: tuple[int, int]) -> bool:
    """Intervals share time (touching ends, as in 9:02-9:09 then 9:09-9:27, do not)."""
    return a[0] < b[1] and b[0] < a[1]


def _sum_minutes(blocks: Iterable[TreatmentBlock]) -> dict[str, int]:
    out: dict[str, int] = {}
    seen: set[tuple] = set()
    for block in blocks:
        code = normalize_code(block.code or "")
        span = (block.evidence.start, block.evidence.end) if block.evidence else (None, None)
        key = (code, block.minutes, *span)
        if key not in seen:
            seen.add(key)
            out[code] = out.get(code, 0) + max(0, block.minutes or 0)
    return out


def _verified_value(value: Grounded | None):
    return value.value if value is not None and value.verified else None
