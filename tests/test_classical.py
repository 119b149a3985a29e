"""The logreg classical model: learns, round-trips through safetensors, rejects bad input."""
from __future__ import annotations

import numpy as np
import pytest
from safetensors.numpy import load_file, save_file

from facelab.errors import ConfigError, DataError
from facelab.models import get_model, list_models


def _blobs(n=120, size=16, channels=3, seed=0):
    """Images whose brightness in the left/right/top half encodes three binary attributes."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, (n, 3))
    x = rng.integers(0, 90, (n, size, size, channels)).astype(np.int16)
    h = size // 2
    x[y[:, 0] == 1, :, :h] += 120
    x[y[:, 1] == 1, :, h:] += 60
    x[y[:, 2] == 1, :h] += 100
    return np.clip(x, 0, 255).astype(np.uint8), y


def test_registered():
    assert "logreg" in list_models()
    spec = get_model("logreg")
    assert spec.kind == "classical" and spec.default_params["features"] == "pca"


@pytest.mark.parametrize("features", ["pca", "hog"])
def test_binary_learns_and_round_trips(tmp_path, features):
    x, y = _blobs(channels=3 if features == "pca" else 1)
    m = get_model("logreg").build(x.shape[-1], 1, task="binary", features=features, n_components=16)
    m.fit(x[:90], y[:90, 0])
    p = m.predict_proba(x[90:])
    assert p.shape == (30, 1) and p.dtype == np.float32 and ((p >= 0) & (p <= 1)).all()
    if features == "pca":  # the left-half brightness is a pixel feature: PCA must find it
        assert ((p[:, 0] >= 0.5) == y[90:, 0]).mean() >= 0.9
    assert m.embed(x[:5]).shape[0] == 5
    save_file(m.state_dict(), tmp_path / "model.safetensors")
    m2 = get_model("logreg").build(x.shape[-1], 1, features=features, n_components=16)
    m2.load_state_dict(load_file(tmp_path / "model.safetensors"))
    np.testing.assert_allclose(m2.predict_proba(x[90:]), p, rtol=1e-5, atol=1e-6)


def test_multilabel_with_a_constant_attribute():
    x, y = _blobs()
    y = np.concatenate([y, np.zeros((len(y), 1), int)], axis=1)  # 4th attribute never positive
    m = get_model("logreg").build(3, 4, task="multilabel", n_components=12).fit(x, y)
    p = m.predict_proba(x)
    assert p.shape == (len(x), 4)
    assert ((p[:, :3] >= 0.5) == y[:, :3]).mean() >= 0.9
    assert (p[:, 3] < 0.5).all()


def test_multiclass_softmax_and_missing_class():
    x, y = _blobs(n=150)
    cls = y[:, 0] + 2 * y[:, 2]  # classes 0..3; class 4 never occurs in training
    m = get_model("logreg").build(3, 5, task="multiclass", n_components=12).fit(x, cls)
    p = m.predict_proba(x)
    assert p.shape == (150, 5)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-5)
    assert (p.argmax(1) == cls).mean() >= 0.9 and p[:, 4].max() < 1e-6
    # two present classes: the symmetric coefficients give the same decision as the binary model
    two = get_model("logreg").build(3, 3, task="multiclass", n_components=8).fit(x, y[:, 0] * 2)
    assert ((two.predict_proba(x).argmax(1) == 2) == (y[:, 0] == 1)).mean() >= 0.9


def test_bad_input_is_a_facelab_error():
    x, y = _blobs(n=20)
    with pytest.raises(ConfigError):
        get_model("logreg").build(3, 1, features="sift")
    with pytest.raises(ConfigError):
        get_model("logreg").build(3, 1, bogus=1)
    m = get_model("logreg").build(3, 1, n_components=4)
    with pytest.raises(ConfigError):
        m.predict_proba(x)  # not fitted
    with pytest.raises(DataError):
        m.fit(x.astype(np.float32), y[:, 0])
    with pytest.raises(DataError):
        m.fit(x[..., :1], y[:, 0])  # grey images into an RGB model
    m.fit(x, y[:, 0])
    with pytest.raises(DataError):
        m.predict_proba(np.zeros((2, 8, 8, 3), np.uint8))  # other geometry than fitted
    hog = get_model("logreg").build(3, 1, features="hog")
    with pytest.raises(DataError):
        hog.load_state_dict({})
