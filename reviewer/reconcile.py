"""Consistency decides a block's minutes: the witnesses on the block (leader-dot or table column,
sub-item sum, subtotal, "23 min", clock range), the note's own stated total, and the model.

A reading the witnesses agree on is taken. Where they disagree, the reading that makes the timed
blocks add up to the stated total is taken; failing that, the model's choice among the written
numbers, if the total does not contradict it. Otherwise the minutes are uncertain: the rules
raise no billing flag on them and the note goes to a human.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import product

from reviewer.blocks import Block
from reviewer.codes import is_timed

MAX_COMBINATIONS = 512
MODEL_ALONE_MIN_CONFIDENCE = 0.8  # the model's minutes with no other witness and no total to check


@dataclass
class Resolution:
    minutes: int | None
    source: str  # parser (the block's witnesses agree), total, model, none
    counted: bool  # counts toward its code's minutes (not a restatement, mention or summary)
    uncertain: str | None = None  # why no reading could be accepted
    candidates: tuple[int, ...] = ()


def counted_blocks(blocks: list[Block]) -> dict[int, str]:
    """Index -> code of the blocks whose minutes count for their code: billed, one code, and a
    service block with minutes on its head (a block whose only minutes are in its description,
    or none, counts when its code has no such block); a later correction replaces its code's
    blocks; mentions count only for a code with no service block; a block restating the sum of
    its code's other blocks does not count."""
    single = {
        i: b.codes[0] for i, b in enumerate(blocks) if len(b.codes) == 1 and not b.not_billed and is_timed(b.codes[0])
    }
    by_code: dict[str, list[int]] = {}
    for index, code in single.items():
        by_code.setdefault(code, []).append(index)
    counted: dict[int, str] = {}
    for code, indexes in by_code.items():
        corrections = [i for i in indexes if blocks[i].role == "correction" and blocks[i].readings]
        service = [i for i in indexes if blocks[i].role == "service"]
        headed = [i for i in service if any(r.kind != "inline" for r in blocks[i].readings)]
        described = [i for i in headed if not blocks[i].charge_row]
        chosen = (
            corrections[-1:]
            or described
            or headed
            or service
            or [i for i in indexes if blocks[i].role == "mention"][:1]
        )
        values = {i: blocks[i].values()[0] for i in chosen if blocks[i].values()}
        for index in chosen:
            if not _restates(blocks, values, index):
                counted[index] = code
    return counted


def _restates(blocks: list[Block], values: dict[int, int], index: int) -> bool:
    """The block's minutes are the sum of its code's other blocks, written again: a later block
    equal to the sum of two or more others, or a bare one-unit line equal to the one block before."""
    if index not in values:
        return False
    others = {j: v for j, v in values.items() if j != index}
    if not others or values[index] != sum(others.values()):
        return False
    if len(others) >= 2:
        return True
    before = next(iter(others)) < index
    return before and blocks[index].first == blocks[index].last and blocks[index].readings[0].kind == "subtotal"


def resolve(
    blocks: list[Block],
    stated_total: int | None,
    total_treatment: int | None,
    model: dict[int, tuple[int | None, float | None]] | None = None,
) -> dict[int, Resolution]:
    """The accepted minutes of every block. `model` holds the model's reading (value, confidence)
    for the blocks it was asked about; without it, blocks that need the model are left uncertain
    with `candidates` set, so the caller knows whom to ask."""
    model = model or {}
    counted = counted_blocks(blocks)
    out: dict[int, Resolution] = {}
    open_blocks: list[int] = []
    for index, block in enumerate(blocks):
        values = block.values()
        if len(values) == 1:
            out[index] = Resolution(values[0], "parser", index in counted)
        elif not values:
            out[index] = Resolution(None, "none", index in counted)
        else:
            out[index] = Resolution(values[0], "parser", index in counted, candidates=tuple(values))
            open_blocks.append(index)
    conflicted = [i for i in open_blocks if i in counted]
    for index in open_blocks:
        if index not in counted:  # a restatement or summary: its first reading stands, it counts for nothing
            out[index].candidates = ()
    if conflicted:
        _settle_by_total(out, counted, conflicted, stated_total, total_treatment, model)
    for index in counted:  # billed timed blocks with no minutes of their own
        resolution = out[index]
        if resolution.minutes is None and index in model:
            value, confidence = model[index]
            fits = stated_total is None or _total_with(out, counted, {index: value}) == stated_total
            within = (
                total_treatment is None
                or value is None
                or _known_total(out, counted, {index: value}) <= total_treatment
            )
            if (
                value is not None
                and fits
                and within
                and (stated_total is not None or (confidence or 0) >= MODEL_ALONE_MIN_CONFIDENCE)
            ):
                out[index] = Resolution(value, "model" if stated_total is None else "total", True)
            elif value is not None:
                out[index] = Resolution(
                    None, "none", True, uncertain="the model read minutes that the note's total does not confirm"
                )
    _check_restatements(blocks, counted, out)
    return out


