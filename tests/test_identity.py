"""Verification, calibration, identification and grouping: the logic on numpy descriptors, then the
whole path from photos (dlib, on synthetic people) through the Python API and the CLI."""
from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from facelab.errors import ConfigError, DataError
from facelab.identity.calibrate import best_threshold, calibrate, make_pairs
from facelab.identity.embed import unit
from facelab.identity.group import name_clusters
from facelab.identity.linkage import cluster_vectors, pairwise_precision_recall
from facelab.identity.threshold import check_threshold, resolve_threshold
from predict_support import needs_dlib


def clustered(n_people=30, per=5, noise=0.3, seed=0):
    rng = np.random.default_rng(seed)
    centres = unit(rng.normal(size=(n_people, 128)))
    X = unit(np.repeat(centres, per, 0) + noise / np.sqrt(128) * rng.normal(size=(n_people * per, 128)) * 3)
    return X, [f"person{i // per:02d}" for i in range(n_people * per)]


@pytest.mark.parametrize("bad", [0, -0.1, 2, 3.5, float("nan"), "x"])
def test_thresholds_outside_the_range_are_refused(bad):
    with pytest.raises(ConfigError, match="threshold"):
        check_threshold(bad)


def test_threshold_source_follows_the_caller_then_the_gallery():
    class G:
        name, threshold = "fam", {"value": 0.33, "source": "verify-eval on people/"}

    assert resolve_threshold(0.5, G()).source == "given"
    assert (resolve_threshold(None, G()).value, resolve_threshold(None, G()).source) == (0.33, "gallery")
    assert resolve_threshold(None, None).source == "default"


def test_pairs_are_seeded_people_disjoint_folds():
    _, labels = clustered()
    p1, p2 = make_pairs(labels, folds=10, seed=3), make_pairs(labels, folds=10, seed=3)
    assert np.array_equal(p1.a, p2.a) and np.array_equal(p1.fold, p2.fold)
    lab = np.array(labels)
    for k in range(10):
        inside = set(lab[p1.a[p1.fold == k]]) | set(lab[p1.b[p1.fold == k]])
        outside = set(lab[p1.a[p1.fold != k]]) | set(lab[p1.b[p1.fold != k]])
        assert not inside & outside
    assert p1.same.any() and (~p1.same).any()
    assert np.all((lab[p1.a] == lab[p1.b]) == p1.same)
    with pytest.raises(ConfigError, match="folds"):
        make_pairs(labels[:10], folds=10)  # 2 people


def test_best_threshold_splits_the_pairs():
    t, acc = best_threshold(np.array([0.1, 0.3, 0.35, 0.6, 0.9]), np.array([True, True, False, False, False]))
    assert 0.3 < t < 0.35 and acc == 1.0


def test_calibration_figures_and_groups():
    X, labels = clustered()
    X[3] = np.nan  # a photo without a face: its pairs are decided "different"
    groups = {f"person{i:02d}": "a" if i < 15 else "b" for i in range(30)}
    res = calibrate(X, labels, groups=groups, folds=5, seed=0, paths=[f"{i}.jpg" for i in range(len(labels))])
    assert 0.9 <= res.accuracy <= 1.0 and len(res.fold_accuracy) == 5
    assert 0 < res.threshold < 2 and res.eer < 0.1
    assert set(res.tar_at_far) == {"0.01", "0.001"} and res.tar_at_far["0.01"]["tar"] > 0.8
    assert res.no_face == ["3.jpg"]
    assert set(res.groups) == {"a", "b"} and res.groups["a"]["people"] == 15
    assert [w["kind"] for w in res.worst].count("genuine") == 8
    assert res.worst[0]["a"] == "3.jpg" or res.worst[0]["b"] == "3.jpg"  # the lost pair is the worst
    # grouping cuts where GROUP_FAR of the impostor pairs (the lost photo's among them) lie below
    from scipy.spatial.distance import pdist

    from facelab.identity.calibrate import GROUP_FAR

    ok = np.isfinite(X[:, 0])
    lab = np.asarray(labels)[ok]
    i, j = np.triu_indices(int(ok.sum()), 1)
    imp = pdist(X[ok].astype(np.float64))[lab[i] != lab[j]]
    assert 0 < res.group_threshold < 2
    assert abs((imp <= res.group_threshold).mean() - GROUP_FAR) < 2e-3
    # Ward's cut is chosen by grouping these people's photos: at it, they come out as themselves
    cut = res.group_cut["cut"]
    assert 0 < cut < 2 and res.group_cut["f1"] > 0.95
    p, r = pairwise_precision_recall(lab, cluster_vectors(X[ok], cut, "ward", join=res.group_cut["join"]))
    assert 2 * p * r / (p + r) == pytest.approx(res.group_cut["f1"], abs=1e-4)
    json.dumps(res.to_dict(), allow_nan=False)


