"""Scoring a reviewer run against gold labels. Pure functions over plain dicts and sets.

Conventions (stated here so the numbers in the README can be read exactly):
- per-flag precision is None when the flag was never raised, recall None when it never occurs in
  gold; F1 = 2TP / (2TP + FP + FN), None when the flag is neither in gold nor raised;
- macro F1 averages the flags whose F1 is defined; micro F1 pools TP/FP/FN over all flags;
- a note the reviewer failed on predicts no flags and no fields (so its fields count as wrong);
- a gold goal is found when an extracted goal matches it: rapidfuzz `partial_ratio` >= 85 on
  lower-cased, whitespace-collapsed text, and the extracted text at least half as long as the gold
  span (so a two-word fragment cannot "find" a whole goal);
- percentiles interpolate linearly between the two nearest ranks.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping

from pydantic import BaseModel
from rapidfuzz import fuzz

GOAL_MATCH_THRESHOLD = 85.0
GOAL_MIN_LENGTH_RATIO = 0.5


class FlagScore(BaseModel):
    flag: str
    tp: int
    fp: int
    fn: int
    tn: int
    precision: float | None
    recall: float | None
    f1: float | None


class FieldAccuracy(BaseModel):
    field: str
    correct: int
    total: int
    accuracy: float | None


class NoteMiss(BaseModel):
    """A note the reviewer got wrong: the flags it missed and the flags it raised wrongly."""

    note_id: str
    status: str
    error: str | None = None
    missed: list[str]
    wrong: list[str]


def flag_scores(
    gold: Mapping[str, set[str]], predicted: Mapping[str, set[str]], flags: Iterable[str]
) -> list[FlagScore]:
    """Confusion counts and P/R/F1 per flag over the notes in `gold`."""
    scores = []
    for flag in flags:
        tp = fp = fn = tn = 0
        for note_id, gold_flags in gold.items():
            truth, guess = flag in gold_flags, flag in predicted.get(note_id, set())
            tp += truth and guess
            fp += guess and not truth
            fn += truth and not guess
            tn += not truth and not guess
        scores.append(
            FlagScore(
                flag=flag,
                tp=tp,
                fp=fp,
                fn=fn,
                tn=tn,
                precision=_ratio(tp, tp + fp),
                recall=_ratio(tp, tp + fn),
                f1=_ratio(2 * tp, 2 * tp + fp + fn),
            )
        )
    return scores


def micro_f1(scores: list[FlagScore]) -> float | None:
    tp, fp, fn = (sum(getattr(s, name) for s in scores) for name in ("tp", "fp", "fn"))
    return _ratio(2 * tp, 2 * tp + fp + fn)


def macro_f1(scores: list[FlagScore]) -> float | None:
    defined = [s.f1 for s in scores if s.f1 is not None]
    return sum(defined) / len(defined) if defined else None


def note_accuracy(gold: Mapping[str, set[str]], predicted: Mapping[str, set[str]]) -> float | None:
    """Share of notes whose flag set is exactly right."""
    exact = sum(1 for note_id, flags in gold.items() if predicted.get(note_id, set()) == flags)
    return _ratio(exact, len(gold))


def field_accuracy(
    gold: Mapping[str, Mapping[str, object]],
    predicted: Mapping[str, Mapping[str, object] | None],
    fields: Iterable[str],
) -> list[FieldAccuracy]:
    """Per field, the share of notes whose predicted value equals gold exactly (dicts compared whole)."""
    results = []
    for name in fields:
        correct = 0
        for note_id, gold_fields in gold.items():
            values = predicted.get(note_id)
            correct += values is not None and values.get(name) == gold_fields.get(name)
        results.append(FieldAccuracy(field=name, correct=correct, total=len(gold), accuracy=_ratio(correct, len(gold))))
    return results


def goal_found(gold_goal: str, extracted: Iterable[str]) -> bool:
    target = _normalise(gold_goal)
    for candidate in map(_normalise, extracted):
        if (
            len(candidate) >= GOAL_MIN_LENGTH_RATIO * len(target)
            and fuzz.partial_ratio(target, candidate) >= GOAL_MATCH_THRESHOLD
        ):
            return True
    return False


def goal_recall(gold: Mapping[str, list[str]], extracted: Mapping[str, list[str]]) -> tuple[int, int, float | None]:
    """(found, total, recall) of gold goal spans over all notes."""
    total = sum(len(goals) for goals in gold.values())
    found = sum(goal_found(goal, extracted.get(note_id, [])) for note_id, goals in gold.items() for goal in goals)
    return found, total, _ratio(found, total)


def share(values: Iterable[bool]) -> float | None:
    items = list(values)
    return _ratio(sum(items), len(items))


def percentile(values: Iterable[float], q: float) -> float | None:
    """The q-th percentile (0-100), interpolating linearly; None for no values."""
    ordered = sorted(values)
    if not ordered:
        return None
    position = (len(ordered) - 1) * q / 100
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def mean(values: Iterable[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return sum(known) / len(known) if known else None


def note_misses(
    gold: Mapping[str, set[str]], predicted: Mapping[str, set[str]], errors: Mapping[str, str | None]
) -> list[NoteMiss]:
    """Every note that failed or whose flag set differs from gold; `errors` holds failed notes' reasons."""
    misses = []
    for note_id, gold_flags in gold.items():
        guess = predicted.get(note_id, set())
        if note_id in errors or guess != gold_flags:
            misses.append(
                NoteMiss(
                    note_id=note_id,
                    status="failed" if note_id in errors else "ok",
                    error=errors.get(note_id),
                    missed=sorted(gold_flags - guess),
                    wrong=sorted(guess - gold_flags),
                )
            )
    return misses


