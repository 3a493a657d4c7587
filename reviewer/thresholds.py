"""Yearly Medicare therapy amounts (`data/thresholds.yaml`): the KX threshold and the targeted
medical review threshold, each with its source, for the episode checks."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Literal

from reviewer.data import load_yaml

Bucket = Literal["pt_slp", "ot"]
ThresholdKind = Literal["kx_threshold", "targeted_review_threshold"]
_BUCKETS: dict[str, Bucket] = {"PT": "pt_slp", "SLP": "pt_slp", "OT": "ot"}


@dataclass(frozen=True)
class Threshold:
    kind: ThresholdKind
    year: int
    bucket: Bucket
    amount: int  # US dollars, per beneficiary per calendar year
    tag: str  # P primary, S secondary, R inferred
    source: str


@cache
def _table() -> dict[str, dict[int, dict]]:
    data = load_yaml("thresholds.yaml")
    return {
        kind: {int(year): row for year, row in data[kind].items()}
        for kind in ("kx_threshold", "targeted_review_threshold")
    }


def threshold(kind: ThresholdKind, year: int, discipline: str) -> Threshold | None:
    """The amount of `kind` for `year` and a discipline (PT and SLP share one); None when not on file."""
    bucket = _BUCKETS.get(discipline.upper())
    row = _table()[kind].get(year)
    if bucket is None or row is None:
        return None
    return Threshold(kind, year, bucket, int(row[bucket]), str(row["tag"]), str(row["source"]))


def kx_threshold(year: int, discipline: str) -> Threshold | None:
    return threshold("kx_threshold", year, discipline)


def targeted_review_threshold(year: int, discipline: str) -> Threshold | None:
    return threshold("targeted_review_threshold", year, discipline)


def years(kind: ThresholdKind) -> list[int]:
    return sorted(_table()[kind])
