"""cluster: known-answer matching, sweeps, features, bad input and the report end to end."""
from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest

from facelab.cluster.features import extract
from facelab.report.sweep import kmeans_sweep, match_labels, parse_ints, valid_ks
from facelab.data.manifest import LabelInfo
from facelab.errors import ConfigError, RunError

from test_explore import make_cache  # tests/ is on sys.path (pytest rootdir, no package)


def test_well_separated_blobs_are_recovered_exactly():
    from sklearn.datasets import make_blobs

    X, y = make_blobs(600, centers=4, n_features=5, cluster_std=0.4, random_state=3)
    sw = kmeans_sweep(X, range(2, 8), silhouette_sample=300)
    assert sw.chosen_k == 4 and "highest silhouette" in sw.reason
    m = match_labels(y, sw.labels)
    assert m.method == "hungarian"
    assert m.accuracy == 1.0 and m.ari == pytest.approx(1.0) and m.nmi == pytest.approx(1.0)
    assert np.trace(m.confusion) == 600


def test_matching_by_hand_hungarian_and_majority():
    y = np.array([0, 0, 0, 1, 1, 1, 2, 2])
    c = np.array([2, 2, 1, 0, 0, 0, 1, 1])  # cluster 2 -> class 0, 0 -> 1, 1 -> 2 (one row wrong)
    m = match_labels(y, c)
    assert m.mapping == {0: 1, 1: 2, 2: 0}
    assert m.accuracy == pytest.approx(7 / 8)
    assert m.majority_baseline == pytest.approx(3 / 8)
    # more clusters than classes: each cluster goes to its majority class
    c4 = np.array([0, 0, 3, 1, 1, 1, 2, 2])
    m4 = match_labels(y, c4, 3)
    assert m4.method == "majority" and m4.mapping[3] == 0 and m4.accuracy == 1.0
    assert m4.contingency.shape == (4, 3)


def test_k_larger_than_samples():
    assert valid_ks([2, 3, 50], 10) == ([2, 3], ["k = 50 dropped: k must be at least 2 and smaller than the number of samples (10)."])
    with pytest.raises(ConfigError, match="no usable k"):
        valid_ks([20, 30], 10)


def test_parse_ints():
    assert parse_ints("5-7,10") == [5, 6, 7, 10]
    with pytest.raises(ConfigError):
        parse_ints("five")


def test_features_shapes():
    imgs = np.random.default_rng(0).integers(0, 255, (3, 48, 48, 3), dtype=np.uint8)
    assert extract(imgs, "pixels").X.shape == (3, 48 * 48 * 3)
    hog = extract(imgs, "hog").X
    assert hog.shape == (3, 900) and np.isfinite(hog).all()
    with pytest.raises(ConfigError, match="unknown features"):
        extract(imgs, "sift")


def _blob_cache(tmp_path, n_per=30, classes=3):
    """Three classes of 16x16 grey images: dark, mid and bright with a little noise."""
    rng = np.random.default_rng(0)
    levels = np.linspace(30, 220, classes)
    imgs = np.concatenate([np.clip(rng.normal(lv, 8, (n_per, 16, 16, 1)), 0, 255) for lv in levels])
    y = np.repeat(np.arange(classes), n_per).astype(np.int16)
    labels = {"label": LabelInfo("label", "multiclass", [f"c{i}" for i in range(classes)])}
    return make_cache(tmp_path / "blobs", imgs, pd.DataFrame({"label": y}), labels)


def test_cluster_known_answer_end_to_end(tmp_path):
    from facelab.cluster.report import cluster

    ds = _blob_cache(tmp_path)
    rep = cluster(ds, features="pixels", k=[2, 3, 4, 5], components=(2, 5), out=tmp_path / "r", progress=False,
                  tsne_sample=60)
    assert rep.chosen["k"] == 3
    assert rep.matching["accuracy"] == 1.0 and rep.matching["ari"] == pytest.approx(1.0)
    assert rep.matching_at_classes["method"] == "hungarian"
    assert set(rep.reducers) == {"PCA", "TruncatedSVD"}
    assert len(rep.sweep) == 8 and sum(rep.sizes) == 90
    html = rep.html_path.read_text()
    assert len(re.findall(r"data:image/png;base64,", html)) >= 7
    for name in ("sweep_silhouette", "sweep_inertia", "embedding_clusters", "embedding_labels", "nearest_images", "confusion"):
        assert (rep.out / f"{name}.png").is_file()
    saved = json.loads(rep.json_path.read_text())
    assert saved["matching"]["accuracy"] == 1.0 and saved["chosen"]["k"] == 3
    assert "sample of" in html  # silhouette and t-SNE samples are stated