def _ratio(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


def _normalise(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().lower()


class RuleFiring(BaseModel):
    """How often one rule fires: on all notes reviewed, and on the clean ones (gold without a flag)."""

    rule: str
    severity: str
    notes: int
    clean_notes: int


def rule_firing(
    findings: Mapping[str, set[str]], clean: set[str], rules: Iterable[tuple[str, str]]
) -> list[RuleFiring]:
    """Per rule (code, severity): the notes whose findings include it, and the clean ones among them."""
    return [
        RuleFiring(
            rule=code,
            severity=severity,
            notes=sum(1 for fired in findings.values() if code in fired),
            clean_notes=sum(1 for note_id, fired in findings.items() if code in fired and note_id in clean),
        )
        for code, severity in rules
    ]


class SpanBlock(BaseModel):
    """A treatment block as physical lines of the note (1-based, inclusive) with what it documents."""

    first: int
    last: int
    code: str | None = None
    minutes: int | None = None
    kind: str | None = None


class BlockScores(BaseModel):
    """Each part of the reading on its own, against the block-level gold (`blocks.jsonl`).

    A gold block is found when a predicted block shares a line with it (pairs are matched one to one,
    the largest overlap first, ties to the same code); minutes, code and kind are scored on the found
    blocks whose gold value is stated.
    """

    notes: int
    gold_blocks: int
    predicted_blocks: int
    matched: int
    precision: float | None
    recall: float | None
    f1: float | None
    minutes_correct: int
    minutes_total: int
    minutes_accuracy: float | None
    code_correct: int
    code_total: int
    code_accuracy: float | None
    kind_correct: int
    kind_total: int
    kind_accuracy: float | None


def match_blocks(gold: list[SpanBlock], predicted: list[SpanBlock]) -> list[tuple[SpanBlock, SpanBlock]]:
    """One-to-one pairs of gold and predicted blocks that share a line, the largest overlap first."""
    candidates = []
    for g, gold_block in enumerate(gold):
        for p, predicted_block in enumerate(predicted):
            overlap = min(gold_block.last, predicted_block.last) - max(gold_block.first, predicted_block.first) + 1
            if overlap > 0:
                same_code = gold_block.code is not None and gold_block.code == predicted_block.code
                spread = abs((gold_block.last - gold_block.first) - (predicted_block.last - predicted_block.first))
                candidates.append((-overlap, not same_code, spread, g, p))
    pairs, used_gold, used_predicted = [], set(), set()
    for *_, g, p in sorted(candidates):
        if g not in used_gold and p not in used_predicted:
            used_gold.add(g)
            used_predicted.add(p)
            pairs.append((gold[g], predicted[p]))
    return pairs


def block_scores(gold: Mapping[str, list[SpanBlock]], predicted: Mapping[str, list[SpanBlock]]) -> BlockScores:
    """Segmentation, minutes, code and kind per block over the notes in `gold` (a note without a
    prediction, e.g. a failed review, predicts no blocks)."""
    pairs = [pair for note_id, blocks in gold.items() for pair in match_blocks(blocks, predicted.get(note_id, []))]
    n_gold = sum(len(blocks) for blocks in gold.values())
    n_predicted = sum(len(predicted.get(note_id, [])) for note_id in gold)

    def accuracy(attribute: str) -> tuple[int, int]:
        scored = [(getattr(g, attribute), getattr(p, attribute)) for g, p in pairs if getattr(g, attribute) is not None]
        return sum(1 for want, got in scored if want == got), len(scored)

    (minutes_ok, minutes_n), (code_ok, code_n), (kind_ok, kind_n) = map(accuracy, ("minutes", "code", "kind"))
    precision, recall = _ratio(len(pairs), n_predicted), _ratio(len(pairs), n_gold)
    return BlockScores(
        notes=len(gold),
        gold_blocks=n_gold,
        predicted_blocks=n_predicted,
        matched=len(pairs),
        precision=precision,
        recall=recall,
        f1=_ratio(2 * len(pairs), n_gold + n_predicted),
        minutes_correct=minutes_ok,
        minutes_total=minutes_n,
        minutes_accuracy=_ratio(minutes_ok, minutes_n),
        code_correct=code_ok,
        code_total=code_n,
        code_accuracy=_ratio(code_ok, code_n),
        kind_correct=kind_ok,
        kind_total=kind_n,
        kind_accuracy=_ratio(kind_ok, kind_n),
    )
