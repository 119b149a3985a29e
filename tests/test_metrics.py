"""Known-answer tests for facelab.evaluate.metrics: every expected number is worked out by hand."""
from __future__ import annotations

import numpy as np
import pytest

from facelab.evaluate import metrics as M

# Eight binary predictions, worked by hand:
#   y    = 1    1    1    1    0    0    0    0
#   p    = .95  .8   .6   .3   .1   .4   .7   .55
#   pred = 1    1    1    0    0    0    1    1
# TP=3 (rows 0,1,2), FN=1 (row 3), TN=2 (rows 4,5), FP=2 (rows 6,7)
Y8 = np.array([1, 1, 1, 1, 0, 0, 0, 0])
P8 = np.array([0.95, 0.8, 0.6, 0.3, 0.1, 0.4, 0.7, 0.55])


def test_binary_scores_by_hand():
    s = M.binary_scores(Y8, P8)
    assert s["accuracy"] == pytest.approx(5 / 8)
    assert s["precision"] == pytest.approx(3 / 5)
    assert s["recall"] == pytest.approx(3 / 4)
    assert s["f1"] == pytest.approx(2 * 0.6 * 0.75 / (0.6 + 0.75))
    # balanced accuracy = (TPR + TNR) / 2 = (3/4 + 2/4) / 2
    assert s["balanced_accuracy"] == pytest.approx(0.625)
    # AUC: pairs (pos, neg) with pos score > neg score. positives .95 .8 .6 .3; negatives .1 .4 .7 .55
    # .95 beats 4, .8 beats 4, .6 beats 3 (.1 .4 .55), .3 beats 1 (.1) -> 12 / 16
    assert s["roc_auc"] == pytest.approx(12 / 16)
    assert s["positive_rate"] == 0.5 and s["predicted_positive_rate"] == pytest.approx(5 / 8)


def test_ece_by_hand():
    # top-label confidences: .95 .8 .6 .7 .9 .6 .7 .55 ; correct: 1 1 1 0 1 1 0 0
    # bins (10 equal, right-closed): (.5,.6]: .6, .6, .55 -> conf .5833, acc 2/3
    #   (.6,.7]: .7, .7 -> conf .7, acc 0 ; (.7,.8]: .8 -> acc 1 ; (.8,.9]: .9 -> acc 1 ; (.9,1]: .95 -> acc 1
    expected = (3 / 8 * abs(2 / 3 - (0.6 + 0.6 + 0.55) / 3) + 2 / 8 * 0.7 + 1 / 8 * 0.2
                + 1 / 8 * 0.1 + 1 / 8 * 0.05)
    assert M.expected_calibration_error(Y8, P8, "binary") == pytest.approx(expected)
    rb = M.reliability_bins(Y8, P8, "binary")
    assert rb.count.tolist() == [0, 0, 0, 0, 0, 3, 2, 1, 1, 1]
    assert np.isnan(rb.accuracy[0]) and rb.accuracy[6] == 0.0


def test_ece_is_zero_when_calibrated_and_bin_edges():
    # confidence 1.0 must land in the last bin, 0.5 in bin (.4, .5]
    rb = M.reliability_bins(np.array([1, 0]), np.array([1.0, 0.5]), "binary")
    assert rb.count[9] == 1 and rb.count[4] == 1
    y = np.array([1] * 8 + [0] * 2)
    p = np.full(10, 0.8)  # 80 % confident, 80 % right
    assert M.expected_calibration_error(y, p, "binary") == pytest.approx(0.0)


def test_score_binary_confusion_and_report():
    s = M.score(Y8, P8.reshape(-1, 1), "binary", ["Smiling"])
    assert s.confusion["Smiling"].tolist() == [[2, 2], [1, 3]]  # rows true 0/1, cols pred 0/1
    assert s.overall["accuracy"] == pytest.approx(5 / 8) and s.overall["n"] == 8
    assert "Smiling" in s.report
    assert s.to_dict()["per_label"][0]["label"] == "Smiling"


