"""Saliency maps: shapes, where they peak, the sanity checks, per-face explanations and the refusals.

The run is the squares cnn of ``explain_support``: ``A`` is a bright square at the top left, ``B``
one at the bottom right, so a map that means something must peak there.
"""
from __future__ import annotations

import json

import numpy as np
import pytest

from facelab.errors import ConfigError
from facelab.explain import resolve_outputs, saliency_maps
from facelab.explain.checks import deletion_check, randomisation_check, spearman
from facelab.explain.dataset import ALL_FACES, dataset_saliency
from facelab.explain.render import explain_file_name, overlay_png
from explain_support import A_BOX, B_BOX, SIZE, held_out, squares_cache, squares_run
from explain_support import inside as _inside


@pytest.fixture(scope="module")
def squares(tmp_path_factory):
    return squares_cache(tmp_path_factory.getbasetemp())


@pytest.fixture(scope="module")
def cnn_run(tmp_path_factory):
    return squares_run(tmp_path_factory.getbasetemp())


@pytest.fixture(scope="module")
def test_faces():
    return held_out()


def test_the_run_learned_the_squares(cnn_run, test_faces):
    x, a, b = test_faces
    p = cnn_run.predict_proba(x)
    assert np.mean((p[:, 0] > 0.5) == a) > 0.9 and np.mean((p[:, 1] > 0.5) == b) > 0.9


def test_maps_have_the_face_shape_and_lie_in_0_1(cnn_run, test_faces):
    x, _, _ = test_faces
    sal = saliency_maps(cnn_run, x[:5], ["A", "B"])
    assert sal.method == "integrated-gradients" and sal.outputs == ["A", "B"]
    assert sal.maps.shape == (5, 2, SIZE, SIZE) and sal.maps.dtype == np.float32
    assert sal.maps.min() >= 0 and np.isclose(sal.maps.max(), 1)
    assert sal.probabilities.shape == (5, 2)
    d = sal.to_dict(size=16)
    assert np.array(d["maps"]).shape == (5, 2, 16, 16)


@pytest.mark.parametrize("method", ["gradcam", "integrated-gradients", "occlusion"])
def test_maps_peak_where_the_evidence_is(cnn_run, test_faces, method):
    x, a, b = test_faces
    sal = saliency_maps(cnn_run, x, ["A", "B"], method=method)
    assert sal.method == method
    assert _inside(sal.of("A")[a == 1], A_BOX) > 2, method
    assert _inside(sal.of("B")[b == 1], B_BOX) > 2, method
    # and not the other square: A's maps do not point at B's evidence
    assert _inside(sal.of("A")[(a == 1) & (b == 1)], B_BOX) < _inside(sal.of("A")[(a == 1) & (b == 1)], A_BOX)


def test_deletion_of_the_salient_pixels_beats_random_pixels(cnn_run, test_faces):
    x, a, _ = test_faces
    chk = deletion_check(cnn_run, x[a == 1], "A", fraction=0.1)
    assert chk.passed and chk.salient_drop > chk.random_drop + 0.1, chk
    assert chk.to_dict()["passed"] is True


@pytest.mark.parametrize("method,margin", [("gradcam", 0.2), ("integrated-gradients", 0.1)])
def test_a_reinitialised_network_gives_other_maps(cnn_run, test_faces, method, margin):
    """Integrated gradients from the blurred face keep some of the image's own structure (the
    face minus its blur) whatever the weights, so their margin is smaller; both stay well apart."""
    x, a, _ = test_faces
    chk = randomisation_check(cnn_run, x[a == 1][:12], "A", method=method, margin=margin)
    assert chk.method == method and chk.shifted > 0.4 and chk.passed, chk


def test_spearman_sees_a_shuffled_map_as_unrelated():
    rng = np.random.default_rng(0)
    m = rng.random((16, 16))
    assert spearman(m, m) == 1.0 and abs(spearman(m, rng.permutation(m.ravel()))) < 0.2


def test_logreg_is_explained_by_its_weight_image(squares, test_faces):
    from facelab.train.trainer import train

    run = train(squares.path, target="A", model="logreg", name="explain-logreg", progress=False, seed=0,
                params={"n_components": 16})
    x, a, _ = test_faces
    sal = saliency_maps(run, x, "A")
    assert sal.method == "logreg-weights" and sal.maps.shape == (48, 1, SIZE, SIZE)
    assert np.allclose(sal.maps[0], sal.maps[1])  # the weight image: the same for every face
    assert _inside(sal.of("A")[:1], A_BOX) > 2


def test_unknown_outputs_are_refused_with_a_close_match():
    with pytest.raises(ConfigError) as e:
        resolve_outputs(["Smiling", "Male", "Young"], "Smilling")
    assert "did you mean 'Smiling'" in str(e.value) and "Male" in e.value.fix
    assert resolve_outputs(["a", "b"], "a, top") == ["a", "top"]
    assert resolve_outputs(["a", "b"], None) == []


def test_dataset_maps_per_group_beside_the_mean_faces(cnn_run, test_faces):
    x, a, b = test_faces
    labels = np.stack([a, b], 1)
    ds = dataset_saliency(cnn_run, x, labels, ["A"], {"B": b}, {"B": ["not B", "B"]}, batch=16)
    groups = [(g.group, g.n) for g in ds.rows("A")]
    assert groups == [(ALL_FACES, 48), ("not B", int((b == 0).sum())), ("B", int(b.sum()))]
    g = ds.rows("A")[0]
    assert g.saliency.shape == (SIZE, SIZE) and g.mean_with.shape == (SIZE, SIZE, 3)
    assert g.n_with == int(a.sum())
    # the mean-face difference and the saliency both point at A's square
    assert _inside(np.abs(g.difference).mean(2)[None], A_BOX) > 3 and _inside(g.saliency[None], A_BOX) > 2
    assert g.agreement() > 0.05
    d = ds.to_dict()
    json.dumps(d)
    assert d["groups"][0]["peak"][0] < 0.4 and d["groups"][0]["peak"][1] < 0.4  # top left


def test_overlay_png_and_file_names():
    import cv2

    face = np.full((SIZE, SIZE, 1), 100, np.uint8)
    png = overlay_png(face, np.eye(SIZE, dtype=np.float32), scale=2)
    img = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)
    assert img.shape == (2 * SIZE, 2 * SIZE, 3)
    assert explain_file_name("photo", 0, "Smiling") == "photo.face0.explain-Smiling.png"


def test_without_captum_the_error_names_the_extra(cnn_run, monkeypatch):
    import sys

    from facelab.explain.saliency import explainer_for

    monkeypatch.setitem(sys.modules, "captum.attr", None)  # an install without the explain extra
    with pytest.raises(ConfigError) as e:
        explainer_for(cnn_run)
    assert "facelab[explain]" in e.value.fix