def test_ward_cut_needs_ten_people_and_a_gallery_keeps_its_own():
    from facelab.identity.linkage import best_cut, threshold_purpose
    from facelab.identity.threshold import DEFAULT_GROUP_CUT

    X, labels = clustered(6, 5)
    assert best_cut(X, labels, 0.5)["cut"] is None  # too few people to choose on
    X, labels = clustered(12, 5)
    big = best_cut(X, labels, 0.5)
    small = best_cut(X, labels, None, max_photos=30)  # a sample of whole people, no join step
    assert big["photos"] == 60 and small["photos"] == 30 and small["people"] == 6
    assert threshold_purpose("ward") == "group_cut" and threshold_purpose("agglomerative") == "group"

    class Old:  # a gallery calibrated before it stored a cut: its pair distances are not a cut
        name, threshold = "fam", {"value": 0.33, "group": 0.3, "source": "verify-eval"}

    class New:
        name, threshold = "fam", {"value": 0.33, "group": 0.3, "group_cut": 0.61, "group_join": 0.31,
                                  "source": "verify-eval"}

    assert (resolve_threshold(None, Old(), "group_cut").value, resolve_threshold(None, Old(), "group_cut").source) \
        == (DEFAULT_GROUP_CUT, "default")
    assert resolve_threshold(None, Old(), "group").value == 0.3
    assert resolve_threshold(None, Old(), "group_join").source == "default"
    assert resolve_threshold(None, New(), "group_join").value == 0.31
    assert (resolve_threshold(None, New(), "group_cut").value, resolve_threshold(None, New(), "group_cut").source) \
        == (0.61, "gallery")


def test_the_join_step_brings_back_a_person_ward_splits():
    """One person with 300 photos in two lights: Ward's cost grows with group size and splits them;
    joining groups by their mean distance makes them one person again, and two others stay apart."""
    rng = np.random.default_rng(0)
    c = unit(rng.normal(size=(3, 128)))

    def faces(centre, n):
        return unit(centre + 0.35 / np.sqrt(128) * rng.normal(size=(n, 128)))

    light = unit(rng.normal(size=128))
    X = np.vstack([faces(c[0], 150), faces(unit(c[0] + 0.3 * light), 150), faces(c[1], 20), faces(c[2], 20)])
    labels = ["a"] * 300 + ["b"] * 20 + ["c"] * 20
    alone = cluster_vectors(X, 0.55, "ward")
    assert len(set(alone[:300])) > 10
    joined = cluster_vectors(X, 0.55, "ward", join=0.6)
    assert pairwise_precision_recall(labels, joined) == (1.0, 1.0)
    assert joined.tolist() == sorted(joined.tolist())  # numbered largest group first
    # two strangers 0.52 apart: Ward's cut pairs them; no face of theirs is within the link distance
    s = unit(rng.normal(size=128))
    v = rng.normal(size=128)
    v = unit(v - (v @ s) * s)
    angle = 2 * np.arcsin(0.52 / 2)
    t = np.cos(angle) * s + np.sin(angle) * v
    Y = np.vstack([X, s, t])
    paired = cluster_vectors(Y, 0.55, "ward", join=0.6)
    assert paired[-1] == paired[-2]
    alone = cluster_vectors(Y, 0.55, "ward", join=0.6, near=0.49)  # each person's faces: nearest within 0.46
    assert alone[-1] != alone[-2] and pairwise_precision_recall(labels, alone[:-2]) == (1.0, 1.0)
    assert name_clusters(alone)[-2:] == ["alone", "alone"]


