"""The eval's scoring functions on small hand-worked cases."""

from __future__ import annotations

import pytest

from reviewer.evals import metrics

GOLD = {"n1": {"a", "b"}, "n2": {"a"}, "n3": set(), "n4": {"b"}}
PRED = {"n1": {"a"}, "n2": {"a", "c"}, "n3": set(), "n4": {"b"}}
# by hand: a: TP n1,n2 -> tp=2 fp=0 fn=0 tn=2;  b: TP n4, FN n1 -> tp=1 fp=0 fn=1 tn=2;  c: FP n2 -> tp=0 fp=1 fn=0 tn=3


def scores_by_flag():
    return {s.flag: s for s in metrics.flag_scores(GOLD, PRED, ["a", "b", "c", "d"])}


def test_flag_confusion_counts_and_ratios():
    scores = scores_by_flag()
    assert (scores["a"].tp, scores["a"].fp, scores["a"].fn, scores["a"].tn) == (2, 0, 0, 2)
    assert (scores["b"].tp, scores["b"].fp, scores["b"].fn, scores["b"].tn) == (1, 0, 1, 2)
    assert (scores["c"].tp, scores["c"].fp, scores["c"].fn, scores["c"].tn) == (0, 1, 0, 3)
    assert scores["b"].precision == 1.0 and scores["b"].recall == 0.5
    assert scores["b"].f1 == pytest.approx(2 / 3)
    assert scores["c"].precision == 0.0 and scores["c"].recall is None and scores["c"].f1 == 0.0


def test_flag_never_in_gold_nor_raised_is_undefined_and_left_out_of_macro():
    scores = scores_by_flag()
    assert scores["d"].precision is None and scores["d"].recall is None and scores["d"].f1 is None
    assert metrics.macro_f1(list(scores.values())) == pytest.approx((1.0 + 2 / 3 + 0.0) / 3)


def test_micro_f1_pools_counts():
    # tp=3 fp=1 fn=1 -> 6 / (6 + 2)
    assert metrics.micro_f1(list(scores_by_flag().values())) == pytest.approx(0.75)


def test_missing_prediction_counts_as_no_flags():
    scores = {s.flag: s for s in metrics.flag_scores({"n1": {"a"}}, {}, ["a"])}
    assert (scores["a"].tp, scores["a"].fn) == (0, 1)


def test_note_accuracy_is_exact_set_match():
    assert metrics.note_accuracy(GOLD, PRED) == 0.5  # n3 and n4


def test_field_accuracy_compares_dicts_whole_and_counts_failed_notes_wrong():
    gold = {
        "n1": {"billed_units": {"97530": 2, "97110": 1}, "total_timed_minutes": 40},
        "n2": {"billed_units": {"97530": 1}, "total_timed_minutes": None},
        "n3": {"billed_units": {"97530": 1}, "total_timed_minutes": 20},
    }
    predicted = {
        "n1": {"billed_units": {"97110": 1, "97530": 2}, "total_timed_minutes": 41},
        "n2": {"billed_units": {"97530": 2}, "total_timed_minutes": None},
        "n3": None,
    }
    result = {f.field: f for f in metrics.field_accuracy(gold, predicted, ["billed_units", "total_timed_minutes"])}
    assert (result["billed_units"].correct, result["billed_units"].total) == (1, 3)
    assert result["total_timed_minutes"].correct == 1  # n2: both absent
    assert result["total_timed_minutes"].accuracy == pytest.approx(1 / 3)


@pytest.mark.parametrize(
    ("gold_goal", "extracted", "found"),
    [
        ("pt will ambulate 1000 ft in community w/o AD", ["LTG: Pt will ambulate 1000 ft in community w/o AD"], True),
        ("pt will ambulate 1000 ft in community w/o AD", ["pt  will ambulate 1000ft in community w/o  AD."], True),
        ("pt will ambulate 1000 ft in community w/o AD", ["ambulate"], False),  # too short to count
        ("pt will ambulate 1000 ft in community w/o AD", ["independent tub transfer in 4 wks"], False),
        ("pt will ambulate 1000 ft in community w/o AD", [], False),
    ],
    ids=["inside-longer-line", "spacing-and-case", "fragment", "other-goal", "none-extracted"],
)
def test_goal_found(gold_goal, extracted, found):
    assert metrics.goal_found(gold_goal, extracted) is found


def test_goal_recall_over_notes():
    gold = {"n1": ["independent tub transfer in 4 wks", "don socks with reacher"], "n2": ["walk 500 ft"]}
    extracted = {"n1": ["STG: independent tub transfer in 4 wks"], "n2": []}
    assert metrics.goal_recall(gold, extracted) == (1, 3, pytest.approx(1 / 3))


def test_percentile_interpolates_and_handles_empty():
    values = [4.0, 1.0, 3.0, 2.0, 5.0]
    assert metrics.percentile(values, 50) == 3.0
    assert metrics.percentile(values, 95) == pytest.approx(4.8)
    assert metrics.percentile([7.0], 95) == 7.0
    assert metrics.percentile([], 50) is None


def test_share_and_mean_ignore_nothing_but_none():
    assert metrics.share([True, False, True, True]) == 0.75
    assert metrics.share([]) is None
    assert metrics.mean([10, None, 20]) == 15
    assert metrics.mean([None]) is None


def test_note_misses_list_missed_and_wrong_flags_and_failures():
    misses = {
        m.note_id: m for m in metrics.note_misses(GOLD, {k: v for k, v in PRED.items() if k != "n4"}, {"n4": "timeout"})
    }
    assert set(misses) == {"n1", "n2", "n4"}
    assert misses["n1"].missed == ["b"] and misses["n1"].wrong == []
    assert misses["n2"].missed == [] and misses["n2"].wrong == ["c"]
    assert misses["n4"].status == "failed" and misses["n4"].error == "timeout" and misses["n4"].missed == ["b"]
