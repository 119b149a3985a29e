"""Carved splits keep byte-identical files together (tiny JPEGs with copies, in tmp_path)."""
from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from facelab.data.readers import _common, read_source
from facelab.data.readers._common import content_groups, dedup_split, seeded_split


def noise_jpeg(path: Path, seed: int) -> Path:
    """A small JPEG whose bytes differ from every other seed's."""
    path.parent.mkdir(parents=True, exist_ok=True)
    px = np.random.default_rng(seed).integers(0, 256, (12, 12, 3), dtype=np.uint8)
    Image.fromarray(px).save(path, quality=90)
    return path


def digest(path: str) -> str:
    return hashlib.blake2b(Path(path).read_bytes(), digest_size=16).hexdigest()


def spans(m, rows=None) -> int:
    """How many byte-identical groups sit in more than one split."""
    t = m.table if rows is None else m.table[rows]
    return int((t.groupby(t["path"].map(digest))["split"].nunique() > 1).sum())


def make_classes(top: Path, classes=("angry", "happy", "neutral"), n: int = 60, start: int = 0) -> None:
    """``n`` distinct images per class folder, then copies: within a class (pairs and triples)
    and across classes (the same face filed under two emotions, as in FER2013)."""
    for k, c in enumerate(classes):
        for i in range(n):
            noise_jpeg(top / c / f"img_{k}_{i:03d}.jpg", start + 1000 * k + i)
    for k, c in enumerate(classes):
        for i in range(0, 24, 2):  # 12 copies per class, some of the same file twice
            src = top / c / f"img_{k}_{i % 16 % n:03d}.jpg"
            shutil.copyfile(src, top / c / f"copy_{k}_{i:03d}.jpg")
        other = classes[(k + 1) % len(classes)]
        shutil.copyfile(top / c / f"img_{k}_{min(30, n - 1):03d}.jpg", top / other / f"cross_{k}.jpg")


def test_content_groups_parallel_matches_serial_and_unreadable_is_alone(tmp_path, monkeypatch):
    files = [str(noise_jpeg(tmp_path / f"{i}.jpg", i % 7)) for i in range(30)]
    files += [str(tmp_path / "missing.jpg"), str(tmp_path / "missing2.jpg")]
    monkeypatch.setattr(_common, "_HASH_CHUNK", 4)
    serial, parallel = content_groups(files, workers=1), content_groups(files, workers=4)
    assert serial.tolist() == parallel.tolist()
    assert len(set(serial[:30].tolist())) == 7 and serial[0] == serial[7] == serial[14]
    assert serial[30] != serial[31] and serial[30] not in serial[:30]


def test_dedup_split_without_copies_is_the_plain_split():
    y = np.repeat(np.arange(4), 25)
    plain = seeded_split(100, seed=3, strata=y)
    assert dedup_split(100, seed=3, content=np.arange(100), strata=y).tolist() == plain.tolist()
    assert dedup_split(100, seed=3, content=None, strata=y).tolist() == plain.tolist()


@pytest.mark.parametrize("seed", range(5))
def test_dedup_split_keeps_every_group_in_one_split(seed):
    rng = np.random.default_rng(seed)
    content = pd.factorize(rng.integers(0, 300, 1000))[0]  # many groups of 2-8 rows
    y = rng.integers(0, 3, 1000)
    s = dedup_split(1000, seed=seed, content=content, strata=y)
    assert (pd.Series(s).groupby(content).nunique() == 1).all()
    frac = pd.Series(s).value_counts(normalize=True)
    assert 0.7 < frac["train"] < 0.9 and 0.04 < frac["val"] < 0.16 and 0.04 < frac["test"] < 0.16


def test_fer_folders_only_train_keeps_copies_together(tmp_path):
    root = tmp_path / "fer"
    make_classes(root / "train")
    m = read_source(root)
    assert m.layout == "fer2013-folders" and spans(m) == 0
    counts = m.split_counts()
    assert sum(counts.values()) == 3 * (60 + 12 + 1)
    per = m.table.groupby(["emotion", "split"]).size().unstack(fill_value=0)
    assert ((per["val"] >= 4) & (per["val"] <= 11)).all() and ((per["test"] >= 4) & (per["test"] <= 11)).all()
    # 3 classes x (8 files copied once or twice + 1 copied across classes) = 27 groups of copies
    assert any("27 of 27 group(s) of byte-identical files" in n and "no carved val/test" in n for n in m.notes)
    again, other = read_source(root), read_source(root, seed=1)
    assert again.table["split"].tolist() == m.table["split"].tolist()
    assert other.table["split"].tolist() != m.table["split"].tolist() and spans(other) == 0


def test_fer_folders_given_test_is_never_changed(tmp_path):
    root = tmp_path / "fer"
    make_classes(root / "train")
    make_classes(root / "test", n=6, start=50_000)
    shutil.copyfile(root / "train" / "happy" / "img_1_040.jpg", root / "test" / "happy" / "leak.jpg")
    m = read_source(root)
    t = m.table
    assert (t.loc[t.image_id.str.startswith("test/"), "split"] == "test").all()
    train_rows = t.image_id.str.startswith("train/").to_numpy()
    assert set(t.loc[train_rows, "split"]) == {"train", "val"} and spans(m, train_rows) == 0


