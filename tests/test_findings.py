"""Findings, the classification report and metric labels, on run folders written with chosen predictions.

The run folders are real (the files `facelab train` writes, read back by ``Run.load``); their
predictions are chosen so that every figure below can be checked by hand.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from facelab.evaluate.classification import classification_table, run_classification_report
from facelab.report.findings import collect_findings, finding_for, finding_markdown, load_runs
from facelab.runs import Run
from facelab.runs.labels import metric_label, metric_tiles


def write_run(folder: Path, *, kind: str, targets: list[str], classes: list[str], y: np.ndarray,
              prob: np.ndarray, split: str = "test", holdout: bool = True, model: str = "cnn") -> Path:
    """A finished run folder without weights: config, task, input, metrics, predictions."""
    folder.mkdir(parents=True)
    (folder / "config.yaml").write_text(yaml.safe_dump({"model": model}))
    (folder / "task.json").write_text(json.dumps({"kind": kind, "targets": targets, "classes": classes}))
    (folder / "input.json").write_text(json.dumps({"size": 32, "channels": 3}))
    (folder / "metrics.json").write_text(json.dumps({f"{split}_accuracy": 0.0, "holdout": holdout}))
    df = pd.DataFrame({"split": split, "row": np.arange(len(y)), "image_id": [f"{i}.jpg" for i in range(len(y))]})
    if kind == "multiclass":
        df[targets[0]] = y
    else:
        y2 = y.reshape(len(y), -1)
        for i, t in enumerate(targets):
            df[t] = y2[:, i]
    p2 = prob.reshape(len(prob), -1)
    for i, c in enumerate(classes):
        df[f"p_{c}"] = p2[:, i].astype(np.float32)
    df.to_parquet(folder / "predictions.parquet", index=False)
    return folder


def binary_run(folder: Path, target: str, right: int, n: int = 400, positives: int = 200, **kw) -> Path:
    """``n`` images, ``positives`` of them with ``target``; the first ``right`` images predicted right."""
    y = np.r_[np.ones(positives), np.zeros(n - positives)].astype(int)
    rng = np.random.default_rng(0)
    order = rng.permutation(n)
    y = y[order]
    correct = np.arange(n) < right
    prob = np.where(correct == (y == 1), 0.9, 0.1)
    return write_run(folder, kind="binary", targets=[target], classes=[target], y=y, prob=prob, **kw)


def explore_report(folder: Path, diffs: dict) -> Path:
    folder.mkdir(parents=True)
    (folder / "report.html").write_text("<html></html>")
    (folder / "explore.json").write_text(json.dumps({"kind": "explore", "mean_face_differences": diffs}))
    return folder


MALE_DIFF = {"Male": {"n_with": 180, "n_without": 220, "difference": 21.5, "baseline": 2.5, "ratio": 8.6}}


def test_supported_when_the_interval_clears_the_majority_rate(tmp_path):
    runs = tmp_path / "runs"
    binary_run(runs / "male-cnn", "Male", right=372)  # 93%
    binary_run(runs / "male-logreg", "Male", right=320, model="logreg")  # 80%
    report = explore_report(tmp_path / "explore", MALE_DIFF)
    [f] = collect_findings(runs, [report])
    assert f.subject == "Male" and f.verdict == "supported"
    assert f.classifier.run == "male-cnn" and f.classifier.accuracy == pytest.approx(0.93)
    assert f.classifier.majority == pytest.approx(0.5) and f.classifier.n == 400
    assert 0.89 < f.classifier.low < 0.93 < f.classifier.high < 0.96  # Wilson, by hand: 0.900–0.951
    assert [o.run for o in f.others] == ["male-logreg"]
    assert f.mean_face.visible and f.mean_face.ratio == 8.6
    assert "men and women" in f.question.lower() or "men" in f.question
    md = finding_markdown(f)
    assert "93.0%" in md and "held-out" in md and "8.6×" in md and "supported" in md
    assert not f.missing


def test_not_supported_and_inconclusive(tmp_path):
    runs = tmp_path / "runs"
    # 300 of 400 have the attribute: always answering "yes" scores 75%
    binary_run(runs / "weak", "Smiling", right=260, positives=300)  # 65%: below the majority rate
    f = finding_for("Smiling", runs=load_runs(runs), reports=[])
    assert f.verdict == "not supported" and f.classifier.majority == pytest.approx(0.75)
    assert f.missing == ["facelab explore DATA"]
    binary_run(runs / "close", "Eyeglasses", right=308, positives=300)  # 77%: interval spans 75%
    f = finding_for("Eyeglasses", runs=load_runs(runs), reports=[])
    assert f.verdict == "inconclusive" and f.classifier.low < 0.75 < f.classifier.high
    assert not f.classifier.one_answer and not f.notes
    y = np.r_[np.ones(300), np.zeros(100)].astype(int)  # always "yes": 75%, the majority rate exactly
    write_run(runs / "yes-man", kind="binary", targets=["Young"], classes=["Young"], y=y, prob=np.full(400, 0.8))
    f = finding_for("Young", runs=load_runs(runs), reports=[])
    assert f.classifier.one_answer and "degenerate" in f.notes[0] and f.verdict != "supported"
    # training's own verdict (metrics.json "degenerate", runs/degenerate.py) is named too
    chance = binary_run(runs / "chance", "Bald", right=200)
    (chance / "metrics.json").write_text(json.dumps({"test_accuracy": 0.5, "holdout": True,
                                                    "degenerate": "no better than chance on validation"}))
    f = finding_for("Bald", runs=load_runs(runs), reports=[])
    assert not f.classifier.one_answer and "no better than chance on validation" in " ".join(f.notes)


def test_not_enough_evidence(tmp_path):
    f = finding_for("Male", runs=[], reports=[])
    assert f.verdict == "not enough evidence" and f.classifier is None
    assert "facelab train DATA --target Male" in f.missing and "untested" in f.answer
    assert "Not enough evidence" in finding_markdown(f)
    # validated on images it trained on: not counted
    binary_run(tmp_path / "runs" / "leaky", "Male", right=390, split="val", holdout=False)
    f = finding_for("Male", runs=load_runs(tmp_path / "runs"), reports=[])
    assert f.verdict == "not enough evidence" and "optimistic" in f.notes[0]
    # an explore report alone gives a subject, but no answer
    report = explore_report(tmp_path / "explore", MALE_DIFF)
    [f] = collect_findings(tmp_path / "nothing", [report])
    assert f.verdict == "not enough evidence" and f.mean_face is not None
    assert collect_findings(tmp_path / "nothing", []) == []


def test_multilabel_run_answers_each_attribute_and_multiclass_per_class(tmp_path):
    runs = tmp_path / "runs"
    y = np.array([[1, 0]] * 50 + [[0, 1]] * 50)
    prob = np.where(y == 1, 0.8, 0.2).astype(float)
    prob[:10, 1] = 0.9  # 10 wrong on the second attribute
    write_run(runs / "attrs", kind="multilabel", targets=["Male", "Young"], classes=["Male", "Young"], y=y,
              prob=prob)
    yc = np.array([0] * 60 + [1] * 30 + [2] * 10)
    pc = np.zeros((100, 3))
    pc[np.arange(100), yc] = 1.0
    pc[90:, :] = [1.0, 0, 0]  # the 10 images of the last class: all taken for the first
    write_run(runs / "emo", kind="multiclass", targets=["emotion"], classes=["happy", "sad", "angry"], y=yc,
              prob=pc)
    found = {f.subject: f for f in collect_findings(runs, [])}
    assert set(found) == {"Male", "Young", "emotion"}
    assert found["Male"].classifier.accuracy == 1.0 and found["Young"].classifier.accuracy == pytest.approx(0.9)
    emo = found["emotion"]
    assert emo.kind == "multiclass" and emo.verdict == "supported" and emo.classifier.majority == pytest.approx(0.6)
    assert emo.classifier.per_class["accuracy"].tolist() == [1.0, 1.0, 0.0]
    assert any("angry" in n for n in emo.notes)


def test_classification_table_by_hand():
    t = classification_table(np.array([1, 1, 1, 0, 0]), np.array([0.9, 0.8, 0.1, 0.6, 0.2]), "binary", ["Smiling"])
    row = t.iloc[0]
    assert row["class"] == "Smiling" and (row.TP, row.FN, row.FP, row.TN, row.support) == (2, 1, 1, 1, 3)
    assert row.precision == pytest.approx(2 / 3) and row.recall == pytest.approx(2 / 3)
    assert t.iloc[1]["class"] == "not Smiling" and t.iloc[1].TP == 1
    m = classification_table(np.array([0, 1, 2, 2]), np.eye(3)[[0, 2, 2, 1]], "multiclass", ["a", "b", "c"])
    assert m.set_index("class").loc["c", ["TP", "FN", "FP", "TN"]].tolist() == [1, 1, 1, 1]
    ml = classification_table(np.array([[1, 0], [0, 0]]), np.array([[0.9, 0.7], [0.2, 0.1]]), "multilabel", ["A", "B"])
    assert ml["class"].tolist() == ["A", "B"] and ml.set_index("class").loc["B", "FP"] == 1


def test_run_classification_report_flags_a_model_that_predicts_one_class(tmp_path):
    folder = binary_run(tmp_path / "r", "Smiling", right=200)  # 50%
    rep = run_classification_report(Run.load(folder))
    assert rep.split == "test" and rep.n == 400 and rep.held_out and rep.never_predicted == []
    y = np.r_[np.ones(30), np.zeros(70)].astype(int)
    one = write_run(tmp_path / "one", kind="binary", targets=["Smiling"], classes=["Smiling"], y=y,
                    prob=np.full(100, 0.1), split="val")
    rep = run_classification_report(Run.load(one))
    assert rep.split == "val" and rep.never_predicted == ["Smiling"]
    assert rep.table.set_index("class").loc["Smiling", ["TP", "FN", "FP", "TN"]].tolist() == [0, 30, 0, 70]


def test_metric_labels_in_words():
    assert metric_label("val_accuracy_low") == "val accuracy, 95% CI low"
    assert metric_label("test.balanced_accuracy") == "test balanced accuracy"
    assert metric_label("something_new") == "something new"
    tiles = metric_tiles({"val_loss": 0.3, "test_accuracy": 0.8, "val_accuracy": 0.9, "val_accuracy_low": 0.85,
                          "val_accuracy_high": 0.94})
    assert [t.label for t in tiles] == ["val accuracy (95% CI)", "test accuracy", "val loss (cross-entropy)"]
    assert tiles[0].value == "0.900 (0.850–0.940)"
    assert not any("_" in t.label for t in tiles)


def test_mean_face_contrast_is_near_one_for_random_groups_and_large_for_real_ones():
    from facelab.explore.contrast import mean_face_contrasts

    rng = np.random.default_rng(1)
    imgs = rng.normal(120, 40, (3000, 8, 8, 3)).clip(0, 255).astype(np.uint8)
    y = rng.integers(0, 2, 3000)
    imgs[y == 1, 2:5, 2:6] = np.clip(imgs[y == 1, 2:5, 2:6].astype(int) + 60, 0, 255)  # a "mouth" patch
    table = pd.DataFrame({"real": y, "random": rng.integers(0, 2, 3000), "rare": (rng.random(3000) < 0.05)})
    c = mean_face_contrasts(imgs, table, ["real", "random", "rare", "absent"])
    assert set(c) == {"real", "random", "rare"}
    assert 0.8 < c["random"]["ratio"] < 1.25 and 0.7 < c["rare"]["ratio"] < 1.4  # chance: close to 1
    assert c["real"]["ratio"] > 5 and c["real"]["difference"] == pytest.approx(60 * 12 / 64, rel=0.1)


def test_check_photo_matches_faces_by_position():
    from facelab.faces.detect import FaceBox
    from facelab.predict.check import check_photo
    from facelab.predict.results import FaceResult, PhotoResult

    left = FaceResult(0, FaceBox(80, 100, 200, 260, 1.0), {"Smiling": 0.9}, ["Smiling"])
    right = FaceResult(1, FaceBox(360, 100, 200, 260, 1.0), {"Smiling": 0.3}, [])
    photo = PhotoResult("two.jpg", 640, 480, [right, left])
    c = check_photo(photo, [({"Smiling": 1}, 180, 230), ({"Smiling": 0}, 460, 230)], ["Smiling"])
    assert c.ok and len(c.right) == 2
    c = check_photo(photo, [({"Smiling": 0}, 180, 230)], ["Smiling"])
    assert not c.ok and c.wrong == ["Smiling: expected no, the model says 0.90"]
    assert not check_photo(PhotoResult("none.jpg", 640, 480, []), [({"Smiling": 1}, 100, 100)], ["Smiling"]).ok
    assert not check_photo(photo, [({"Male": 1}, 180, 230)], ["Smiling"]).checked  # nothing to compare
    emo = FaceResult(0, FaceBox(80, 100, 200, 260, 1.0), {"happy": 0.8, "sad": 0.2}, ["happy"])
    assert check_photo(PhotoResult("e.jpg", 640, 480, [emo]), [({"emotion": "happy"}, 180, 230)], ["happy", "sad"],
                       targets=["emotion"]).ok