def test_score_multiclass_by_hand():
    y = np.array([0, 0, 1, 1, 2, 2])
    prob = np.array([
        [0.7, 0.2, 0.1],  # pred 0 ok
        [0.3, 0.6, 0.1],  # pred 1 wrong
        [0.1, 0.8, 0.1],  # pred 1 ok
        [0.2, 0.5, 0.3],  # pred 1 ok
        [0.1, 0.1, 0.8],  # pred 2 ok
        [0.5, 0.1, 0.4],  # pred 0 wrong
    ])
    s = M.score(y, prob, "multiclass", ["a", "b", "c"])
    assert s.overall["accuracy"] == pytest.approx(4 / 6)
    # recall per class: a 1/2, b 2/2, c 1/2 -> balanced 2/3; precision: a 1/2, b 2/3, c 1/1
    assert s.overall["balanced_accuracy"] == pytest.approx(2 / 3)
    assert s.per_label["precision"].tolist() == pytest.approx([0.5, 2 / 3, 1.0])
    assert s.overall["precision"] == pytest.approx((0.5 + 2 / 3 + 1) / 3)
    assert s.confusion["all"].tolist() == [[1, 1, 0], [0, 2, 0], [1, 0, 1]]
    # top-label ECE: conf .7 .6 .8 .5 .8 .5 ; correct 1 0 1 1 1 0
    # (.4,.5]: .5,.5 acc 1/2 -> gap 0 ; (.5,.6]: .6 acc 0 -> .6 ; (.6,.7]: .7 acc 1 -> .3 ; (.7,.8]: .8,.8 acc 1 -> .2
    assert s.overall["ece"] == pytest.approx(1 / 6 * 0.6 + 1 / 6 * 0.3 + 2 / 6 * 0.2)
    from sklearn.metrics import roc_auc_score

    assert s.overall["roc_auc"] == pytest.approx(roc_auc_score(y, prob, multi_class="ovr"))
    # class c absent: macro over the two classes whose AUC is defined
    s2 = M.score(y[:4], prob[:4], "multiclass", ["a", "b", "c"])
    a_auc = 1.0  # a vs rest: .7 .3 against .1 .2 -> every pair ordered
    b_auc = 0.75  # b: .8 .5 vs .2 .6 -> .8 beats 2, .5 beats 1 (.2) -> 3/4
    assert s2.overall["roc_auc"] == pytest.approx((a_auc + b_auc) / 2)


def test_score_multilabel_and_undefined_auc():
    y = np.array([[1, 0], [0, 0], [1, 0], [0, 0]])
    prob = np.array([[0.9, 0.1], [0.2, 0.6], [0.4, 0.2], [0.1, 0.3]])
    s = M.score(y, prob, "multilabel", ["A", "B"])
    a, b = s.per_label.set_index("label").loc["A"], s.per_label.set_index("label").loc["B"]
    assert a["accuracy"] == pytest.approx(3 / 4) and a["recall"] == pytest.approx(0.5)
    assert b["accuracy"] == pytest.approx(3 / 4)
    assert b["roc_auc"] is None or np.isnan(b["roc_auc"])  # B is never positive: AUC undefined
    assert s.overall["subset_accuracy"] == pytest.approx(2 / 4)  # rows 0 and 3 fully right
    assert s.overall["accuracy"] == pytest.approx(3 / 4)
    assert s.overall["roc_auc"] == pytest.approx(1.0)  # A only: .9,.4 vs .2,.1


def test_losses_and_top_losses():
    losses = M.sample_losses(Y8, P8, "binary")
    assert losses[3] == pytest.approx(-np.log(0.3))
    assert losses[6] == pytest.approx(-np.log(0.3))
    order = M.top_losses(Y8, P8, "binary", k=3)
    assert set(order[:2]) == {3, 6} and order[2] == 7  # -log(.45) next
    mc = M.sample_losses(np.array([2]), np.array([[0.25, 0.25, 0.5]]), "multiclass")
    assert mc[0] == pytest.approx(np.log(2))


def test_subgroup_table_by_hand():
    male = np.array([1, 1, 1, 1, 0, 0, 0, 0])
    t = M.subgroup_table(Y8, P8, "binary", {"Male": male}, {"Male": ["not Male", "Male"]})
    t = t.set_index("value")
    # Male rows 0-3: pred 1 1 1 0 vs y 1 1 1 1 -> 3/4 ; not Male rows 4-7: pred 0 0 1 1 vs 0 -> 2/4
    assert t.loc["Male", "accuracy"] == pytest.approx(0.75)
    assert t.loc["not Male", "accuracy"] == pytest.approx(0.5)
    assert t.loc["not Male", "predicted_positive_rate"] == pytest.approx(0.5)
    assert t.loc["Male", "n"] == 4


def test_markdown_and_json_helpers():
    import pandas as pd

    md = M.markdown_table(pd.DataFrame({"a": [0.5, None], "b": ["x", "y"]}))
    assert md.splitlines()[2] == "| 0.500 | x |" and "–" in md
    j = M.as_jsonable({"x": np.float32(0.5), "n": np.int64(2), "nan": float("nan"), "arr": np.eye(2)})
    assert j == {"x": 0.5, "n": 2, "nan": None, "arr": [[1.0, 0.0], [0.0, 1.0]]}


