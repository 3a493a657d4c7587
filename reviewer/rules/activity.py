"""What was done under 97530: functional activity, a daily-life task, no passive care, one-on-one."""

from __future__ import annotations

from collections.abc import Iterator

from reviewer.codes import code_for_kind, code_info, is_timed, normalize_code
from reviewer.rules import citations
from reviewer.rules.base import Violation, rule
from reviewer.rules.context import ReviewContext, block_interval, overlaps
from reviewer.units import units_for

THERAPEUTIC_ACTIVITIES = "97530"
GROUP_CODE = "97150"


def _block_units(ctx: ReviewContext, minutes: int | None, code: str) -> int:
    """Units of `code` that a block's minutes account for, at most the units billed."""
    return 0 if minutes is None else min(ctx.billed.get(code, 0), units_for(minutes))


@rule(
    "ACT001",
    "activity.not_functional",
    flag="no_functional_activity",
    severity="error",
    citation=citations.CPT_97530,
    fix="Bill the activity under the code that describes it, or document the dynamic functional task trained.",
)
def non_functional_activity_billed_as_97530(ctx: ReviewContext) -> Iterator[Violation]:
    """A block billed as 97530 is not a dynamic functional activity.

    Isolated strengthening, ROM or stretching belongs under 97110, balance/proprioception under 97112,
    gait under 97116, manual techniques under 97140. ADL/self-care tasks are functional too; whether
    they are coded 97530 or 97535 is a coding choice rather than a denial, so ACT005 suggests 97535
    instead of flagging them here.
    Source: CPT 97530 "use of dynamic activities to improve functional performance" and the 97110,
    97112, 97535 descriptors (rules.md §4.1-§4.2) [S].
    Fix: recode the block, or document the functional task (transfer, lift, carry, reach) trained.
    """
    for block in ctx.blocks_for(THERAPEUTIC_ACTIVITIES):
        if block.charge_restatement:  # a charge line documents no activity of its own
            continue
        suggested = code_for_kind(block.kind)
        if suggested and suggested != THERAPEUTIC_ACTIVITIES and block.kind not in ("selfcare", "passive"):
            yield Violation(
                f"The 97530 block is {block.kind} activity, which belongs under {suggested}, not therapeutic activities.",
                evidence=[block.evidence],
                code=THERAPEUTIC_ACTIVITIES,
                units_at_risk=_block_units(ctx, block.minutes, THERAPEUTIC_ACTIVITIES),
                fix=f"Bill these minutes as {suggested}, or document the dynamic functional task they trained.",
            )


@rule(
    "ACT002",
    "activity.daily_task",
    flag=None,
    severity="warning",
    citation=citations.CPT_97530,
    fix="Name the daily-life task the activity trains (e.g. car transfers, lifting groceries, stairs at home).",
)
def functional_block_without_daily_task(ctx: ReviewContext) -> Iterator[Violation]:
    """A 97530 block does not name the daily-life task it trains.

    Only blocks whose task was read count: `daily_task` None means the reader did not ask (the
    question-per-judgement reader asks no task question), "" that it looked and found none.
    Source: 97530 activities "are designed to address a specific functional need" and are "directed
    at a specific outcome" (LCD language quoted in rules.md §4.2) [S].
    Fix: link the activity to the patient's functional task or goal.
    """
    for block in ctx.blocks_for(THERAPEUTIC_ACTIVITIES):
        if (
            block.kind == "functional"
            and block.daily_task is not None
            and not (block.daily_task and block.daily_task_verified)
        ):
            yield Violation(
                "The 97530 block names no daily-life task that it trains.",
                evidence=[block.evidence],
                code=THERAPEUTIC_ACTIVITIES,
            )