def _check_restatements(blocks: list[Block], counted: dict[int, str], out: dict[int, Resolution]) -> None:
    """A charge row that restates its code's minutes ("97530 TherAct 31 min x2") is one more
    witness: when it disagrees with the code's blocks, the code's minutes are uncertain."""
    for index, block in enumerate(blocks):
        if index in counted or not block.charge_row or block.on_total or len(block.codes) != 1 or not block.values():
            continue
        code = block.codes[0]
        mine = [i for i, c in counted.items() if c == code]
        known = [m for i in mine if (m := out[i].minutes) is not None]
        stated = block.values()[0]
        if not mine or len(known) < len(mine) or sum(known) == stated:
            continue
        for i in mine:
            out[i] = Resolution(
                None,
                "none",
                True,
                candidates=(sum(known), stated),
                uncertain=f"the blocks add up to {sum(known)} min but a charge line states {stated} min",
            )


def _counted_minutes(
    out: dict[int, Resolution], counted: dict[int, str], override: dict[int, int | None]
) -> list[int | None]:
    return [override.get(index, out[index].minutes) for index in counted]


def _total_with(out: dict[int, Resolution], counted: dict[int, str], override: dict[int, int | None]) -> int | None:
    """The counted blocks' minutes added up, None while any is unknown."""
    minutes = _counted_minutes(out, counted, override)
    known = [m for m in minutes if m is not None]
    return sum(known) if len(known) == len(minutes) else None


def _known_total(out: dict[int, Resolution], counted: dict[int, str], override: dict[int, int | None]) -> int:
    """The sum of the counted minutes known so far."""
    return sum(v for v in _counted_minutes(out, counted, override) if v is not None)


def _settle_by_total(out, counted, conflicted, stated_total, total_treatment, model) -> None:
    options = [out[i].candidates for i in conflicted]
    combos = list(product(*options))[:MAX_COMBINATIONS]
    primary = tuple(o[0] for o in options)
    fitting = []
    for combo in combos:
        total = _total_with(out, counted, dict(zip(conflicted, combo)))
        if (stated_total is not None and total == stated_total) or (
            stated_total is None and (total_treatment is None or total is None or total <= total_treatment)
        ):
            fitting.append(combo)
    if stated_total is not None and len(fitting) == 1:
        for index, value in zip(conflicted, fitting[0]):
            source = "parser" if fitting[0] == primary else "total"
            out[index] = Resolution(value, source, True, candidates=out[index].candidates)
        return
    for position, index in enumerate(conflicted):
        choices = out[index].candidates
        value, _confidence = model.get(index, (None, None))
        allowed = {combo[position] for combo in fitting}
        if value is not None and value in choices and value in allowed:
            out[index] = Resolution(value, "model", True, candidates=choices)
        else:
            reason = "the block's witnesses disagree and neither the stated total nor the model settles it"
            out[index] = Resolution(None, "none", True, uncertain=reason, candidates=choices)


def blocks_to_ask(
    blocks: list[Block], stated_total: int | None, total_treatment: int | None, numbers: dict[int, list[int]]
) -> dict[int, list[int]]:
    """The counted blocks whose minutes the model must read, with the numbers it may choose from:
    blocks whose witnesses disagree unresolved by the total, and blocks with no minutes reading but
    numbers written in them."""
    first = resolve(blocks, stated_total, total_treatment)
    ask: dict[int, list[int]] = {}
    for index, resolution in first.items():
        if not resolution.counted:
            continue
        if resolution.uncertain and resolution.candidates:
            ask[index] = list(resolution.candidates) + [
                n for n in numbers.get(index, []) if n not in resolution.candidates
            ]
        elif resolution.minutes is None and numbers.get(index):
            ask[index] = numbers[index]
    return ask
