"""explore: hand-checked statistics, bad input, and the report end to end on generated data."""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from facelab.data.manifest import LabelInfo, Manifest
from facelab.data.prepared import PreparedDataset
from facelab.explore.logreg import attribute_models
from facelab.explore.stats import attribute_stats, exclusive_pairs, mean_images, pixel_stats, strongest_pairs


def make_cache(folder: Path, images: np.ndarray, table: pd.DataFrame, labels: dict, attributes=()) -> PreparedDataset:
    """A prepared cache written by hand in the documented format (data/prepared.py)."""
    folder.mkdir(parents=True, exist_ok=True)
    n, s, _, c = images.shape
    table = table.copy()
    table.insert(0, "image_id", [f"{i:05d}.png" for i in range(n)])
    table.insert(1, "path", [str(folder / f"{i:05d}.png") for i in range(n)])
    if "split" not in table:
        table.insert(2, "split", np.where(np.arange(n) % 10 == 0, "test", "train"))
    Manifest(table, folder, "folder", labels, list(attributes)).save(folder)
    images.astype(np.uint8).tofile(folder / "images.u8")
    meta = {"format": 1, "n": n, "size": s, "channels": c, "grey": c == 1, "crop": "square",
            "crop_box": [0, 0, 1, 1], "source_size": [s, s], "source": {"root": str(folder), "layout": "folder"},
            "complete": True}
    (folder / "meta.json").write_text(json.dumps(meta))
    return PreparedDataset.open(folder)


# -- statistics, checked by hand -----------------------------------------------------------------------
def test_conditional_probability_table_by_hand():
    # rows:      A  B  C
    X = np.array([[1, 1, 0],
                  [1, 0, 0],
                  [0, 1, 1],
                  [1, 1, 1],
                  [0, 0, 1]])
    st = attribute_stats(X, ["A", "B", "C"])
    # B occurs in rows 0, 2, 3; A in rows 0, 1, 3 -> A and B together in rows 0, 3
    assert st.counts.tolist() == [[3, 2, 1], [2, 3, 2], [1, 2, 3]]
    assert st.cond[0, 1] == pytest.approx(2 / 3)  # P(A | B)
    assert st.cond[2, 0] == pytest.approx(1 / 3)  # P(C | A): only row 3 of A's rows 0, 1, 3
    assert st.cond[1, 2] == pytest.approx(2 / 3)  # P(B | C): rows 2, 3 of C's rows 2, 3, 4
    assert np.allclose(np.diag(st.cond), 1)
    assert np.allclose(st.corr, np.corrcoef(X.T.astype(float)))
    assert st.prevalence.tolist() == pytest.approx([0.6, 0.6, 0.6])


def test_constant_attributes_are_reported_and_excluded():
    rng = np.random.default_rng(0)
    X = np.c_[rng.integers(0, 2, 50), np.ones(50, int), rng.integers(0, 2, 50), np.zeros(50, int)]
    st = attribute_stats(X, ["a", "always", "b", "never"])
    assert st.constant == {"always": 1, "never": 0}
    assert st.names == ["a", "b"]
    assert np.isfinite(st.corr).all() and np.isfinite(st.cond).all()


def test_pairs_in_words():
    rng = np.random.default_rng(1)
    male = rng.integers(0, 2, 2000)
    beard = male * (rng.random(2000) < 0.6)           # only men have beards
    lipstick = (1 - male) * (rng.random(2000) < 0.7)  # only women wear lipstick
    noise = rng.integers(0, 2, 2000)
    st = attribute_stats(np.c_[male, beard, lipstick, noise], ["Male", "Beard", "Lipstick", "Noise"])
    pos, neg = strongest_pairs(st, 2)
    assert {pos[0].a, pos[0].b} == {"Male", "Beard"} and pos[0].value > 0.5
    assert {neg[0].a, neg[0].b} == {"Male", "Lipstick"} and "rarely" in neg[0].text
    exc = exclusive_pairs(st, 3)
    pairs = [{p.a, p.b} for p in exc]
    assert {"Male", "Lipstick"} in pairs and {"Beard", "Lipstick"} in pairs
    assert {"Male", "Noise"} not in pairs  # independent attributes are not "exclusive"


def test_logistic_regression_finds_the_implied_attribute():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 2, 800)
    X = np.c_[a, a, rng.integers(0, 2, 800)]
    res = attribute_models(X, ["A", "A_copy", "noise"])
    assert res[0].accuracy == 1.0 and res[0].f1 == 1.0
    assert res[0].top[0][0] == "A_copy" and res[0].top[0][1] > 0
    assert 0.3 < res[2].accuracy < 0.7  # noise cannot be predicted


def test_pixel_stats_and_mean_images():
    imgs = np.zeros((4, 2, 2, 1), np.uint8)
    imgs[:2] = 100
    imgs[2:] = 200
    ps = pixel_stats(imgs, chunk=3)  # chunk smaller than n: the chunked sums must still add up
    assert ps.channel_mean == [150.0] and ps.channel_std == [50.0]
    m = mean_images(imgs, np.array([0, 0, 1, 1]), chunk=3)
    assert m[0].mean() == 100 and m[1].mean() == 200