@rule(
    "ACT003",
    "activity.passive_in_97530",
    flag="passive_treatment_billed",
    severity="error",
    citation=citations.CPT_97530,
    fix="Take passive care (modalities, passive ROM, massage, rest) out of the 97530 minutes; bill a modality under its own code.",
)
def passive_treatment_in_97530(ctx: ReviewContext) -> Iterator[Violation]:
    """Passive treatment is counted in 97530 time.

    A passive block (modality, hot pack, passive ROM, massage, rest) is coded 97530, a 97530 block's
    minutes include passive care, or a passive block's start/stop times fall inside a 97530 block's
    times, even if the note says the passive care was not billed.
    Source: 97530 requires "direct (one-on-one) patient contact (use of dynamic activities…)" [S];
    rest periods are not treatment time (Pub. 100-02 Ch. 15 §220.3.E [P mirror p.206]; §20.3 [S]).
    Fix: remove the passive minutes from 97530 and bill the modality, if billable, under its own code.
    """
    activity_intervals = [(b, span) for b in ctx.blocks_for(THERAPEUTIC_ACTIVITIES) if (span := block_interval(b))]
    for block in ctx.extraction.blocks:
        if not (block.verified and (block.passive or block.includes_passive)):
            continue
        coded_97530 = block.code is not None and normalize_code(block.code) == THERAPEUTIC_ACTIVITIES
        if coded_97530 and not block.billed_as_not_billed:
            yield Violation(
                "Passive treatment is documented as part of 97530 time.",
                evidence=[block.evidence],
                code=THERAPEUTIC_ACTIVITIES,
                units_at_risk=_block_units(ctx, block.minutes, THERAPEUTIC_ACTIVITIES),
            )
            continue
        interval = block_interval(block)
        inside = [
            other for other, span in activity_intervals if other is not block and interval and overlaps(interval, span)
        ]
        if inside:
            yield Violation(
                f"Passive treatment ({block.start_time}-{block.stop_time}) overlaps 97530 time.",
                evidence=[block.evidence, *(other.evidence for other in inside)],
                code=THERAPEUTIC_ACTIVITIES,
            )


@rule(
    "ACT004",
    "activity.group_as_individual",
    flag="group_billed_as_individual",
    severity="error",
    citation=citations.GROUP_THERAPY,
    fix="Bill group or concurrent treatment as 97150 (one unit per patient), not as one-on-one timed codes.",
)
def group_billed_as_individual(ctx: ReviewContext) -> Iterator[Violation]:
    """Treatment given to two or more patients at once is billed as a one-on-one timed code.

    A group block coded with a timed code, or with no code while timed codes (and no 97150) are billed;
    or a line showing group or concurrent treatment outside any block while only timed codes are billed.
    Source: "If a therapist … performs any of the procedures with two or more individuals concurrently
    or during the same time period, then only 97150 is reported for each patient" (Carriers Manual
    Transmittal 1753; 59 FR 63451) [S verbatim]; 97530 is "direct (one-on-one)" (CPT) [S].
    Fix: bill 97150 for the group time.
    """
    group_blocks = [block for block in ctx.blocks if block.group]
    evidence = ctx.extraction.group_evidence
    if (
        not group_blocks
        and evidence is not None
        and evidence.verified
        and ctx.billed_timed
        and GROUP_CODE not in ctx.billed
    ):
        billed_as = (
            THERAPEUTIC_ACTIVITIES if THERAPEUTIC_ACTIVITIES in ctx.billed_timed else next(iter(ctx.billed_timed))
        )
        yield Violation(
            f"Group or concurrent treatment is documented but billed as one-on-one {billed_as}; it belongs under 97150.",
            evidence=[evidence, *ctx.billing_evidence(billed_as)],
            code=billed_as,
            units_at_risk=ctx.billed.get(billed_as, 0),
        )
    for block in group_blocks:
        code = normalize_code(block.code) if block.code else None
        if code is not None and is_timed(code):
            billed_as = code
        elif code is None and ctx.billed_timed and GROUP_CODE not in ctx.billed:
            billed_as = (
                THERAPEUTIC_ACTIVITIES if THERAPEUTIC_ACTIVITIES in ctx.billed_timed else next(iter(ctx.billed_timed))
            )
        else:
            continue
        info = code_info(billed_as)
        name = info.name if info else billed_as
        yield Violation(
            f"Group or concurrent treatment is billed as one-on-one {billed_as} ({name}); it belongs under 97150.",
            evidence=[block.evidence, *ctx.billing_evidence(billed_as)],
            code=billed_as,
            units_at_risk=ctx.billed.get(billed_as, 0),
        )


@rule(
    "ACT005",
    "activity.adl_as_97530",
    flag=None,
    severity="info",
    citation=citations.CPT_97530,
    fix="Consider 97535 (self-care/home management training) for ADL training, or document the dynamic functional task.",
)
def adl_training_billed_as_97530(ctx: ReviewContext) -> Iterator[Violation]:
    """A 97530 block is ADL/self-care training (dressing, bathing, meal preparation, adaptive equipment).

    Source: the 97535 descriptor, "self-care/home management training (eg, activities of daily living
    (ADL) and compensatory training, meal preparation, safety procedures ...)" (rules.md §4.1-§4.2) [S].
    Fix: bill ADL training as 97535, or document what makes it a dynamic functional activity.
    """
    for block in ctx.blocks_for(THERAPEUTIC_ACTIVITIES):
        if block.kind == "selfcare":
            yield Violation(
                "The 97530 block is ADL/self-care training, which CPT describes under 97535.",
                evidence=[block.evidence],
                code=THERAPEUTIC_ACTIVITIES,
            )