def test_cluster_equal_classes_and_sample(tmp_path):
    from facelab.cluster.report import cluster

    rng = np.random.default_rng(1)
    imgs = rng.integers(0, 255, (70, 16, 16, 1))
    y = np.r_[np.zeros(50), np.ones(20)].astype(np.int16)
    ds = make_cache(tmp_path / "c", imgs, pd.DataFrame({"label": y}),
                    {"label": LabelInfo("label", "multiclass", ["a", "b"])})
    rep = cluster(ds, features="hog", k=[2, 3], components=(4,), per_class=15, out=tmp_path / "r",
                  progress=False, tsne_sample=20)
    assert rep.n == 30 and any("Equal classes" in n for n in rep.notes)
    assert rep.matching["method"] == ("majority" if rep.chosen["k"] > 2 else "hungarian")
    assert np.asarray(rep.matching["contingency"]).sum(axis=0).tolist() == [15, 15]  # equal classes
    rep2 = cluster(ds, features="pixels", k=[2], components=(3,), sample=25, out=tmp_path / "r2", progress=False,
                   tsne_sample=20)
    assert rep2.n == 25
    rep3 = cluster(ds, features="pixels", k=[2], components=(3,), split="test", per_class=3, out=tmp_path / "r3",
                   progress=False, tsne_sample=20)
    assert rep3.n == 5  # test rows are every 10th: 5 of class a, 2 of class b -> 3 + 2
    with pytest.raises(ConfigError, match="no images in split"):
        cluster(ds, split="holdout", progress=False, out=tmp_path / "r4")


def test_cluster_without_labels_and_single_class(tmp_path):
    from facelab.cluster.report import cluster

    rng = np.random.default_rng(2)
    ds = make_cache(tmp_path / "n", rng.integers(0, 255, (20, 16, 16, 3)), pd.DataFrame(index=range(20)), {})
    rep = cluster(ds, features="pixels", k=[2, 3, 40], components=(3,), out=tmp_path / "r", progress=False, tsne_sample=20)
    assert rep.matching is None and any("No class label" in n for n in rep.notes)
    assert any("k = 40 dropped" in n for n in rep.notes)
    assert "Skipped:" in rep.html_path.read_text()
    one = make_cache(tmp_path / "o", rng.integers(0, 255, (20, 16, 16, 1)), pd.DataFrame({"label": np.zeros(20, np.int16)}),
                     {"label": LabelInfo("label", "multiclass", ["only"])})
    rep1 = cluster(one, features="pixels", k=[2], components=(3,), out=tmp_path / "r1", progress=False, tsne_sample=20)
    assert rep1.matching["method"] == "majority" and rep1.matching["accuracy"] == 1.0


def test_cluster_bad_input(tmp_path):
    from facelab.cluster.report import cluster

    ds = _blob_cache(tmp_path, n_per=4)
    with pytest.raises(ConfigError, match="unknown features"):
        cluster(ds, features="colour", progress=False)
    with pytest.raises(RunError):
        cluster(ds, features="run:no-such-run", progress=False)
    with pytest.raises(ConfigError, match="no usable k"):
        cluster(ds, features="pixels", k=[50], progress=False, out=tmp_path / "x")
    with pytest.raises(ConfigError, match="no label"):
        cluster(ds, label="Smiling", progress=False, out=tmp_path / "y")


def test_cli_cluster(prepared_fer, tmp_path, capsys):
    from facelab.cli.main import main

    main(["cluster", str(prepared_fer.path), "--features", "hog", "--k", "3-7", "--components", "5,10",
          "--out", str(tmp_path / "cli")])
    out = capsys.readouterr().out
    assert "report:" in out and "vs emotion" in out
    assert (tmp_path / "cli" / "cluster.json").is_file()


def test_cluster_on_run_features(prepared_fer, runs_dir, tmp_path):
    """``run:<RUN>``: features from a trained network's penultimate layer (a 1-epoch CNN)."""
    import torch

    from facelab.cluster.report import cluster
    from facelab.train.trainer import train

    torch.set_num_threads(2)
    run = train(prepared_fer.path, model="cnn", epochs=1, name="tiny-fer", progress=False, seed=0)
    rep = cluster(prepared_fer, features=f"run:{run.name}", k=[3, 7], components=(5,), out=tmp_path / "r",
                  progress=False, tsne_sample=50)
    emb = run.embed(np.asarray(prepared_fer.images[:2]))
    assert rep.features == "run:tiny-fer" and rep.dims == emb.shape[1]
    assert rep.matching_at_classes["k"] == 7 and 0 <= rep.matching_at_classes["accuracy"] <= 1
    # every image of the cache: the run trained on its train split, and the report says so
    n_train = len(run.split()["train"])
    assert len(rep.warnings) == 1 and rep.warnings[0].startswith(f"{n_train:,} of the {len(prepared_fer):,} images")
    assert "--split test" in rep.warnings[0] and "Caution:" in rep.html_path.read_text()
    test_only = cluster(prepared_fer, features=f"run:{run.name}", k=[3], components=(5,), split="test",
                        out=tmp_path / "t", progress=False, tsne_sample=50)
    assert test_only.warnings == []


def test_public_api_names_work_twice(tmp_path):
    """``facelab.explore``/``facelab.cluster`` are packages and API functions: both calls must work."""
    import facelab

    ds = _blob_cache(tmp_path, n_per=10)
    for _ in range(2):  # the second lookup finds the package, which must be callable too
        rep = facelab.cluster(ds, k=[3], components=(3,), out=tmp_path / "c", progress=False, tsne_sample=20)
        assert rep.matching["accuracy"] == 1.0
    assert callable(facelab.explore) and facelab.explore.ExploreReport.__name__ == "ExploreReport"