def test_grouping_finds_the_people():
    X, labels = clustered(8, 6, noise=0.2)
    for method, t in (("chinese-whispers", 0.8), ("agglomerative", 0.8), ("ward", 1.2)):  # ward: a merge cost
        pred = cluster_vectors(X, t, method)
        p, r = pairwise_precision_recall(labels, pred)
        assert p > 0.95 and r > 0.95, method
    assert name_clusters(np.array([1, 0, 0, 2])) == ["alone", "person_001", "person_001", "alone"]
    with pytest.raises(ConfigError):
        cluster_vectors(X, 0.5, "kmeans")


# -- the whole path, from photos (dlib) ---------------------------------------------------------


@pytest.fixture(scope="module")
def people(tmp_path_factory):
    """2 synthetic people x 3 photos, a blank photo in a third folder, and a photo of two faces."""
    from facelab.data.synth import synthesize

    root = synthesize(tmp_path_factory.mktemp("id-people"), kind="folder", n=6, seed=5, identities=2)
    blank = root / "Nobody"
    blank.mkdir()
    Image.fromarray(np.full((250, 250, 3), 128, np.uint8)).save(blank / "blank.jpg")
    a, b = (sorted(d.glob("*.jpg"))[0] for d in sorted(root.iterdir()) if d.is_dir() and d.name != "Nobody")
    two = np.concatenate([np.asarray(Image.open(a)), np.asarray(Image.open(b))], axis=1)
    Image.fromarray(two).save(tmp_path_factory.getbasetemp() / "two.jpg")
    return root


def photos_of(root):
    return {d.name: sorted(str(p) for p in d.glob("*.jpg")) for d in sorted(root.iterdir()) if d.is_dir()}


@needs_dlib
def test_verify_from_photos(people, tmp_path):
    from facelab.identity.verify import verify

    ph = photos_of(people)
    names = [n for n in sorted(ph) if n != "Nobody"]
    (a1, a2, _), (b1, *_) = ph[names[0]], ph[names[1]]
    res = verify(a1, a2, b1, detector="haar")
    assert res.distances.shape == (3, 3) and res.distances[0, 1] < res.distances[0, 2]
    assert res.threshold.source == "default" and len(res.pairs()) == 3
    with pytest.raises(DataError, match="no face found in .*blank.jpg"):
        verify(a1, ph["Nobody"][0], detector="haar")
    two = str(people.parent / "two.jpg")
    r2 = verify(two, a1, detector="haar")
    assert r2.faces[0].found == 2 and "face 0 of 2" in r2.faces[0].note
    with pytest.raises(DataError, match="2 face\\(s\\); there is no face 5"):
        verify(two, a1, face=5, detector="haar")
    with pytest.raises(ConfigError, match="two or more"):
        verify(a1)


