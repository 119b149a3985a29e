"""evaluate(): hand-checked numbers on a tiny cache, the files it writes, fallbacks and errors."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from facelab.data.manifest import LabelInfo, Manifest
from facelab.data.prepared import open_prepared
from facelab.errors import DataError
from facelab.evaluate.report import evaluate, predict_split
from facelab.runs import Run
from facelab.runs.task import Task

# the eight test predictions of tests/test_metrics.py, worked by hand there:
# accuracy 5/8, precision 3/5, recall 3/4, confusion [[2, 2], [1, 3]]
Y8 = np.array([1, 1, 1, 1, 0, 0, 0, 0])
P8 = np.array([0.95, 0.8, 0.6, 0.3, 0.1, 0.4, 0.7, 0.55])
MALE = np.array([1, 1, 1, 1, 0, 0, 0, 0])


def make_cache(folder, *, splits, smiling, male, young=None, emotion=None, size=8, channels=3, offset=0):
    """A prepared cache written by hand: image i is filled with the value i (so a fake run can
    look its prediction up from the pixels)."""
    n = len(splits)
    folder.mkdir(parents=True, exist_ok=True)
    imgs = np.memmap(folder / "images.u8", dtype=np.uint8, mode="w+", shape=(n, size, size, channels))
    for i in range(n):
        imgs[i] = i + offset
    imgs.flush()
    table = pd.DataFrame({"image_id": [f"{i:03d}.jpg" for i in range(n)], "path": [f"/x/{i}.jpg" for i in range(n)],
                          "split": splits, "Smiling": np.asarray(smiling, np.int8), "Male": np.asarray(male, np.int8)})
    labels = {"Smiling": LabelInfo.binary("Smiling"), "Male": LabelInfo.binary("Male")}
    if young is not None:
        table["Young"] = np.asarray(young, np.int8)
        labels["Young"] = LabelInfo.binary("Young")
    if emotion is not None:
        table["emotion"] = np.asarray(emotion, np.int16)
        labels["emotion"] = LabelInfo("emotion", "multiclass", ["angry", "happy", "sad"])
    Manifest(table, folder, "celeba-official", labels, [k for k, v in labels.items() if v.kind == "binary"]).save(folder)
    meta = {"format": 1, "n": n, "size": size, "channels": channels, "grey": channels == 1, "crop": "square",
            "crop_box": [0, 0, 1, 1], "source_size": [178, 218], "source": {"root": str(folder)},
            "options": {}, "skipped": {}, "complete": True}
    (folder / "meta.json").write_text(json.dumps(meta))
    return folder


class TableRun(Run):
    """A run whose probabilities come from a table indexed by the image's pixel value."""

    def __init__(self, path, data, task, probs, size=8, channels=3):
        path.mkdir(parents=True, exist_ok=True)
        super().__init__(path, {"model": "fake", "data": str(data)}, task,
                         {"size": size, "channels": channels}, {}, {})
        self.probs = np.asarray(probs, np.float32)

    def predict_proba(self, x):
        return self.probs[np.asarray(x)[:, 0, 0, 0].astype(int)].reshape(len(x), -1)

    def split(self):
        raise FileNotFoundError  # like a run without split.json (only RunError is expected)


@pytest.fixture()
def binary_case(tmp_path):
    # rows 0-7 train (ignored), rows 8-15 the hand-checked test case
    cache = make_cache(tmp_path / "cache", splits=["train"] * 8 + ["test"] * 8,
                       smiling=np.r_[Y8, Y8], male=np.r_[MALE, MALE], young=np.r_[1 - MALE, np.ones(8)])
    probs = np.r_[np.full(8, 0.5), P8].reshape(-1, 1)
    run = TableRun(tmp_path / "runs" / "fake-Smiling", cache, Task("binary", ["Smiling"], ["Smiling"]), probs)
    run.split = lambda: {"train": list(range(8)), "val": []}
    return run, cache


