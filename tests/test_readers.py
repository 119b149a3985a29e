"""Readers: every layout, detection, and every kind of bad input (tiny files in tmp_path)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from facelab.data.manifest import Manifest
from facelab.data.readers import DETECTION_ORDER, READERS, detect_layout, read_source
from facelab.data.readers._common import EXAMPLES_PER_KIND
from facelab.errors import DataError

ATTRS = ["5_o_Clock_Shadow", "Male", "Smiling"]
LANDMARKS = ["lefteye_x", "lefteye_y", "righteye_x", "righteye_y", "nose_x", "nose_y",
             "leftmouth_x", "leftmouth_y", "rightmouth_x", "rightmouth_y"]


def jpeg(path: Path, value: int = 100, size=(16, 20)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((size[1], size[0], 3), value % 256, np.uint8)).save(path, quality=90)
    return path


def attr_value(i: int, j: int) -> int:
    return 1 if (i * (j + 2)) % 3 == 0 else -1


def make_celeba(root: Path, *, kaggle: bool, n: int = 12, on_disk=None, partition=True, identity=True,
                extras=True, extra_rows=(), n_ids: int = 3) -> Path:
    """A CelebA with n labelled images; ``on_disk`` limits which ones get a file."""
    img = root / "img_align_celeba" / ("img_align_celeba" if kaggle else "")
    img.mkdir(parents=True, exist_ok=True)
    names = [f"{i:06d}.jpg" for i in range(1, n + 1)]
    for i, name in enumerate(names, 1):
        if on_disk is None or i in on_disk:
            jpeg(img / name, i * 7)
    if kaggle:
        rows = [",".join([name, *(str(attr_value(i, j)) for j in range(len(ATTRS)))]) for i, name in enumerate(names, 1)]
        (root / "list_attr_celeba.csv").write_text("image_id," + ",".join(ATTRS) + "\n" + "\n".join([*rows, *extra_rows]) + "\n")
        if partition:
            (root / "list_eval_partition.csv").write_text(
                "image_id,partition\n" + "\n".join(f"{nm},{i % 3}" for i, nm in enumerate(names, 1)) + "\n")
        if extras:
            (root / "list_bbox_celeba.csv").write_text(
                "image_id,x_1,y_1,width,height\n" + "\n".join(f"{nm},{i},{i + 1},{50 + i},{60 + i}" for i, nm in enumerate(names, 1)) + "\n")
            (root / "list_landmarks_align_celeba.csv").write_text(
                "image_id," + ",".join(LANDMARKS) + "\n" + "\n".join(nm + "," + ",".join(str(i + k) for k in range(10)) for i, nm in enumerate(names, 1)) + "\n")
    else:
        rows = [" ".join([name, *(f"{attr_value(i, j):2d}" for j in range(len(ATTRS)))]) for i, name in enumerate(names, 1)]
        all_rows = [*rows, *extra_rows]
        (root / "list_attr_celeba.txt").write_text(f"{len(all_rows)}\n" + " ".join(ATTRS) + " \n" + "\n".join(all_rows) + "\n")
        if partition:
            (root / "list_eval_partition.txt").write_text("\n".join(f"{nm} {i % 3}" for i, nm in enumerate(names, 1)) + "\n")
        if identity:
            # identities 10, 2, 33 on purpose: classes must sort numerically
            ids = [(10, 2, 33)[i % 3] if n_ids == 3 else 1 + i % n_ids for i in range(1, n + 1)]
            (root / "identity_CelebA.txt").write_text("\n".join(f"{nm} {k}" for nm, k in zip(names, ids)) + "\n")
        if extras:
            (root / "list_landmarks_align_celeba.txt").write_text(
                f"{n}\n" + " ".join(LANDMARKS) + "\n" + "\n".join(nm + " " + " ".join(str(i + k) for k in range(10)) for i, nm in enumerate(names, 1)) + "\n")
            (root / "list_bbox_celeba.txt").write_text(
                f"{n}\nimage_id x_1 y_1 width height\n" + "\n".join(f"{nm} {i} {i + 1} {50 + i} {60 + i}" for i, nm in enumerate(names, 1)) + "\n")
    return root


def make_fer_csv(root: Path, n: int = 21, usage=True) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    px = " ".join(["128"] * 2304)
    df = pd.DataFrame({"emotion": [i % 7 for i in range(n)], "pixels": [px] * n})
    if usage:
        df["Usage"] = (["Training"] * (n - 6)) + ["PublicTest"] * 3 + ["PrivateTest"] * 3
    df.to_csv(root / "fer2013.csv", index=False)
    return root


# -- CelebA -------------------------------------------------------------------------------------
def test_celeba_official(tmp_path):
    m = read_source(make_celeba(tmp_path / "c", kaggle=False))
    assert m.layout == "celeba-official"
    assert len(m) == 12 and m.attributes == ATTRS
    t = m.table
    for j, a in enumerate(ATTRS):
        assert t[a].dtype == np.int8
        expected = [1 if attr_value(i, j) == 1 else 0 for i in range(1, 13)]
        assert t[a].tolist() == expected
    assert t["split"].tolist() == [("train", "val", "test")[i % 3] for i in range(1, 13)]
    assert m.labels["identity"].classes == ["2", "10", "33"]
    assert [m.labels["identity"].classes[k] for k in t["identity"]] == [str((10, 2, 33)[i % 3]) for i in range(1, 13)]
    assert t["lefteye_x"].tolist() == list(range(1, 13)) and t["bbox_h"].iloc[0] == 61
    assert Path(t["path"].iloc[0]).is_file() and Path(t["path"].iloc[0]).is_absolute()
    assert m.problems == [] and m.notes == []


@pytest.mark.parametrize("given", ["", "img_align_celeba", "img_align_celeba/img_align_celeba"])
def test_celeba_kaggle_and_where_it_is_pointed(tmp_path, given):
    root = make_celeba(tmp_path / "k", kaggle=True)
    m = read_source(root / given if given else root)
    assert m.layout == "celeba-kaggle" and m.root == root.resolve()
    assert len(m) == 12 and m.attributes == ATTRS
    assert {"bbox_x", "bbox_w", "rightmouth_y"} <= set(m.table.columns)
    assert "identity" not in m.labels


def test_partly_extracted_download(tmp_path):
    # like /work/shared/data/celeba: most rows have no image, all images in the train partition
    on_disk = {i for i in range(1, 200) if i % 3 == 0}
    m = read_source(make_celeba(tmp_path / "p", kaggle=True, n=199, on_disk=on_disk, extras=False))
    assert len(m) == len(on_disk)
    missing = 199 - len(on_disk)
    assert m.problem_counts() == {"missing_image": missing}
    assert len([p for p in m.problems if p.kind == "missing_image"]) == EXAMPLES_PER_KIND + 1
    assert any("not on disk" in n for n in m.notes)
    # every image is in the official partition 0 here, so val/test are carved out of train
    counts = m.split_counts()
    assert counts["val"] > 0 and counts["test"] > 0
    assert any("carved out" in n for n in m.notes)


def test_bad_rows_values_duplicates_and_empty_file(tmp_path):
    extra = ["000013.jpg 1 2 1", "000014.jpg 1 -1", "000015.jpg 1 1 1 1", "000003.jpg 1 1 1",
             "000016.jpg 1 x 1"]
    root = make_celeba(tmp_path / "b", kaggle=False, extra_rows=extra, partition=False, identity=False)
    (root / "img_align_celeba" / "000002.jpg").write_bytes(b"")
    m = read_source(root)
    c = m.problem_counts()
    assert c == {"bad_value": 2, "bad_row": 2, "duplicate_id": 1, "empty_file": 1}
    bad = {p.path for p in m.problems if p.kind in ("bad_row", "bad_value")}
    assert bad == {"list_attr_celeba.txt:15", "list_attr_celeba.txt:16", "list_attr_celeba.txt:17",
                   "list_attr_celeba.txt:19"}
    assert len(m) == 11  # 12 labelled, one empty file; duplicate kept once
    first3 = m.table.set_index("image_id").loc["000003.jpg", ATTRS].tolist()
    assert first3 == [1 if attr_value(3, j) == 1 else 0 for j in range(3)]  # the first row wins


def test_rows_with_many_extra_values_use_the_slow_path(tmp_path):
    root = make_celeba(tmp_path / "s", kaggle=False, extra_rows=["000013.jpg 1 1 1 1 1 1 1"])
    m = read_source(root)
    assert m.problem_counts() == {"bad_row": 1} and len(m) == 12


def test_mostly_bad_rows_is_an_error(tmp_path):
    root = tmp_path / "bad"
    jpeg(root / "img_align_celeba" / "000001.jpg")
    rows = [f"{i:06d}.jpg 1 7 1" for i in range(1, 10)]
    (root / "list_attr_celeba.txt").write_text("9\nA B C\n" + "\n".join(rows) + "\n")
    with pytest.raises(DataError, match="9 of 9 rows are malformed"):
        read_source(root)


def test_csv_missing_columns_names_expected_and_found(tmp_path):
    root = make_celeba(tmp_path / "m", kaggle=True, extras=False)
    (root / "list_eval_partition.csv").write_text("image_id,part\n000001.jpg,0\n")
    with pytest.raises(DataError) as e:
        read_source(root)
    msg = str(e.value)
    assert "partition" in msg and "expected image_id, partition" in msg and "found image_id, part" in msg
    (root / "list_attr_celeba.csv").write_text("name_of_file;Smiling\n000001.jpg;1\n")
    with pytest.raises(DataError, match="expected image_id"):
        read_source(root)


def test_no_partition_file_seeded_identity_disjoint_split(tmp_path):
    root = make_celeba(tmp_path / "n", kaggle=False, n=300, partition=False, extras=False, n_ids=30)
    a, b, c = read_source(root, seed=0), read_source(root, seed=0), read_source(root, seed=1)
    assert a.table["split"].tolist() == b.table["split"].tolist()
    assert any("no list_eval_partition" in n and "identity-disjoint" in n for n in a.notes)
    per_id = a.table.groupby("identity")["split"].nunique()
    assert (per_id == 1).all()
    counts = a.split_counts()
    assert 210 <= counts["train"] <= 270 and counts["val"] >= 10 and counts["test"] >= 10
    assert a.table["split"].tolist() != c.table["split"].tolist()
    few = read_source(make_celeba(tmp_path / "few", kaggle=False, n=60, partition=False, extras=False))
    assert any("random" in n for n in few.notes) and few.split_counts()["test"] > 0


def test_no_image_folder_and_no_images(tmp_path):
    root = tmp_path / "x"
    root.mkdir()
    (root / "list_attr_celeba.txt").write_text("1\nSmiling\n000001.jpg 1\n")
    with pytest.raises(DataError, match="no img_align_celeba/ image folder"):
        read_source(root)
    (root / "img_align_celeba").mkdir()
    with pytest.raises(DataError, match="no usable images"):
        read_source(root)


def test_empty_label_file(tmp_path):
    root = make_celeba(tmp_path / "e", kaggle=False)
    (root / "list_attr_celeba.txt").write_text("")
    with pytest.raises(DataError, match="empty"):
        read_source(root)


# -- FER2013 -------------------------------------------------------------------------------------
def test_fer_csv_usage_and_bad_rows(tmp_path):
    root = make_fer_csv(tmp_path / "f")
    df = pd.read_csv(root / "fer2013.csv")
    df.loc[1, "pixels"] = "1 2 3"
    df.loc[2, "emotion"] = 9
    df.loc[4, "Usage"] = "Validation"
    df.to_csv(root / "fer2013.csv", index=False)
    for given in (root, root / "fer2013.csv"):
        m = read_source(given)
        assert m.layout == "fer2013-csv"
        assert m.problem_counts() == {"bad_row": 1, "bad_value": 2}
        assert m.split_counts() == {"train": 12, "val": 3, "test": 3}
        assert m.labels["emotion"].classes[:3] == ["angry", "disgust", "fear"]
        assert m.table["row"].tolist()[:3] == [0, 3, 5]
        assert m.table["emotion"].tolist()[:2] == [0, 3]
        assert set(m.table["path"]) == {str((root / "fer2013.csv").resolve())}


def test_fer_csv_rows_with_wrong_field_counts_keep_file_rows(tmp_path):
    root = make_fer_csv(tmp_path / "w", n=10)
    lines = (root / "fer2013.csv").read_text().splitlines()
    lines[3] += ",surplus"  # data row 2
    lines[5] = "4"          # data row 4
    (root / "fer2013.csv").write_text("\n".join(lines) + "\n")
    m = read_source(root)
    assert m.problem_counts() == {"bad_row": 2}
    assert sorted(p.path for p in m.problems) == ["fer2013.csv:4", "fer2013.csv:6"]
    assert m.table["row"].tolist() == [0, 1, 3, 5, 6, 7, 8, 9]
    assert m.table["emotion"].tolist() == [0, 1, 3, 5, 6, 0, 1, 2]


def test_fer_csv_without_usage_and_missing_columns(tmp_path):
    m = read_source(make_fer_csv(tmp_path / "nu", n=70, usage=False))
    assert set(m.split_counts().values()) == {56, 7} and any("no Usage" in n for n in m.notes)
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "fer2013.csv").write_text("emotion,pixel\n0,1 2\n")
    with pytest.raises(DataError, match="expected emotion, pixels; found emotion, pixel"):
        read_source(tmp_path / "bad")


def test_fer_folders_carve_val_out_of_train(tmp_path):
    root = tmp_path / "fer"
    for k, emo in enumerate(["happy", "angry", "neutral"]):
        for i in range(20):
            jpeg(root / "train" / emo / f"Training_{k}{i}.jpg", i)
        for i in range(3):
            jpeg(root / "test" / emo / f"PublicTest_{k}{i}.jpg", i)
    m = read_source(root)
    assert m.layout == "fer2013-folders"
    assert m.split_counts() == {"train": 54, "val": 6, "test": 9}
    assert any("val 10% carved out of train" in n for n in m.notes)
    t = m.table
    assert (t[t.split == "val"].groupby("emotion").size() == 2).all()  # stratified
    assert set(t.loc[t.image_id.str.startswith("train/happy/"), "emotion"]) == {3}
    assert set(t.loc[t.image_id.str.startswith("train/neutral/"), "emotion"]) == {6}


# -- class folders -----------------------------------------------------------------------------
def test_folder_stratified_split_and_problems(tmp_path):
    root = tmp_path / "people"
    for k, person in enumerate(["Zoe", "Ada", "Bob"]):
        for i in range(10):
            jpeg(root / person / f"{i}.jpg", k * 10 + i)
    jpeg(root / "Ada" / "more" / "x.jpg")          # nested: still Ada
    (root / "Bob" / "notes.txt").write_text("hi")  # not an image
    (root / "Bob" / "0.jpg").write_bytes(b"")       # zero bytes
    (root / "Empty").mkdir()
    jpeg(root / "stray.jpg")
    m = read_source(root)
    assert m.layout == "folder" and m.labels["label"].classes == ["Ada", "Bob", "Zoe"]
    assert m.problem_counts() == {"not_an_image": 1, "empty_file": 1, "empty_class": 1, "unlabelled_image": 1}
    assert len(m) == 30 and (m.table.label == 0).sum() == 11
    by = m.table.groupby(["label", "split"]).size().unstack(fill_value=0)
    assert (by["val"] >= 1).all() and (by["test"] >= 1).all()
    assert any("stratified" in n for n in m.notes)
    assert read_source(root, seed=0).table.split.tolist() == m.table.split.tolist()


def test_folder_with_split_folders(tmp_path):
    root = tmp_path / "smile"
    for split, n in (("train", 6), ("val", 2), ("test", 2)):
        for cls in ("smiling", "not_smiling"):
            for i in range(n):
                jpeg(root / split / cls / f"{i}.jpg")
    m = read_source(root)
    assert m.layout == "folder" and m.split_counts() == {"train": 12, "val": 4, "test": 4}
    assert m.labels["label"].classes == ["not_smiling", "smiling"] and m.notes == []


# -- detection and errors ----------------------------------------------------------------------
def test_empty_and_unrecognised_folders(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError) as e:
        read_source(tmp_path / "empty")
    assert "the folder is empty" in str(e.value)
    for name in DETECTION_ORDER:
        assert name in str(e.value)
    (tmp_path / "odd").mkdir()
    (tmp_path / "odd" / "readme.md").write_text("x")
    with pytest.raises(DataError, match=r"1 file\(s\) \(1 \.md\): readme\.md"):
        read_source(tmp_path / "odd")
    with pytest.raises(DataError, match="does not exist"):
        read_source(tmp_path / "nowhere")
    jpeg(tmp_path / "celeba_images_only" / "img_align_celeba" / "000001.jpg")
    with pytest.raises(DataError, match=r"1 folder\(s\): img_align_celeba/"):
        read_source(tmp_path / "celeba_images_only")


def test_every_registered_reader_is_detected(tmp_path):
    fer_dir = tmp_path / "ferf"
    for emo in ("sad", "fear"):
        for i in range(3):
            jpeg(fer_dir / "train" / emo / f"{i}.jpg")
    sources = {
        "celeba-official": make_celeba(tmp_path / "o", kaggle=False, extras=False),
        "celeba-kaggle": make_celeba(tmp_path / "k", kaggle=True, extras=False),
        "fer2013-csv": make_fer_csv(tmp_path / "fc"),
        "fer2013-folders": fer_dir,
        "folder": fer_dir / "train",
    }
    assert set(READERS.list()) == set(sources) == set(DETECTION_ORDER)
    for name, path in sources.items():
        assert detect_layout(path) == name
        m = read_source(path)
        assert m.layout == name and len(m) > 0
        assert list(m.table.columns[:3]) == ["image_id", "path", "split"]
        assert m.table["image_id"].is_unique and set(m.table["split"]) <= {"train", "val", "test"}
        for col, info in m.labels.items():
            assert m.table[col].between(0, len(info.classes) - 1).all()


def test_manifest_roundtrip_keeps_summarised_counts(tmp_path):
    m = read_source(make_celeba(tmp_path / "r", kaggle=True, n=40, on_disk={1, 2, 3}, extras=False))
    assert m.problem_counts()["missing_image"] == 37
    back = Manifest.load(m.save(tmp_path / "saved"))
    assert back.problem_counts() == m.problem_counts()
    pd.testing.assert_frame_equal(back.table, m.table, check_dtype=False)


def test_synthetic_sources(synth_celeba, synth_fer, synth_folder):
    assert read_source(synth_celeba).layout == "celeba-official"
    assert read_source(synth_fer).layout == "fer2013-csv"
    m = read_source(synth_folder)
    assert m.layout == "folder" and len(m.labels["label"].classes) == 4