def test_class_folders_keep_copies_together(tmp_path):
    root = tmp_path / "people"
    make_classes(root, classes=("Ada", "Bob", "Zoe", "Eve"), n=40)
    a, b = read_source(root), read_source(root)
    assert a.layout == "folder" and spans(a) == 0
    assert a.table["split"].tolist() == b.table["split"].tolist()
    per = a.table.groupby(["label", "split"]).size().unstack(fill_value=0)
    assert ((per["train"] >= 35) & (per["train"] <= 45)).all()
    assert any("group(s) of byte-identical files" in n for n in a.notes)


def test_class_folders_with_train_only_carve_around_copies(tmp_path):
    root = tmp_path / "people"
    make_classes(root / "train", classes=("Ada", "Bob"), n=50)
    make_classes(root / "val", classes=("Ada", "Bob"), n=5, start=90_000)
    m = read_source(root)
    train_rows = m.table.image_id.str.startswith("train/").to_numpy()
    assert set(m.table.loc[train_rows, "split"]) == {"train", "test"} and spans(m, train_rows) == 0


def test_no_copies_no_note(tmp_path):
    root = tmp_path / "people"
    for k, c in enumerate(("Ada", "Bob")):
        for i in range(15):
            noise_jpeg(root / c / f"{i}.jpg", 100 * k + i)
    m = read_source(root)
    assert not any("byte-identical" in n for n in m.notes)


def _noise_images(img: Path, n: int, copies) -> list[str]:
    """``n`` distinct noise JPEGs named like CelebA's, then ``names[b]`` overwritten by ``names[a]``
    for each ``(a, b)`` in ``copies``."""
    names = [f"{i:06d}.jpg" for i in range(1, n + 1)]
    for i, name in enumerate(names):
        noise_jpeg(img / name, i)
    for a, b in copies:
        shutil.copyfile(img / names[a], img / names[b])
    return names


def _official_celeba(root: Path, n: int, n_ids: int, copies) -> list[str]:
    """Official layout with no partition file: images, Smiling (alternating) and identities
    ``1 + i % n_ids``; returns the image names."""
    names = _noise_images(root / "img_align_celeba", n, copies)
    (root / "list_attr_celeba.txt").write_text(f"{n}\nSmiling\n" + "".join(f"{nm} {1 if i % 2 else -1}\n"
                                                                            for i, nm in enumerate(names)))
    (root / "identity_CelebA.txt").write_text("".join(f"{nm} {1 + i % n_ids}\n" for i, nm in enumerate(names)))
    return names


def _kaggle_celeba(root: Path, n: int, pairs: list[tuple[int, int]]) -> Path:
    names = _noise_images(root / "img_align_celeba" / "img_align_celeba", n, pairs)
    (root / "list_attr_celeba.csv").write_text(
        "image_id,Smiling,Male\n" + "".join(f"{nm},{1 if i % 2 else -1},{1 if i % 3 else -1}\n"
                                            for i, nm in enumerate(names)))
    # every image in the train partition (like the Kaggle sample): val/test are carved
    (root / "list_eval_partition.csv").write_text("image_id,partition\n" + "".join(f"{nm},0\n" for nm in names))
    return root


def test_celeba_carved_splits_keep_copies_together(tmp_path):
    pairs = [(i, i + 100) for i in range(0, 40, 2)]
    m = read_source(_kaggle_celeba(tmp_path / "c", 200, pairs))
    t = m.table.set_index("image_id")["split"]
    assert all(t[f"{a + 1:06d}.jpg"] == t[f"{b + 1:06d}.jpg"] for a, b in pairs)
    assert set(m.split_counts().values()) != {0} and m.split_counts()["val"] > 0
    assert any("20 of 20 group(s) of byte-identical files" in n for n in m.notes)


def test_celeba_identity_split_merges_identities_linked_by_a_copy(tmp_path):
    root = tmp_path / "o"
    pairs = [(0, 1), (2, 3), (4, 35)]  # copies filed under different identities
    names = _official_celeba(root, 600, 60, pairs)
    for seed in range(4):
        m = read_source(root, seed=seed)
        t = m.table
        assert (t.groupby("identity")["split"].nunique() == 1).all()  # still identity-disjoint
        s = t.set_index("image_id")["split"]
        assert all(s[names[a]] == s[names[b]] for a, b in pairs)
        assert any("3 of 3 group(s)" in x for x in m.notes)


def test_celeba_copies_linking_every_identity_stay_identity_disjoint_and_are_counted(tmp_path):
    root = tmp_path / "g"
    # one copy of image 0 under every identity (30 of them): merging would leave one group
    _official_celeba(root, 300, 30, [(0, k) for k in range(1, 30)])
    m = read_source(root)
    assert (m.table.groupby("identity")["split"].nunique() == 1).all()
    assert set(m.split_counts().values()) != {0}
    assert any("0 of 1 group(s)" in x and "span two splits" in x for x in m.notes)