def test_binary_numbers_match_the_hand_computed_ones(binary_case):
    run, _ = binary_case
    rep = evaluate(run, progress=False)
    o = rep.overall
    assert rep.n == 8 and rep.split == "test"
    assert o["accuracy"] == pytest.approx(5 / 8)
    assert o["precision"] == pytest.approx(3 / 5) and o["recall"] == pytest.approx(3 / 4)
    assert o["balanced_accuracy"] == pytest.approx(0.625) and o["roc_auc"] == pytest.approx(12 / 16)
    ece = (3 / 8 * abs(2 / 3 - (0.6 + 0.6 + 0.55) / 3) + 2 / 8 * 0.7 + 1 / 8 * 0.2 + 1 / 8 * 0.1 + 1 / 8 * 0.05)
    assert o["ece"] == pytest.approx(ece, rel=1e-5)
    assert rep.confusion["Smiling"].tolist() == [[2, 2], [1, 3]]
    sub = rep.subgroups.set_index(["group", "value"])
    assert sub.loc[("Male", "Male"), "accuracy"] == pytest.approx(0.75)
    assert sub.loc[("Male", "not Male"), "accuracy"] == pytest.approx(0.5)
    assert sub.loc[("Young", "Young"), "n"] == 8  # every test row is Young
    # files
    out = run.path / "eval" / "test"
    assert rep.out == out
    for f in ("metrics.json", "report.md", "per_attribute.csv", "per_attribute.md", "subgroups.csv",
              "subgroups.md", "confusion.png", "reliability.png", "top_losses.png"):
        assert (out / f).is_file() and (out / f).stat().st_size > 0, f
    saved = json.loads((out / "metrics.json").read_text())
    assert saved["overall"]["accuracy"] == pytest.approx(5 / 8) and saved["confusion"]["Smiling"] == [[2, 2], [1, 3]]
    assert "accuracy 0.625" in rep.summary() and "not Male 0.500 (n=4), Male 0.750 (n=4)" in rep.summary()
    assert "| Smiling |" in (out / "per_attribute.md").read_text()


def test_groups_option_and_bad_group(binary_case):
    run, _ = binary_case
    rep = evaluate(run, groups="Male", progress=False)
    assert set(rep.subgroups["group"]) == {"Male"}
    with pytest.raises(DataError, match="no group column"):
        evaluate(run, groups="Pale_Skin", progress=False)


def test_images_the_run_trained_on_are_flagged(binary_case, tmp_path):
    run, cache = binary_case  # trained on rows 0-7 (split.json), tested on rows 8-15
    rep = evaluate(run, split="train", progress=False)
    assert any(n.startswith("8 of these 8 images are ones the run trained on") for n in rep.notes)
    assert not any("trained on" in n for n in evaluate(run, progress=False).notes)
    run.split = lambda: {"train": list(range(8)), "val": [4, 5, 6, 7]}  # a run too small to hold any out
    rep = evaluate(run, split="val", progress=False)
    assert rep.n == 4 and any(n.startswith("4 of these 4 images are ones the run trained on") for n in rep.notes)
    # another cache of the same source (the same images at another size) is matched by image id
    other = make_cache(tmp_path / "same-source-16", splits=["train"] * 8 + ["test"] * 8, smiling=np.r_[Y8, Y8],
                       male=np.r_[MALE, MALE], young=np.r_[1 - MALE, np.ones(8)], size=16)
    assert run.trained_on(open_prepared(other), np.arange(16)) == 0  # another source: nothing in common
    m = Manifest.load(other)
    m.root = Manifest.load(cache).root
    m.save(other)
    assert run.trained_on(open_prepared(other), np.arange(16)) == 8
    assert run.trained_on(open_prepared(other), np.arange(8, 16)) == 0


