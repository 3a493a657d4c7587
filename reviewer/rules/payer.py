"""Payer-specific policies from the payer profiles (`data/payers.yaml`)."""

from __future__ import annotations

from collections.abc import Iterator

from reviewer.rules import citations
from reviewer.rules.base import Violation, rule
from reviewer.rules.context import ReviewContext


@rule(
    "PAY001",
    "payer.denied_pair",
    flag=None,
    severity="error",
    citation=citations.PAYER_POLICY,
    fix="This payer does not pay the two codes on one date even with 59/X: bill only one, or check the payer's current policy.",
)
def payer_denies_pair(ctx: ReviewContext) -> Iterator[Violation]:
    """Both codes of a pair the payer denies outright on one date are billed (modifiers do not help).

    Source: Anthem, Aetna and Humana front-end denials of 97530 with 97140-59 (WebPT, rules.md §5.3) [S];
    the pairs per payer are in data/payers.yaml.
    Fix: bill one of the two codes, or confirm the payer's current policy before billing both.
    """
    for first, second in ctx.payer.denied_pairs:
        if first in ctx.billed and second in ctx.billed:
            yield Violation(
                f"{ctx.payer.name} denies {second} billed with {first} on the same date, even with 59/X.",
                evidence=[*ctx.billing_evidence(first), *ctx.billing_evidence(second)],
                code=second,
                units_at_risk=ctx.billed[second],
            )


@rule(
    "PAY002",
    "payer.unknown_profile",
    flag=None,
    severity="info",
    citation=citations.UNITS_PER_CODE,
    fix="Add a profile for this payer to data/payers.yaml, or review with --payer medicare or commercial.",
)
def unknown_payer_profile(ctx: ReviewContext) -> Iterator[Violation]:
    """The payer has no profile, so the default commercial profile (per-code units) was used.

    Source: payers differ in unit method; make it a per-payer setting (rules.md §2) [S].
    Fix: add the payer's profile.
    """
    if not ctx.payer_known:
        yield Violation(
            f"No profile for payer {ctx.requested_payer!r}; reviewed with the {ctx.payer.key} profile ({ctx.payer.unit_method} units)."
        )
