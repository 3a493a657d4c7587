"""How sure the reading is: values the witnesses could not settle go to a human, and no billing
flag is raised on them."""

from __future__ import annotations

from collections.abc import Iterator

from reviewer.rules import citations
from reviewer.rules.base import Violation, rule
from reviewer.rules.context import ReviewContext

# Flags that judge minutes against units or totals: withheld while the minutes are uncertain.
MINUTES_FLAGS = frozenset(
    {
        "units_exceed_minutes",
        "units_below_minutes",
        "timed_minutes_missing",
        "minutes_total_mismatch",
        "total_timed_minutes_missing",
    }
)


@rule(
    "READ001",
    "reading.uncertain_value",
    flag=None,
    severity="warning",
    citation=citations.TREATMENT_NOTE,
    fix="Read the lines shown and confirm the minutes; then the unit checks can run.",
)
def uncertain_value(ctx: ReviewContext) -> Iterator[Violation]:
    """A value the note's witnesses disagree on (the block's own numbers, the stated total, a charge
    line, the model) and nothing reconciles: it needs a human reading.

    Source: the timed-code minutes must be documented so that the units can be checked
    (Pub. 100-02 Ch. 15 §220.3.E, rules.md §3.1) [P]; a reviewer that cannot read them says so
    instead of guessing.
    Fix: read the lines shown; correct the note if its numbers really disagree.
    """
    for value in ctx.extraction.uncertain:
        shown = ", ".join(str(c) for c in value.candidates) if value.candidates else "none read"
        yield Violation(
            f"Uncertain {value.field}{f' for {value.code}' if value.code else ''} (readings: {shown}): {value.reason}. "
            "Needs a human reading; no billing flag is raised on it.",
            evidence=[value.evidence],
            code=value.code,
        )


def withhold_uncertain(ctx: ReviewContext, findings: list) -> list:
    """The findings less the minutes flags that rest on an uncertain value (per code, or for the
    note's totals when any timed minutes are uncertain)."""
    uncertain = ctx.extraction.uncertain_codes()
    if not ctx.extraction.uncertain:
        return findings
    return [
        f
        for f in findings
        if not (f.flag in MINUTES_FLAGS and (f.code is None or f.code in uncertain or not uncertain))
    ]