def test_empty_test_split_falls_back_to_val(tmp_path):
    cache = make_cache(tmp_path / "c", splits=["train"] * 8 + ["val"] * 8, smiling=np.r_[Y8, Y8],
                       male=np.r_[MALE, MALE])
    run = TableRun(tmp_path / "runs" / "r", cache, Task("binary", ["Smiling"], ["Smiling"]),
                   np.r_[np.full(8, 0.5), P8])
    run.split = lambda: {"train": list(range(8)), "val": list(range(8, 16))}
    rep = evaluate(run, progress=False)
    assert rep.split == "val" and rep.overall["accuracy"] == pytest.approx(5 / 8)
    assert any("empty" in n for n in rep.notes) and (run.path / "eval" / "val").is_dir()


def test_other_data_and_geometry_checks(binary_case, tmp_path):
    run, _ = binary_case
    other = make_cache(tmp_path / "other64", splits=["test"] * 8, smiling=Y8, male=MALE, size=16, offset=8)
    rep = evaluate(run, data=other, progress=False)  # resized 16 → 8 on the fly (values preserved)
    assert rep.out.name == "test-other64" and rep.overall["accuracy"] == pytest.approx(5 / 8)
    assert any("resized" in n for n in rep.notes)
    grey = make_cache(tmp_path / "grey", splits=["test"] * 8, smiling=Y8, male=MALE, channels=1)
    with pytest.raises(DataError, match="channel"):
        evaluate(run, data=grey, progress=False)
    nolabel = make_cache(tmp_path / "nl", splits=["test"] * 8, smiling=Y8, male=MALE)
    run2 = TableRun(tmp_path / "runs" / "r2", nolabel, Task("binary", ["Eyeglasses"], ["Eyeglasses"]), P8)
    with pytest.raises(DataError, match="Eyeglasses"):
        evaluate(run2, progress=False)
    with pytest.raises(DataError, match="split"):
        predict_split(run, split="holdout", progress=False)


def test_multiclass_and_multilabel(tmp_path):
    emo = np.array([0, 0, 1, 1, 2, 2])
    prob = np.array([[0.7, 0.2, 0.1], [0.3, 0.6, 0.1], [0.1, 0.8, 0.1],
                     [0.2, 0.5, 0.3], [0.1, 0.1, 0.8], [0.5, 0.1, 0.4]])
    cache = make_cache(tmp_path / "fer", splits=["test"] * 6, smiling=[0] * 6, male=[0, 1] * 3, emotion=emo)
    run = TableRun(tmp_path / "runs" / "emo", cache, Task("multiclass", ["emotion"], ["angry", "happy", "sad"]), prob)
    rep = evaluate(run, progress=False)
    assert rep.overall["accuracy"] == pytest.approx(4 / 6)
    assert rep.confusion["all"].tolist() == [[1, 1, 0], [0, 2, 0], [1, 0, 1]]
    assert list(rep.per_label["label"]) == ["angry", "happy", "sad"]
    assert "angry" in rep.classification_report

    y = np.array([[1, 0], [0, 0], [1, 0], [0, 1]])
    p = np.array([[0.9, 0.1], [0.2, 0.6], [0.4, 0.2], [0.1, 0.3]])
    cache2 = make_cache(tmp_path / "ml", splits=["test"] * 4, smiling=y[:, 0], male=y[:, 1])
    run2 = TableRun(tmp_path / "runs" / "ml", cache2, Task("multilabel", ["Smiling", "Male"], ["Smiling", "Male"]), p)
    rep2 = evaluate(run2, groups=[], progress=False)
    assert rep2.overall["subset_accuracy"] == pytest.approx(1 / 4)  # only row 0 is right on both
    table = pd.read_csv(rep2.out / "per_attribute.csv")
    assert table.set_index("label").loc["Smiling", "accuracy"] == pytest.approx(3 / 4)
    assert table.set_index("label").loc["Male", "recall"] == pytest.approx(0.0)
