"""The synthetic face generator: layouts, determinism, truthful labels, Haar-detectable faces, CLI."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from facelab.data import synth
from facelab.data.synth import ATTRIBUTES, EXPRESSIONS, UNRENDERED, render_face, synthesize
from facelab.errors import ConfigError, DataError

LM = ["lefteye_x", "lefteye_y", "righteye_x", "righteye_y", "nose_x", "nose_y",
      "leftmouth_x", "leftmouth_y", "rightmouth_x", "rightmouth_y"]


def read_attrs(root: Path) -> pd.DataFrame:
    lines = (root / "list_attr_celeba.txt").read_text().splitlines()
    assert int(lines[0]) == len(lines) - 2
    assert lines[1].split() == list(ATTRIBUTES)
    rows = [ln.split() for ln in lines[2:]]
    assert all(len(r) == 41 for r in rows)
    return pd.DataFrame([[int(v) for v in r[1:]] for r in rows], columns=list(ATTRIBUTES),
                        index=[r[0] for r in rows])


def read_landmarks(root: Path) -> pd.DataFrame:
    lines = (root / "list_landmarks_align_celeba.txt").read_text().splitlines()
    assert int(lines[0]) == len(lines) - 2
    assert lines[1].split() == LM
    rows = [ln.split() for ln in lines[2:]]
    return pd.DataFrame([[int(v) for v in r[1:]] for r in rows], columns=LM, index=[r[0] for r in rows])


def grey(root: Path, name: str) -> np.ndarray:
    return cv2.imread(str(root / "img_align_celeba" / name), cv2.IMREAD_GRAYSCALE)


def test_celeba_official_layout(synth_celeba):
    root = synth_celeba
    attrs = read_attrs(root)
    n = len(attrs)
    assert n == 600
    assert list(attrs.index[:2]) == ["000001.jpg", "000002.jpg"]
    assert set(np.unique(attrs.values)) <= {-1, 1}
    for a in UNRENDERED:
        assert (attrs[a] == -1).all(), a
    for a in ("Smiling", "Male", "Eyeglasses", "Wearing_Hat", "Bangs", "Black_Hair", "Blond_Hair",
              "Brown_Hair", "Gray_Hair", "Young", "Pale_Skin", "Mouth_Slightly_Open"):
        assert (attrs[a] == 1).sum() >= 5, f"{a} has almost no positives"
    # Partition: "name k", train rows first, ~80/10/10, and people do not cross splits.
    part = pd.read_csv(root / "list_eval_partition.txt", sep=" ", header=None, names=["image", "p"])
    assert list(part.image) == list(attrs.index)
    assert list(part.p) == sorted(part.p)
    frac = part.p.value_counts(normalize=True).sort_index()
    assert abs(frac[0] - 0.8) < 0.02 and abs(frac[1] - 0.1) < 0.02 and abs(frac[2] - 0.1) < 0.02
    ident = pd.read_csv(root / "identity_CelebA.txt", sep=" ", header=None, names=["image", "id"])
    assert list(ident.image) == list(attrs.index)
    by_split = [set(ident.id[part.p == s]) for s in range(3)]
    assert not (by_split[0] & by_split[1]) and not (by_split[0] & by_split[2])
    assert 20 <= ident.id.nunique() <= 40
    # Landmarks in CelebA's aligned framing.
    lm = read_landmarks(root)
    med = lm.median()
    for col, want in zip(LM, [69, 111, 108, 111, 89, 134, 73, 152, 105, 152]):
        assert abs(med[col] - want) <= 4, (col, med[col])
    img = cv2.imread(str(root / "img_align_celeba" / "000001.jpg"))
    assert img.shape == (218, 178, 3)
    assert (root / "img_align_celeba" / "000001.jpg").read_bytes()[:2] == b"\xff\xd8"


def test_correlations_are_realistic(synth_celeba):
    a = read_attrs(synth_celeba) == 1
    # Bearded and lipstick-wearing people are who they should be; grey hair comes with age.
    assert not (a.Wearing_Lipstick & a.Male).any()
    assert not (~a.No_Beard & ~a.Male).any()
    assert (a.Gray_Hair & a.Young).mean() < (a.Gray_Hair & ~a.Young).mean()
    assert not (a.Wearing_Hat & a.Bangs).any()
    assert not (a.Heavy_Makeup & ~a.Wearing_Lipstick).any()
    hair = a[["Black_Hair", "Blond_Hair", "Brown_Hair", "Gray_Hair"]].sum(axis=1)
    assert hair.max() <= 1
    assert not (a.Bald & (hair > 0)).any()


def _auc(values: np.ndarray, labels: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(labels, values))


def _region(root, lm, name, x0, y0, x1, y1):
    return grey(root, name)[max(int(y0), 0):int(y1), max(int(x0), 0):int(x1)]


def test_labels_are_visible_on_pixels(synth_celeba):
    """Simple pixel statistics around the true landmarks separate a few attributes."""
    root = synth_celeba
    attrs = read_attrs(root).iloc[:300]
    lm = read_landmarks(root).loc[attrs.index]
    dark_band, mouth_dark, lip_red, top_light = [], [], [], []
    for name, r in lm.iterrows():
        g = grey(root, name).astype(np.float32)
        ey = int((r.lefteye_y + r.righteye_y) / 2)
        # Glasses: dark frame pixels in a band around the eyes, relative to the face's brightness.
        band = g[ey - 12:ey + 12, int(r.lefteye_x) - 16:int(r.righteye_x) + 16]
        face = g[int(r.nose_y) - 4:int(r.nose_y) + 4, int(r.nose_x) - 20:int(r.nose_x) + 20]
        dark_band.append(np.mean(band < 0.45 * np.median(face)))
        # Open mouth: dark rows (the gap between the lips) in a strip through the mouth's centre.
        my, mx = int((r.leftmouth_y + r.rightmouth_y) / 2), int((r.leftmouth_x + r.rightmouth_x) / 2)
        strip = g[my - 4:my + 14, mx - 5:mx + 6].mean(axis=1)
        mouth_dark.append(np.sum(strip < 0.45 * np.median(face)))
        rgb = cv2.imread(str(root / "img_align_celeba" / name))[..., ::-1].astype(np.float32)
        lips = rgb[my - 4:my + 5, int(r.leftmouth_x) + 3:int(r.rightmouth_x) - 3].reshape(-1, 3)
        lip_red.append(np.mean(lips[:, 0] - (lips[:, 1] + lips[:, 2]) / 2))
        # Hair on top of the head: brightness relative to the face, between the eyes' x.
        top = g[max(int(r.lefteye_y) - 58, 0):int(r.lefteye_y) - 48, int(r.lefteye_x):int(r.righteye_x)]
        top_light.append(np.median(top) / max(np.median(face), 1))
    assert _auc(np.array(dark_band), attrs.Eyeglasses.values == 1) > 0.85
    shaved = ((attrs.No_Beard == 1) & (attrs.Mustache == -1)).values  # beards are dark too
    assert _auc(np.array(mouth_dark)[shaved], attrs.Mouth_Slightly_Open.values[shaved] == 1) > 0.85
    assert _auc(np.array(lip_red), attrs.Wearing_Lipstick.values == 1) > 0.8
    hair = attrs[(attrs.Blond_Hair == 1) | (attrs.Black_Hair == 1)]
    sel = np.isin(attrs.index, hair.index) & (attrs.Wearing_Hat.values == -1)
    assert _auc(np.array(top_light)[sel], attrs.Blond_Hair.values[sel] == 1) > 0.85


def test_landmarks_are_where_the_eyes_were_drawn(synth_celeba):
    lm = read_landmarks(synth_celeba).iloc[:150]
    darker = []
    for name, r in lm.iterrows():
        g = grey(synth_celeba, name).astype(np.float32)
        for eye in ("lefteye", "righteye"):
            x, y = int(r[f"{eye}_x"]), int(r[f"{eye}_y"])
            # The iris at the landmark is darker than the cheek 2 cm below it.
            darker.append(g[y - 1:y + 2, x - 1:x + 2].mean() < np.median(g[y + 18:y + 26, x - 4:x + 5]))
    assert np.mean(darker) > 0.9


def test_haar_cascade_finds_most_faces(synth_celeba):
    cascade = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_default.xml")
    names = sorted((synth_celeba / "img_align_celeba").glob("*.jpg"))[:150]
    found = 0
    for p in names:
        g = cv2.imread(str(p), cv2.IMREAD_GRAYSCALE)
        found += len(cascade.detectMultiScale(g, scaleFactor=1.1, minNeighbors=3, minSize=(40, 40))) > 0
    assert found / len(names) >= 0.85


def test_same_seed_same_files_whatever_the_workers(tmp_path, monkeypatch):
    a = synthesize(tmp_path / "a", kind="celeba", n=24, seed=3, workers=1)
    monkeypatch.setattr(synth, "_CHUNK", 8)  # three chunks over two processes
    b = synthesize(tmp_path / "b", kind="celeba", n=24, seed=3, workers=2)
    for f in ("list_attr_celeba.txt", "list_eval_partition.txt", "identity_CelebA.txt",
              "list_landmarks_align_celeba.txt"):
        assert (a / f).read_bytes() == (b / f).read_bytes(), f
    for p in (a / "img_align_celeba").iterdir():
        assert p.read_bytes() == (b / "img_align_celeba" / p.name).read_bytes()
    c = synthesize(tmp_path / "c", kind="celeba", n=24, seed=4)
    assert (a / "img_align_celeba" / "000001.jpg").read_bytes() != (c / "img_align_celeba" / "000001.jpg").read_bytes()


def test_fer_csv(synth_fer):
    df = pd.read_csv(synth_fer / "fer2013.csv")
    assert list(df.columns) == ["emotion", "pixels", "Usage"]
    assert len(df) == 350 and set(df.emotion) == set(range(7))
    px = np.stack([np.array(p.split(), dtype=np.int32) for p in df.pixels])
    assert px.shape == (350, 2304) and px.min() >= 0 and px.max() <= 255
    assert df.Usage.value_counts().to_dict() == {"Training": 280, "PublicTest": 35, "PrivateTest": 35}
    assert list(df.Usage) == sorted(df.Usage, key=["Training", "PublicTest", "PrivateTest"].index)
    share = df.groupby("emotion").Usage.apply(lambda u: (u == "Training").mean())
    assert share.between(0.7, 0.9).all(), share  # splits are stratified by expression
    # The expressions are learnable from their shapes (HOG + a linear model), yet no single pixel
    # gives them away.
    from skimage.feature import hog
    from sklearn.linear_model import RidgeClassifier

    x = px / 255.0
    h = np.stack([hog(im.reshape(48, 48), orientations=8, pixels_per_cell=(6, 6), cells_per_block=(1, 1))
                  for im in x])
    train, test = (df.Usage == "Training").values, (df.Usage != "Training").values
    clf = RidgeClassifier(alpha=1.0).fit(h[train], df.emotion[train])
    majority = df.emotion[test].value_counts(normalize=True).max()
    assert clf.score(h[test], df.emotion[test]) > max(0.6, majority + 0.15)
    happy, neutral = x[df.emotion == 3], x[df.emotion == 6]
    best = 0.0
    for j in range(0, 2304, 7):
        t = np.median(np.concatenate([happy[:, j], neutral[:, j]]))
        acc = (np.mean(happy[:, j] > t) + np.mean(neutral[:, j] <= t)) / 2
        best = max(best, acc, 1 - acc)
    assert best < 0.9


def test_fer_folders(tmp_path):
    root = synthesize(tmp_path / "fer", kind="fer2013", n=30, seed=1, fer_form="folders")
    files = sorted(root.glob("*/*/*.jpg"))
    assert len(files) == 30
    assert {f.parent.parent.name for f in files} == {"train", "test"}
    assert {f.parent.name for f in files} <= set(EXPRESSIONS)
    assert cv2.imread(str(files[0]), cv2.IMREAD_UNCHANGED).shape[:2] == (48, 48)


def test_folder_per_identity(synth_folder):
    people = sorted(p for p in synth_folder.iterdir() if p.is_dir())
    assert len(people) == 4
    for p in people:
        files = sorted(p.glob("*.jpg"))
        assert len(files) == 30
        assert files[0].name == f"{p.name}_0001.jpg"
    assert cv2.imread(str(files[0])).shape == (250, 250, 3)


def test_each_person_keeps_a_look(synth_folder):
    """Skin chromaticity around the nose varies much less within a person than between people."""
    colours, who = [], []
    for k, person in enumerate(sorted(p for p in synth_folder.iterdir() if p.is_dir())):
        for f in sorted(person.glob("*.jpg")):
            patch = cv2.imread(str(f))[140:160, 115:135].reshape(-1, 3).astype(np.float64).mean(0)
            colours.append(patch / patch.sum())
            who.append(k)
    colours, who = np.array(colours), np.array(who)
    within = np.mean([colours[who == k].var(0).sum() for k in range(4)])
    between = np.array([colours[who == k].mean(0) for k in range(4)]).var(0).sum()
    assert within < 0.5 * between


def test_render_face_in_memory():
    img, lm = render_face({"Smiling": 1, "Eyeglasses": 1}, rng=np.random.default_rng(0))
    assert img.shape == (218, 178, 3) and img.dtype == np.uint8
    assert set(lm) == {"lefteye", "righteye", "nose", "leftmouth", "rightmouth"}
    assert abs(lm["lefteye"][0] - 69) < 8 and abs(lm["righteye"][1] - 111) < 8
    big, lm2 = render_face({}, rng=np.random.default_rng(0), size=(356, 436))
    assert big.shape == (436, 356, 3)
    assert abs(lm2["lefteye"][0] - 138) < 16
    again, _ = render_face({"Smiling": 1, "Eyeglasses": 1}, rng=np.random.default_rng(0))
    assert np.array_equal(img, again)
    with pytest.raises(ConfigError, match="expression"):
        render_face({}, rng=np.random.default_rng(0), expression="bored")
    with pytest.raises(ConfigError, match="size"):
        render_face({}, rng=np.random.default_rng(0), size=(0, 10))
    for name in EXPRESSIONS:
        face, _ = render_face({}, rng=np.random.default_rng(1), expression=name)
        assert face.shape == (218, 178, 3)


def test_bad_arguments_are_facelab_errors(tmp_path):
    with pytest.raises(ConfigError, match="kind"):
        synthesize(tmp_path / "x", kind="imagenet", n=5)
    with pytest.raises(ConfigError):
        synthesize(tmp_path / "x", n=0)
    with pytest.raises(ConfigError):
        synthesize(tmp_path / "x", kind="folder", n=5, identities=9)
    (tmp_path / "file").write_text("x")
    with pytest.raises(DataError):
        synthesize(tmp_path / "file", n=5)


def test_cli(tmp_path, capsys):
    from facelab.cli.main import main

    main(["data", "synth", str(tmp_path / "all"), "--kind", "all", "--n", "12", "--identities", "3", "--seed", "2"])
    assert (tmp_path / "all" / "celeba" / "list_attr_celeba.txt").is_file()
    assert (tmp_path / "all" / "fer2013" / "fer2013.csv").is_file()
    assert len(list((tmp_path / "all" / "folder").glob("*/*.jpg"))) == 12
    with pytest.raises(SystemExit) as e:
        main(["data", "synth", str(tmp_path / "bad"), "--kind", "mnist"])
    assert e.value.code == 2
    assert "unknown synthetic kind" in capsys.readouterr().err


def test_workers_from_piped_code_and_unguarded_scripts(tmp_path):
    """Spawned workers re-import __main__: piped code renders in-process, an unguarded script
    falls back to one process with a warning — both still write the dataset."""
    import subprocess
    import sys

    code = ("from facelab.data.synth import synthesize\n"
            f"synthesize(r'{tmp_path}/{{}}', kind='fer2013', n=300, seed=0, workers=2)\n")
    env = {**__import__("os").environ, "PYTHONWARNINGS": "default"}
    piped = subprocess.run([sys.executable, "-"], input=code.format("piped"), text=True,
                           capture_output=True, timeout=300, env=env)
    assert piped.returncode == 0, piped.stderr
    script = tmp_path / "unguarded.py"
    script.write_text(code.format("script"))
    run = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300, env=env)
    assert run.returncode == 0, run.stderr
    assert "__main__" in run.stderr  # the warning names the fix
    a = (tmp_path / "piped" / "fer2013.csv").read_bytes()
    assert a == (tmp_path / "script" / "fer2013.csv").read_bytes()
