"""Therapy modifiers on the claim lines: GP/GO/GN (discipline) and CQ/CO (assistants)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

from reviewer.codes import assistant_modifiers, code_info, normalize_code, split_credentials
from reviewer.rules import citations
from reviewer.rules.base import Violation, rule
from reviewer.rules.context import DISCIPLINE_MODIFIERS, ReviewContext

DISCIPLINE_MODIFIER_SET = frozenset(DISCIPLINE_MODIFIERS.values())
ASSISTANT_MODIFIER_BY_DISCIPLINE = {"PT": "CQ", "OT": "CO"}


def _therapy_lines_without_discipline(ctx: ReviewContext) -> list[str]:
    return [
        code for code in ctx.billed if code_info(code) and not ctx.modifiers.get(code, set()) & DISCIPLINE_MODIFIER_SET
    ]


@rule(
    "MOD001",
    "modifiers.discipline_missing",
    flag="missing_discipline_modifier",
    severity="error",
    citation=citations.DISCIPLINE_MODIFIERS,
    fix="Add the discipline modifier to every therapy line: GP (PT plan), GO (OT plan), GN (SLP plan).",
)
def discipline_modifier_missing(ctx: ReviewContext) -> Iterator[Violation]:
    """A Medicare therapy line lacks GP, GO or GN.

    Applies to payers whose profile requires discipline modifiers (Medicare).
    Source: Pub. 100-04 Ch. 5 §20.1: GP/GO/GN show the service was delivered under that discipline's
    plan of care; "always therapy" codes need one whoever furnishes them (rules.md R6.1) [S].
    Fix: add GP, GO or GN to the line.
    """
    if not ctx.payer.discipline_modifier_required:
        return
    expected = DISCIPLINE_MODIFIERS.get(ctx.discipline or "", "GP/GO/GN")
    for code in _therapy_lines_without_discipline(ctx):
        yield Violation(
            f"{code} is billed without a discipline modifier ({expected}).",
            evidence=ctx.billing_evidence(code),
            code=code,
            units_at_risk=ctx.billed[code],
            fix=f"Add {expected} to the {code} line.",
        )


@rule(
    "MOD002",
    "modifiers.discipline_missing_commercial",
    flag=None,
    severity="info",
    citation=citations.DISCIPLINE_MODIFIERS,
    fix="Check the payer's policy; many commercial payers also expect GP/GO/GN on therapy lines.",
)
def discipline_modifier_missing_commercial(ctx: ReviewContext) -> Iterator[Violation]:
    """A therapy line lacks GP/GO/GN for a payer whose profile does not require them (information only).

    Source: Pub. 100-04 Ch. 5 §20.1 binds Medicare only; commercial requirements vary (rules.md R6.1) [S/R].
    Fix: add the modifier if the payer's policy asks for it.
    """
    if ctx.payer.discipline_modifier_required:
        return
    codes = _therapy_lines_without_discipline(ctx)
    if codes:
        yield Violation(f"Lines without GP/GO/GN: {', '.join(codes)} (not required by this payer profile).")


@rule(
    "MOD003",
    "modifiers.discipline_mismatch",
    flag=None,
    severity="warning",
    citation=citations.DISCIPLINE_MODIFIERS,
    fix="Use the modifier of the discipline whose plan of care the service was furnished under.",
)
def discipline_modifier_mismatch(ctx: ReviewContext) -> Iterator[Violation]:
    """A line carries another discipline's modifier (GO on a PT note, GP on an OT note).

    Source: Pub. 100-04 Ch. 5 §20.1; rules.md R6.1 engine note ("GO on a PT-plan note … is a mismatch") [S].
    Fix: correct the modifier to the note's discipline.
    """
    discipline = ctx.extraction.discipline
    expected = DISCIPLINE_MODIFIERS.get(discipline or "")
    if expected is None:
        return
    for code, modifiers in ctx.modifiers.items():
        wrong = sorted(modifiers & DISCIPLINE_MODIFIER_SET - {expected})
        if wrong and expected not in modifiers:
            yield Violation(
                f"{code} carries {'/'.join(wrong)} on a {discipline} note (expected {expected}).",
                evidence=ctx.billing_evidence(code),
                code=code,
            )


def _assistant_credentials(ctx: ReviewContext) -> list[str]:
    people = [ctx.extraction.signature, *ctx.extraction.clinicians]
    found = []
    for person in people:
        if person is not None and person.evidence is not None and person.evidence.verified:
            names = split_credentials([*person.credentials, *(person.name or "").split(",")[1:]])
            found += [name for name in names if name in assistant_modifiers()]
    return found


def _required_assistant_modifiers(ctx: ReviewContext, credentials: list[str]) -> set[str]:
    by_credential = {assistant_modifiers()[name] for name in credentials}
    if by_credential:
        return by_credential
    by_discipline = ASSISTANT_MODIFIER_BY_DISCIPLINE.get(ctx.discipline or "")
    return {by_discipline} if by_discipline else {"CQ", "CO"}


def _assistant_within_de_minimis(ctx: ReviewContext) -> bool:
    """Every billed block that names the assistant states the assistant's minutes, and each is at
    most 10% of its block's minutes (the de minimis threshold: no CQ/CO needed). A statement that
    is not itself a counted block ("the first 2 min of 97530 furnished by T. H., PTA") gives the
    assistant's minutes of that code, against the code's documented minutes."""
    shares: list[tuple[int, int]] = []
    for block in ctx.extraction.blocks:
        code = normalize_code(block.code or "")
        if not block.assistant_named or code not in ctx.billed:
            continue
        if block.counted:
            if block.assistant_minutes is None or not block.minutes:
                return False
            shares.append((block.assistant_minutes, block.minutes))
        elif block.minutes is not None and block.verified:
            documented = ctx.documented_timed_minutes.get(code)
            if not documented:
                return False
            shares.append((block.minutes, documented))
    return bool(shares) and all(assistant * 10 <= minutes for assistant, minutes in shares)


@rule(
    "MOD004",
    "modifiers.assistant_missing",
    flag="assistant_modifier_missing",
    severity="error",
    citation=citations.ASSISTANT_MODIFIERS,
    fix="Add CQ (PTA) or CO (OTA) to the lines the assistant furnished in whole or in part (over 10% of the service's minutes).",
    since=date(2020, 1, 1),
)
def assistant_modifier_missing(ctx: ReviewContext) -> Iterator[Violation]:
    """A PTA or OTA furnished part of the session but no billed line carries CQ or CO.

    Assistant involvement comes from the extraction or from an assistant credential (PTA, COTA, ...)
    on a verified signature. The note rarely gives the assistant's minutes per service, so the
    assistant's part is taken to exceed the 10% de minimis threshold unless a line carries CQ/CO.
    Applies to payers whose profile requires the modifiers (Medicare), for dates of service from
    2020-01-01, when CQ/CO became required on claims.
    Source: SSA §1834(v); CMS "Billing Examples Using CQ/CO Modifiers" [P]; 10% de minimis rule,
    CY2020 PFS [S] (rules.md R6.2).
    No finding when every billed block naming the assistant states the assistant's minutes and
    they are 10% or less of the block's minutes.
    Fix: add CQ/CO to the lines the assistant furnished, or document that the assistant's minutes
    were 10% or less of each service.
    """
    if not ctx.payer.assistant_modifier_required or ctx.discipline == "SLP":
        return
    evidence = ctx.extraction.assistant_evidence
    flagged = ctx.extraction.assistant_involved and (evidence is None or evidence.verified)
    credentials = _assistant_credentials(ctx)
    if not (flagged or credentials) or not ctx.billed:
        return
    required = _required_assistant_modifiers(ctx, credentials)
    if any(ctx.modifiers.get(code, set()) & required for code in ctx.billed):
        return
    if _assistant_within_de_minimis(ctx):
        return
    who = ", ".join(sorted(set(credentials))) or "an assistant"
    signature = ctx.extraction.signature
    yield Violation(
        f"{who} furnished part of the session but no line carries {' or '.join(sorted(required))}; the assistant's minutes "
        "per service are not documented, so their part is taken to exceed the 10% de minimis threshold.",
        evidence=[
            evidence,
            signature.evidence if signature else None,
            *(e for code in ctx.billed for e in ctx.billing_evidence(code)),
        ],
    )
