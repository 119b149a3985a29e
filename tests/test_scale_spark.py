"""Spark in local[2] computes what the local paths compute: the prepared cache byte for
byte, the label statistics to 1e-9, batch predictions to 1e-5. One Spark session (conftest's session-scoped
``spark`` fixture) serves the whole run (starting one takes ~10 s on 2 cores); data are tiny and generated."""
from __future__ import annotations

import filecmp
import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

pyspark = pytest.importorskip("pyspark", reason="the Spark tests need pyspark (pip install 'facelab[spark]')")

pytestmark = pytest.mark.slow


def test_prepare_on_spark_is_byte_identical(spark, synth_celeba, tmp_path):
    from facelab.data.cache import prepare
    from facelab.scale.prepare import prepare_spark

    bad = synth_celeba / "img_align_celeba" / "000003.jpg"
    saved = bad.read_bytes()
    bad.write_bytes(b"not a jpeg")  # an image an executor cannot decode: a problem row, like locally
    try:
        a = prepare(synth_celeba, size=24, out=tmp_path / "local", progress=False, workers=1)
        b = prepare_spark(synth_celeba, size=24, out=tmp_path / "spark", progress=False)
    finally:
        bad.write_bytes(saved)
    for name in ("images.u8", "manifest.parquet", "manifest.json"):
        assert filecmp.cmp(a.path / name, b.path / name, shallow=False), name
    ma, mb = json.loads((a.path / "meta.json").read_text()), json.loads((b.path / "meta.json").read_text())
    assert ma["skipped"] == mb["skipped"] == {"corrupt_image": 1}
    timing = {"seconds", "images_per_s", "decode_seconds", "decode_images_per_s", "created"}
    assert {k: v for k, v in ma.items() if k not in timing} == {k: v for k, v in mb.items() if k not in timing}
    assert not (tmp_path / "spark.partial").exists()


def test_failed_spark_prepare_leaves_no_complete_cache(spark, synth_celeba, tmp_path):
    from facelab.errors import DataError
    from facelab.scale.prepare import spark_decode

    # a job whose images file cannot be opened fails on the executor: the driver gets a DataError
    job = {"images": str(tmp_path / "missing" / "images.u8"), "n": 1, "size": 8, "channels": 3, "grey": False,
           "box": None, "k": 0, "kind": "img", "rows": [0],
           "paths": [str(synth_celeba / "img_align_celeba" / "000001.jpg")], "done": str(tmp_path / "m.json")}
    with pytest.raises(DataError, match="Spark prepare job failed"):
        spark_decode([job])
    assert not (tmp_path / "m.json").exists()


def _labels(n=500, seed=0):
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 2, n)
    df = pd.DataFrame({"split": rng.choice(["train", "val", "test"], n),
                       "A": a, "B": a ^ (rng.random(n) < 0.2), "C": rng.integers(0, 2, n),
                       "D": (rng.random(n) < 0.1).astype(int), "Const": np.ones(n, int)})
    return df, ["A", "B", "C", "D", "Const"]


def test_label_statistics_equal_pandas(spark):
    from facelab.explore.logreg import attribute_models
    from facelab.explore.stats import attribute_stats
    from facelab.scale.stats import (spark_attribute_models, spark_attribute_stats, split_balance,
                                     split_balance_pandas, to_spark)

    labels, names = _labels()
    df = to_spark(labels, names)
    loc = attribute_stats(labels[names].to_numpy(), names)
    spk = spark_attribute_stats(df, names)
    assert spk.names == loc.names and spk.constant == loc.constant == {"Const": 1} and spk.n == loc.n
    np.testing.assert_array_equal(spk.counts, loc.counts)
    for k in ("prevalence", "cond", "corr"):
        np.testing.assert_allclose(getattr(spk, k), getattr(loc, k), rtol=0, atol=1e-9, err_msg=k)
    pd.testing.assert_frame_equal(split_balance(df, names), split_balance_pandas(labels, names),
                                  check_exact=False, atol=1e-9, rtol=0)

    X = labels[loc.names].to_numpy()
    lm, sm = attribute_models(X, loc.names), spark_attribute_models(df, loc.names)
    for a, b in zip(lm, sm):
        assert a.target == b.target
        # the local path averages in float32: agreement to its precision
        assert abs(a.prevalence - b.prevalence) < 1e-6 and abs(a.baseline - b.baseline) < 1e-6
        assert abs(a.accuracy - b.accuracy) <= 0.02 and abs(a.f1 - b.f1) <= 0.02, (a, b)
    assert sm[0].top[0][0] == "B" and sm[1].top[0][0] == "A"  # the copy is the strongest predictor


def test_explore_engine_spark(spark, synth_celeba, tmp_path):
    from facelab.explore.report import explore
    from facelab.scale.stats import explore_spark

    rep = explore_spark(synth_celeba, out=tmp_path / "rep", progress=False, sample=60,
                  tsne_sample=0, ks=[2, 3])
    assert any("computed on Spark" in n for n in rep.notes)
    assert rep.models and rep.html_path.is_file()
    local = explore(synth_celeba, out=tmp_path / "rep0", progress=False, sample=60, tsne_sample=0, ks=[2, 3])
    assert rep.strongest == local.strongest and rep.exclusive == local.exclusive


def test_unknown_engine_is_a_config_error():
    from facelab.errors import ConfigError
    from facelab.scale.spark import check_engine

    with pytest.raises(ConfigError, match="unknown engine"):
        check_engine("dask")