@needs_dlib
@pytest.mark.slow
def test_gallery_identify_and_eval_from_the_cli(people, tmp_path, capsys):
    from facelab.cli.main import main

    def run(*args):
        try:
            main(list(args))
        except SystemExit as e:
            return e.code
        return 0

    ph = photos_of(people)
    names = [n for n in sorted(ph) if n != "Nobody"]
    g = str(tmp_path / "fam.sqlite")
    assert run("gallery", "add", g, str(people), "--workers", "1", "--detector", "haar") == 0
    out = capsys.readouterr().out
    assert "added 6 faces of 2 people" in out and "blank.jpg: no face found" in out
    assert run("identify", g, ph[names[0]][0], ph["Nobody"][0], "--json", "--workers", "1") == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["faces"][0]["person"] == names[0] and rep["faces"][0]["distance"] < 1e-3
    assert rep["problems"][0]["file"].endswith("blank.jpg")
    res = tmp_path / "who.parquet"
    assert run("identify", g, ph[names[1]][1], "--out", str(res), "--threshold", "0.01") == 0
    import pandas as pd

    t = pd.read_parquet(res)
    assert list(t.columns[:8]) == ["file", "face", "x", "y", "w", "h", "person", "distance"]
    assert t["person"].tolist() == [names[1]]  # its own photo: distance 0 even at 0.01
    assert run("identify", g, ph[names[1]][1], "--threshold", "5") == 2  # out of range: exit 2
    assert run("gallery", "remove", g, names[0]) == 0
    assert f"removed {names[0]} (3 faces)" in capsys.readouterr().out
    assert run("gallery", "show", g, "--json") == 0
    assert [p["name"] for p in json.loads(capsys.readouterr().out)["people_list"]] == [names[1]]
    assert run("verify-eval", str(people), "--folds", "2", "--save-threshold", g, "--json", "--workers", "1") == 0
    ev = json.loads(capsys.readouterr().out)
    assert 0 < ev["threshold"] < 2 and len(ev["fold_accuracy"]) == 2
    from facelab.identity.gallery import Gallery

    with Gallery.open(g) as gg:
        assert gg.threshold["value"] == pytest.approx(ev["threshold"], abs=1e-4)


@needs_dlib
@pytest.mark.slow
def test_grouping_a_library_copies_never_moves(people, tmp_path):
    from facelab.identity.group import group_photos

    before = sorted(p.name for p in people.rglob("*.jpg"))
    res = group_photos([people], threshold=0.15, detector="haar", out=tmp_path / "grouped")
    assert sorted(p.name for p in people.rglob("*.jpg")) == before  # nothing moved
    assert (tmp_path / "grouped" / "index.html").is_file() and (tmp_path / "grouped" / "groups.csv").is_file()
    d = res.to_dict()
    assert d["faces"] == 6 and d["problems"][0]["file"].endswith("blank.jpg")
    folders = [p for p in (tmp_path / "grouped").iterdir() if p.is_dir()]
    assert sum(len(list(f.glob("*.jpg"))) for f in folders) >= 6
    placed = [f for d in folders for f in d.glob("*.jpg")]
    assert all(f.stat().st_nlink == 1 and not f.is_symlink() for f in placed)  # copies, not links
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("my notes")
    with pytest.raises(ConfigError, match="files facelab did not make"):  # a folder of the user's files
        group_photos([people], out=mine)
    assert [p.name for p in mine.iterdir()] == ["notes.txt"]


# -- the chip a descriptor is computed on ------------------------------------------------------


def test_the_chip_follows_the_detector_unless_a_gallery_names_it():
    from facelab.identity.embed import BOTH_CHIPS, CHIP, Framing

    assert Framing("haar").chip == CHIP and Framing("mtcnn").chip == BOTH_CHIPS
    old = Framing.from_dict({"model": "dlib_face_recognition_resnet_model_v1", "detector": "mtcnn",
                             "chip": CHIP, "mirror": True})
    assert old.chip == CHIP and old != Framing("mtcnn")
    assert "dlib-5pt+landmark-5pt-150" in Framing("mtcnn").describe()


