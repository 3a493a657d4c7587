"""Unit math for 15-minute timed codes: the CMS total-time method and the AMA/CPT per-code method.

Pure functions over `{code: minutes}` of timed codes only (untimed codes never enter the timed total;
see `reviewer.codes`). Sources, all in shared/reference/rules.md:

- `units_for`: the unit table of Pub. 100-04 Ch. 5 §20.2 (R1.1 [P]): 8-22 min = 1 unit, 23-37 = 2, ...
- `medicare_units`: the CMS method (R1.3-R1.7): units(total) shared out, each code first getting
  floor(m/15), the leftover units going to the largest remainders (m mod 15); ties either way.
- `per_code_units`: the AMA/CPT per-code method (§2 [S]): each code alone, units_for(m).
"""

from __future__ import annotations

from collections.abc import Mapping
from itertools import combinations
from typing import Literal

from pydantic import BaseModel, Field

from reviewer.report import UnitRow

UNIT_MINUTES = 15
UnitMethod = Literal["medicare", "per_code"]


class UnitAllocation(BaseModel):
    """The units that documented timed minutes support, per code and in total."""

    method: UnitMethod
    minutes: dict[str, int]
    total_timed_minutes: int
    total_units: int
    units: dict[str, int]
    alternatives: list[dict[str, int]] = Field(
        default_factory=list, description="every allocation the method accepts (more than one only on ties)"
    )

    @property
    def tied(self) -> list[str]:
        """Codes whose units differ between acceptable allocations (CMS: "choose either code")."""
        return [code for code in self.units if len({alt[code] for alt in self.alternatives}) > 1]


def units_for(total_minutes: int) -> int:
    """Units for a number of timed minutes: floor((T + 7) / 15), so 0 below 8 minutes (R1.1, R1.2)."""
    return max(0, (total_minutes + 7) // UNIT_MINUTES)


def medicare_units(minutes_by_code: Mapping[str, int], *, billed: Mapping[str, int] | None = None) -> UnitAllocation:
    """Allocate units by the CMS total-time method (Pub. 100-04 Ch. 5 §20.2, rules.md R1.7).

    On a tie for a leftover unit every resolution is acceptable; `billed` picks the one closest to
    what was billed, so a claim is never faulted for choosing the other tied code. Without `billed`,
    the code with more minutes (then the first listed) takes the unit.
    """
    minutes = {code: max(0, m) for code, m in minutes_by_code.items()}
    total = sum(minutes.values())
    base = {code: m // UNIT_MINUTES for code, m in minutes.items()}
    leftover = units_for(total) - sum(base.values())
    remainder = {code: m % UNIT_MINUTES for code, m in minutes.items()}
    by_remainder = sorted(minutes, key=lambda code: (-remainder[code], -minutes[code]))
    if leftover <= 0:
        return _allocation("medicare", minutes, [base])
    boundary = remainder[by_remainder[leftover - 1]]
    sure = [code for code in minutes if remainder[code] > boundary]
    tied = [code for code in by_remainder if remainder[code] == boundary]
    alternatives = []
    for chosen in combinations(tied, leftover - len(sure)):
        alternative = dict(base)
        for code in [*sure, *chosen]:
            alternative[code] += 1
        alternatives.append(alternative)
    if billed is not None:
        alternatives.sort(key=lambda alt: -sum(min(billed.get(code, 0), units) for code, units in alt.items()))
    return _allocation("medicare", minutes, alternatives)


def per_code_units(minutes_by_code: Mapping[str, int]) -> UnitAllocation:
    """Units by the AMA/CPT per-code method: each code counted alone (rules.md §2)."""
    minutes = {code: max(0, m) for code, m in minutes_by_code.items()}
    return _allocation("per_code", minutes, [{code: units_for(m) for code, m in minutes.items()}])


def allocate(
    minutes_by_code: Mapping[str, int], method: UnitMethod, *, billed: Mapping[str, int] | None = None
) -> UnitAllocation:
    """Units under the payer's method."""
    if method == "medicare":
        return medicare_units(minutes_by_code, billed=billed)
    return per_code_units(minutes_by_code)


def compare_billed(allocation: UnitAllocation, billed: Mapping[str, int]) -> list[UnitRow]:
    """One row per code documented or billed: minutes, billed, supported and units at risk.

    A billed code without documented minutes has no supported units; all its units are at risk.
    """
    rows = []
    for code in [*allocation.units, *(c for c in billed if c not in allocation.units)]:
        supported = allocation.units.get(code)
        billed_units = billed.get(code)
        at_risk = (billed_units or 0) - (supported or 0)
        rows.append(
            UnitRow(
                code=code,
                minutes=allocation.minutes.get(code),
                billed=billed_units,
                supported=supported,
                at_risk=max(0, at_risk),
            )
        )
    return rows


def _allocation(method: UnitMethod, minutes: dict[str, int], alternatives: list[dict[str, int]]) -> UnitAllocation:
    chosen = alternatives[0]
    return UnitAllocation(
        method=method,
        minutes=minutes,
        total_timed_minutes=sum(minutes.values()),
        total_units=sum(chosen.values()),
        units=chosen,
        alternatives=alternatives,
    )