@pytest.fixture(scope="module")
def cnn_run(prepared_celeba):
    from facelab.train.trainer import train

    return train(prepared_celeba.path, target=["Smiling", "Male"], model="cnn", epochs=1, name="spark-pred",
                 progress=False, seed=0, threads=1, batch_size=64)


def test_predict_on_spark_equals_local(spark, cnn_run, synth_celeba, tmp_path):
    from facelab.predict.batch import predict_files
    from facelab.scale.predict import predict_spark

    photos = tmp_path / "photos"
    photos.mkdir()
    src = sorted((synth_celeba / "img_align_celeba").glob("*.jpg"))[:40]
    for p in src:
        (photos / p.name).write_bytes(p.read_bytes())
    (photos / "broken.jpg").write_bytes(b"no image here")  # an executor cannot read it: an error row
    items = [str(photos), str(tmp_path / "missing.jpg")]
    loc = predict_files(cnn_run, items, out=tmp_path / "local.parquet", aligned=True, progress=False)
    spk = predict_spark(cnn_run.name, items, out=tmp_path / "spark.parquet", aligned=True, progress=False)
    a = pd.read_parquet(loc.out)
    b = pd.read_parquet(spk.out)
    assert list(a.columns) == list(b.columns)
    assert len(a) == len(b) == 42
    for c in ("file", "status", "labels", "verdict", "message"):
        assert a[c].fillna("").tolist() == b[c].fillna("").tolist(), c
    for c in ("p_Smiling", "p_Male", "x", "w", "width", "height"):
        np.testing.assert_allclose(a[c].to_numpy(float), b[c].to_numpy(float), atol=1e-5, err_msg=c)
    assert (spk.photos, spk.classified, len(spk.failed)) == (loc.photos, loc.classified, len(loc.failed)) == (42, 40, 2)
    assert not (tmp_path / "spark.parquet.partial").exists()


def test_cli_predict_engine_spark(spark, cnn_run, synth_celeba, tmp_path):
    from facelab.cli.main import main

    one = sorted((synth_celeba / "img_align_celeba").glob("*.jpg"))[:3]
    out = tmp_path / "cli.parquet"
    main(["predict", cnn_run.name, *map(str, one), "--aligned", "--engine", "spark", "--out", str(out),
          "--no-progress"])
    assert len(pd.read_parquet(out)) == 3


def test_torch_distributor_runs_the_same_training(spark, prepared_celeba, runs_dir):
    from facelab.scale.ddp import train_on_spark
    from facelab.runs.run import Run

    path = train_on_spark(prepared_celeba.path, nproc=2, target="Smiling", model="cnn", epochs=1, seed=0,
                          batch_size=32, progress=False, name="distributor")
    run = Run.load(path)
    assert run.status == "finished" and run.path.parent == runs_dir
    assert [p.name for p in runs_dir.iterdir()] == ["distributor"]  # rank 1 wrote a scratch copy only


def test_package_imports_without_pyspark():
    code = ("import sys; sys.modules['pyspark'] = None\n"
            "import facelab.scale.spark, facelab.scale.prepare, facelab.scale.stats, facelab.scale.predict, "
            "facelab.scale.ddp\n"
            "from facelab.errors import ConfigError\n"
            "try:\n    facelab.scale.spark.get_spark()\nexcept ConfigError as e:\n    print(e)\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "pip install 'facelab[spark]'" in r.stdout


def test_missing_java_is_a_clear_error(tmp_path):
    code = ("from facelab.errors import ConfigError\nimport facelab.scale.spark as s\n"
            "try:\n    s.get_spark('local[1]')\nexcept ConfigError as e:\n    print(e)\n")
    env = {**os.environ, "PATH": str(tmp_path), "JAVA_HOME": str(tmp_path)}
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
    assert r.returncode == 0, r.stderr
    assert "Spark needs Java" in r.stdout and "openjdk-17" in r.stdout


def test_predict_on_spark_never_replaces_a_users_folder(tmp_path):
    from facelab.errors import ConfigError
    from facelab.scale.predict import predict_spark

    mine = tmp_path / "mine.parquet"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    with pytest.raises(ConfigError, match="Spark results folder"):
        predict_spark("no-such-run", ["x.jpg"], out=mine)
    assert (mine / "notes.txt").read_text() == "keep me"


def test_identify_on_spark_equals_the_local_path(spark, tmp_path):
    pytest.importorskip("dlib")
    from facelab.data.synth import synthesize
    from facelab.identity.enroll import add_people
    from facelab.identity.identify import identify
    from facelab.identity.photos import people_folders
    from facelab.scale.identify import identify_spark

    root = synthesize(tmp_path / "people", kind="folder", n=6, seed=5, identities=2)
    folders = people_folders(root)
    add_people(tmp_path / "g.sqlite", {p: fs[:2] for p, fs in folders.items()}, detector="haar")
    probes = [fs[2] for fs in folders.values()]
    local = identify(tmp_path / "g.sqlite", probes, top_k=2)
    rep = identify_spark(tmp_path / "g.sqlite", probes, out=tmp_path / "who.parquet", top_k=2, progress=False)
    got = pd.read_parquet(rep.out)
    want = local.table()
    assert rep.faces == len(want) and got["person"].tolist() == want["person"].tolist()
    assert np.allclose(got["distance"], want["distance"], atol=1e-4)
    assert got["candidate_2"].tolist() == want["candidate_2"].tolist()