@needs_dlib
def test_the_landmark_chip_puts_the_landmarks_on_the_template():
    from facelab.faces.detect import FaceBox
    from facelab.faces.dlibface import LANDMARK_CHIP_TEMPLATE, LANDMARK_POINTS, landmark_chip
    from facelab.faces.template import similarity

    tpl = np.asarray(LANDMARK_CHIP_TEMPLATE)
    # a face twice the chip's scale, turned 20 degrees, shifted: its landmarks must land on the template
    a = np.radians(20)
    m = 2.0 * np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    pts = tpl @ m.T + [60.0, 40.0]
    img = np.zeros((400, 400, 3), np.uint8)
    for x, y in pts:
        img[int(round(y)) - 2:int(round(y)) + 3, int(round(x)) - 2:int(round(x)) + 3] = 255
    box = FaceBox(0, 0, 300, 300, 1.0, dict(zip(LANDMARK_POINTS, map(tuple, pts))))
    chip = landmark_chip(img, box)
    assert chip.shape == (150, 150, 3)
    for x, y in tpl:
        assert chip[int(round(y)), int(round(x)), 0] > 100
    assert np.allclose(similarity(pts, tpl)[:, :2], np.linalg.inv(m), atol=1e-6)
    with pytest.raises(DataError, match="five landmarks"):
        landmark_chip(img, FaceBox(0, 0, 300, 300, 1.0))


@needs_dlib
def test_the_landmark_chip_needs_a_detector_with_landmarks():
    from facelab.identity.embed import CHIP, LANDMARK_CHIP, Embedder, Framing

    with pytest.raises(ConfigError, match="needs five landmarks"):
        Embedder("haar", chip=LANDMARK_CHIP)
    with pytest.raises(ConfigError, match="unknown face chip"):
        Embedder("haar", chip="square-crop")
    emb = Embedder.for_framing(Framing("haar", mirror=False, chip=CHIP))
    assert emb.framing == Framing("haar", mirror=False)


@needs_dlib
def test_both_chips_average_their_descriptors():
    from facelab.data.synth.faces import render_face
    from facelab.identity.embed import BOTH_CHIPS, Embedder, unit

    chips = [np.ascontiguousarray(render_face({"Smiling": s}, rng=np.random.default_rng(s))[0][:150, :150])
             for s in (0, 1)]
    plain = Embedder("haar", mirror=False)
    for mirror in (False, True):
        views = chips + ([c[:, ::-1] for c in chips] if mirror else [])
        want = unit(plain.descriptors(views).sum(0, keepdims=True))[0]
        both = Embedder("haar", mirror=mirror).descriptors([tuple(chips)])
        assert both.shape == (1, 128) and np.allclose(both[0], want, atol=1e-4)
    assert Embedder("mtcnn").framing.chip == BOTH_CHIPS


def test_photo_folders_follow_links_once(tmp_path):
    """A library whose albums are linked folders: their photos are found, each real folder once,
    and a link back up the tree does not loop."""
    from pathlib import Path

    from facelab.identity.photos import expand_photos

    album = tmp_path / "elsewhere" / "2019"
    album.mkdir(parents=True)
    (album / "a.jpg").write_bytes(b"x")
    lib = tmp_path / "library"
    lib.mkdir()
    (lib / "b.jpg").write_bytes(b"x")
    (lib / "2019").symlink_to(album, target_is_directory=True)
    (lib / "again").symlink_to(album, target_is_directory=True)
    (album / "up").symlink_to(tmp_path, target_is_directory=True)  # a cycle
    paths, problems, skipped = expand_photos([lib])
    assert sorted(Path(p).name for p in paths) == ["a.jpg", "b.jpg"] and not problems


@pytest.mark.parametrize("method", ["ward", "agglomerative"])
def test_large_libraries_cluster_on_a_neighbour_graph_with_the_same_groups(monkeypatch, method):
    from facelab.identity import linkage

    X, labels = clustered(20, 8, noise=0.2)
    t = 1.2 if method == "ward" else 0.8
    every_pair = linkage.cluster_vectors(X, t, method)
    monkeypatch.setattr(linkage, "GRAPH_ABOVE", 50)
    graph = linkage.cluster_vectors(X, t, method)
    assert pairwise_precision_recall(labels, graph) == (1.0, 1.0)
    assert graph.tolist() == every_pair.tolist()