def test_per_item_accuracy_means_are_the_accuracy():
    rng = np.random.default_rng(0)
    y_ml = rng.integers(0, 2, (50, 3))
    p_ml = rng.random((50, 3))
    y_mc = rng.integers(0, 4, 50)
    p_mc = rng.dirichlet(np.ones(4), 50)
    for y, p, kind, labels in ((Y8, P8, "binary", ["A"]), (y_ml, p_ml, "multilabel", ["a", "b", "c"]),
                               (y_mc, p_mc, "multiclass", list("abcd"))):
        s = M.score(y, p, kind, labels)
        items = M.per_item_accuracy(y, p, kind)
        assert items.shape == (len(y),)
        assert items.mean() == pytest.approx(s.overall["accuracy"])
        assert s.overall["accuracy_low"] <= s.overall["accuracy"] <= s.overall["accuracy_high"]
    # by hand: row 0 gets both attributes right, row 1 one of two
    np.testing.assert_allclose(M.per_item_accuracy(np.array([[1, 0], [1, 1]]), np.array([[.7, .2], [.9, .4]]),
                                                   "multilabel"), [1.0, 0.5])


def test_bootstrap_interval_matches_the_binomial():
    # 90 of 100 right: the normal approximation gives 0.9 +- 1.96 * 0.03 = 0.841 .. 0.959
    lo, hi = M.bootstrap_interval(np.r_[np.ones(90), np.zeros(10)])
    assert lo == pytest.approx(0.841, abs=0.015) and hi == pytest.approx(0.959, abs=0.015)
    assert M.bootstrap_interval(np.ones(20)) == (1.0, 1.0)  # no variation, no interval
    assert M.bootstrap_interval(np.r_[np.ones(90), np.zeros(10)]) == (lo, hi)  # seeded
    # 4x the images: half the width
    lo4, hi4 = M.bootstrap_interval(np.r_[np.ones(360), np.zeros(40)])
    assert (hi4 - lo4) == pytest.approx((hi - lo) / 2, rel=0.15)


def test_accuracy_interval_wilson_and_bootstrap():
    # Wilson by hand, 8 of 10 right: centre (0.8 + 1.96^2/20) / (1 + 1.96^2/10) = 0.7168,
    # half-width 1.96 / 1.3842 * sqrt(0.016 + 0.00960) = 0.2265 -> 0.490 .. 0.943
    lo, hi = M.accuracy_interval(np.r_[np.ones(8), np.zeros(2)])
    assert lo == pytest.approx(0.4902, abs=1e-3) and hi == pytest.approx(0.9433, abs=1e-3)
    # all right: the interval still has width (a bootstrap would say exactly 1.0)
    lo, hi = M.accuracy_interval(np.ones(19))
    assert hi == 1.0 and lo == pytest.approx(19 / (19 + 1.96 ** 2), abs=1e-3)
    # fractional (multilabel) scores: the bootstrap
    frac = np.r_[np.full(50, 0.5), np.ones(50)]
    assert M.accuracy_interval(frac) == M.bootstrap_interval(frac)


def test_paired_difference():
    a = np.r_[np.ones(60), np.zeros(40)]
    same = M.paired_difference(a, a)
    assert same["difference"] == 0 and (same["low"], same["high"]) == (0.0, 0.0) and not same["significant"]
    # b is wrong on 10 images a gets right, never the reverse: a clear, paired win
    b = np.r_[np.ones(50), np.zeros(50)]
    d = M.paired_difference(a, b)
    assert d["difference"] == pytest.approx(0.1) and (d["wins"], d["losses"], d["n"]) == (10, 0, 100)
    assert d["significant"] and d["low"] > 0
    assert d["p"] == pytest.approx(2 * 0.5 ** 10)  # McNemar's exact test: all 10 discordant pairs one way
    # 5 wins against 4 losses is noise
    c = a.copy()
    c[:5], c[60:64] = 0, 1
    n = M.paired_difference(a, c)
    assert (n["wins"], n["losses"]) == (5, 4) and n["low"] < 0 < n["high"] and not n["significant"]
    assert n["p"] == pytest.approx(1.0)
    # 4 wins and no loss: the bootstrap interval already excludes 0, the exact test says p = 0.125
    e = a.copy()
    e[:4] = 0
    few = M.paired_difference(a, e)
    assert few["low"] > 0 and few["p"] == pytest.approx(0.125) and not few["significant"]
    # fractional (multilabel) scores: the bootstrap's p-value
    frac = M.paired_difference(np.full(100, 0.9), np.r_[np.full(50, 0.8), np.full(50, 0.9)])
    assert frac["wins"] == 50 and frac["p"] < 0.01 and frac["significant"]
    with pytest.raises(ValueError, match="same images"):
        M.paired_difference(a, a[:10])