# -- the report -------------------------------------------------------------------------------------------
def _figures_embedded(rep) -> None:
    html = rep.html_path.read_text()
    assert len(re.findall(r'src="data:image/png;base64,', html)) == len(rep.figures) > 0
    for p in rep.figures:
        assert p.is_file() and p.stat().st_size > 500
    assert "nan" not in json.loads((rep.out / "explore.json").read_text())["strongest"].__repr__().lower()


def test_explore_synthetic_celeba_source(synth_celeba, tmp_path):
    from facelab.explore.report import explore

    rep = explore(synth_celeba, out=tmp_path / "rep", sample=200, progress=False, tsne_sample=150, ks=[2, 3, 4])
    _figures_embedded(rep)
    attr_rows = (synth_celeba / "list_attr_celeba.txt").read_text().splitlines()
    assert rep.label_rows == int(attr_rows[0])  # every label row, not only those with images
    assert rep.images == 200
    names = {p.stem for p in rep.figures}
    assert {"attr_correlation", "attr_conditional", "mean_attributes", "grid_attributes",
            "attr_cluster_means", "attr_cluster_distances", "attr_cluster_k", "attr_regression_f1"} <= names
    assert rep.attribute_clusters["k"] in (2, 3, 4) and rep.attribute_clusters["descriptions"]
    assert len(rep.models) >= 2 and all(0 <= m["F1"] <= 1 for m in rep.models)
    html = rep.html_path.read_text()
    assert "random sample" in html and "t-SNE on a random sample of 150" in html
    # the numbers behind the mean faces and the matrices are saved for the dashboard
    saved = json.loads((rep.out / "explore.json").read_text())
    mf = saved["mean_face_differences"]
    assert "Male" in mf and mf["Male"]["n_with"] + mf["Male"]["n_without"] == 200
    assert all(v["difference"] > 0 and v["baseline"] > 0 for v in mf.values())
    stats = saved["attribute_statistics"]
    k = len(stats["names"])
    assert k >= 2 and len(stats["prevalence"]) == k and len(stats["correlation"]) == k == len(stats["conditional"][0])


def test_explore_prepared_fer_classes(prepared_fer, tmp_path):
    from facelab.explore.report import explore

    rep = explore(prepared_fer, out=tmp_path / "fer", progress=False)
    _figures_embedded(rep)
    names = {p.stem for p in rep.figures}
    assert {"grid_emotion", "mean_emotion", "balance_emotion", "split_counts", "pixel_mean_std"} <= names
    assert any("attribute statistics" in s for s in rep.skipped)  # classes, not attributes: said, not hidden
    assert "Skipped:" in rep.html_path.read_text()


def test_explore_without_labels(tmp_path):
    from facelab.explore.report import explore

    rng = np.random.default_rng(0)
    ds = make_cache(tmp_path / "c", rng.integers(0, 255, (30, 16, 16, 3)), pd.DataFrame(index=range(30)), {})
    rep = explore(ds, out=tmp_path / "r", progress=False)
    assert any("no labels" in s for s in rep.skipped)
    assert "has no labels" in rep.html_path.read_text()
    assert {"grid_random", "pixel_mean_std"} <= {p.stem for p in rep.figures}


def test_explore_single_class_and_constant_attribute(tmp_path):
    from facelab.explore.report import explore

    rng = np.random.default_rng(0)
    n = 40
    table = pd.DataFrame({"label": np.zeros(n, np.int16), "Hat": rng.integers(0, 2, n).astype(np.int8),
                          "Glasses": rng.integers(0, 2, n).astype(np.int8), "Bald": np.zeros(n, np.int8)})
    labels = {"label": LabelInfo("label", "multiclass", ["only"]), **{a: LabelInfo.binary(a) for a in ("Hat", "Glasses", "Bald")}}
    ds = make_cache(tmp_path / "c", rng.integers(0, 255, (n, 16, 16, 1)), table, labels, ["Hat", "Glasses", "Bald"])
    rep = explore(ds, out=tmp_path / "r", progress=False, tsne_sample=0, ks=[2, 3, 100])
    assert rep.constant_attributes == {"Bald": 0}
    html = rep.html_path.read_text()
    assert "single class" in html and "Bald = 0" in html
    assert "k = 100 dropped" in html  # k larger than the number of rows: said, not crashed
    assert all("Bald" not in s for s in rep.strongest + rep.opposite)


def test_explore_missing_path_is_a_data_error(tmp_path):
    from facelab.errors import DataError
    from facelab.explore.report import explore

    with pytest.raises(DataError, match="does not exist"):
        explore(tmp_path / "nope", progress=False)


def test_cli_explore(prepared_fer, tmp_path, capsys):
    from facelab.cli.main import main

    main(["explore", str(prepared_fer.path), "--out", str(tmp_path / "cli")])
    out = capsys.readouterr().out
    assert "report:" in out and (tmp_path / "cli" / "report.html").is_file()


def test_explore_synthetic_for_the_demo(tmp_path):
    from facelab.explore.report import explore_synthetic

    rep = explore_synthetic(tmp_path / "demo", n=120)
    assert rep.html_path.is_file() and rep.name == "synthetic-celeba" and rep.label_rows == 120
