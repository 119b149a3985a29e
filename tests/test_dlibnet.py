"""dlib's face-recognition network read from its .dat and run in ONNX Runtime / torch: the same
descriptors as dlib's own compute (on generated chips), the cache under the home folder given, and a
clear error for a damaged file. The file is converted once per session (the session's home)."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from facelab.errors import DataError
from predict_support import needs_dlib

pytestmark = needs_dlib


def _chips(n: int = 4) -> np.ndarray:
    """Generated 150×150 chips: synthetic faces resized to the chip, and one of noise."""
    import cv2

    from facelab.data.synth.faces import render_face

    rng = np.random.default_rng(3)
    out = [cv2.resize(render_face({"Smiling": i % 2}, rng=rng)[0], (150, 150)) for i in range(n - 1)]
    out.append(rng.integers(0, 256, (150, 150, 3), dtype=np.uint8))
    return np.stack(out)


@pytest.fixture(scope="session")
def dat() -> Path:
    from facelab.faces.dlibface import model_path
    from facelab.faces.dlibnet import FILE

    return model_path(FILE)


@pytest.fixture(scope="session")
def fast(dat):
    """The converted network, cached under the session's home folder (the one the Embedder uses)."""
    from facelab.faces.dlibnet import FastNet

    return FastNet(dat, Path(os.environ["FACELAB_HOME"]))


@pytest.fixture(scope="session")
def dlib_descriptors():
    from facelab.faces.dlibface import resnet

    chips = _chips()
    return chips, np.asarray(resnet().compute_face_descriptor(list(chips)), np.float32)


def test_the_converted_network_matches_dlib(fast, dlib_descriptors):
    chips, want = dlib_descriptors
    got = fast(chips)
    assert got.shape == (len(chips), 128)
    assert np.abs(got - want).max() <= 1e-3


def test_the_torch_network_matches_dlib(fast, dat, dlib_descriptors):
    import torch

    from facelab.faces.dlibnet import load_net

    chips, want = dlib_descriptors
    with torch.inference_mode():
        got = load_net(dat, os.environ["FACELAB_HOME"])(torch.from_numpy(chips)).numpy()
    assert np.abs(got - want).max() <= 1e-3


def test_the_cache_is_written_under_the_home_given_and_reused(fast, dat, monkeypatch):
    from facelab.faces import dlibnet

    models = Path(os.environ["FACELAB_HOME"]) / "models"
    names = sorted(p.suffix for p in models.iterdir())
    assert names == [".onnx", ".safetensors"]
    monkeypatch.setattr(dlibnet, "parse_dat", lambda *a: pytest.fail("parsed again"))
    state = dlibnet.load_state(dat, os.environ["FACELAB_HOME"])
    assert state["fc"].shape == (256, 128) and len(state) == 2 + 4 * 29


def test_the_embedder_gives_the_same_descriptors_either_way(fast):
    from facelab.identity.embed import Embedder

    chips = list(_chips(3))
    a = Embedder("haar").descriptors(chips)
    b = Embedder("haar", network="dlib").descriptors(chips)
    assert np.abs(a - b).max() <= 1e-4


def test_a_truncated_file_gives_a_clear_error(dat, tmp_path):
    from facelab.faces.dlibnet import FastNet, parse_dat

    bad = tmp_path / dat.name
    bad.write_bytes(dat.read_bytes()[:300_000])
    with pytest.raises(DataError) as e:
        parse_dat(bad)
    assert "ends early" in e.value.message and e.value.path == str(bad) and "reinstall" in e.value.fix
    with pytest.raises(DataError, match="not a readable"):
        FastNet(bad, tmp_path / "home")
    assert not list((tmp_path / "home").glob("models/*"))


def test_another_file_and_a_missing_file_are_refused(dat, tmp_path):
    from facelab.faces.dlibface import model_path
    from facelab.faces.dlibnet import FastNet, parse_dat

    other = tmp_path / "shape.dat"
    shutil.copy(model_path("shape_predictor_5_face_landmarks.dat"), other)
    with pytest.raises(DataError, match="not a readable"):
        parse_dat(other)
    with pytest.raises(DataError, match="missing"):
        FastNet(tmp_path / "none.dat", tmp_path / "home")


def test_without_the_conversion_dlib_runs_the_network(monkeypatch):
    from facelab.errors import ConfigError
    from facelab.faces import dlibnet
    from facelab.identity.embed import Embedder

    def no_torch(*a, **k):
        raise ImportError("No module named 'torch'")

    monkeypatch.setattr(dlibnet, "shared_net", no_torch)
    emb = Embedder("haar")
    assert emb.descriptors(list(_chips(2))).shape == (2, 128) and emb.network == "dlib"
    with pytest.raises(ConfigError, match="torch"):
        Embedder("haar", network="converted").descriptors(list(_chips(1)))
    with pytest.raises(ConfigError, match="network"):
        Embedder("haar", network="gpu")


def test_the_embedding_models_face_embedder_runs_the_converted_network(fast, dlib_descriptors):
    from facelab.faces.dlibface import FaceEmbedder

    chips, want = dlib_descriptors
    emb = FaceEmbedder(detector="haar")
    got = np.stack([emb.embed_chip(c) for c in chips])
    assert emb._converted() is not None
    assert np.abs(got - want).max() <= 1e-3
