"""The prepared cache: format, bad images skipped and counted, subsets, reuse, resume, atomicity."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from facelab.data import cache as cache_mod
from facelab.data.cache import prepare
from facelab.data.manifest import LabelInfo, Manifest
from facelab.data.prepared import PreparedDataset
from facelab.errors import ConfigError, DataError


def _img(i: int, w=178, h=218) -> np.ndarray:
    """Image i has a flat colour that encodes i, so cache rows can be traced to their source."""
    return np.full((h, w, 3), (i * 7 % 256, i * 13 % 256, 100), np.uint8)


def _manifest(root, n=40, *, bad: dict | None = None, classes=2, fmt="jpg") -> Manifest:
    """n small images in root; ``bad`` maps index -> bytes to write instead (corrupt files)."""
    root.mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(n):
        p = root / f"{i:05d}.{fmt}"
        if bad and i in bad:
            p.write_bytes(bad[i])
        else:
            Image.fromarray(_img(i)).save(p, **({"quality": 95} if fmt == "jpg" else {}))
        split = "train" if i % 5 < 3 else "val" if i % 5 == 3 else "test"
        rows.append({"image_id": p.name, "path": str(p), "split": split, "label": i % classes})
    t = pd.DataFrame(rows)
    t["label"] = t["label"].astype("int16")
    return Manifest(t, root, "folder", {"label": LabelInfo("label", "multiclass", [f"c{k}" for k in range(classes)])})


def test_prepare_writes_the_reader_format(tmp_path):
    m = _manifest(tmp_path / "src", n=30)
    ds = prepare(m, size=16, out=tmp_path / "c", progress=False, workers=1)
    assert isinstance(ds, PreparedDataset)
    assert ds.images.shape == (30, 16, 16, 3) and ds.images.dtype == np.uint8
    assert (ds.path / "meta.json").is_file() and not (tmp_path / "c.partial").exists()
    meta = ds.meta
    assert meta["complete"] and meta["n"] == 30 and meta["channels"] == 3 and meta["crop"] == "square"
    assert meta["source_size"] == [178, 218] and round(meta["crop_box"][1] * 218) == 20
    for i in (0, 7, 29):  # row i is image i, colour intact (RGB order)
        assert np.abs(ds.images[i].astype(int) - _img(i)[0, 0]).max() <= 3
    assert list(ds.table["image_id"]) == list(m.table["image_id"])


@pytest.mark.timeout(120)
def test_grey_and_parallel(tmp_path, monkeypatch):
    import cv2

    import torch

    # The caller has used torch's and OpenCV's thread pools: workers must not inherit them (forked
    # workers hung in their first OpenCV call after a torch/streamlit test had run).
    torch.set_num_threads(2)
    (torch.ones(300, 300) @ torch.ones(300, 300)).sum()
    cv2.setNumThreads(2)
    cv2.GaussianBlur(np.zeros((600, 600, 3), np.uint8), (15, 15), 5)
    monkeypatch.setattr(cache_mod, "POOL_MIN", 0)
    m = _manifest(tmp_path / "src", n=1200)  # 3 chunks -> the process pool is used
    ds = prepare(m, size=8, grey=True, out=tmp_path / "g", progress=False, workers=2)
    assert ds.images.shape == (1200, 8, 8, 1) and ds.meta["grey"]
    expect = np.array([0.299, 0.587, 0.114]) @ _img(1100)[0, 0]
    assert abs(int(ds.images[1100, 4, 4, 0]) - expect) <= 3


def test_bad_images_skipped_and_counted(tmp_path):
    good = (tmp_path / "x.jpg")
    Image.fromarray(_img(0)).save(good)
    bad = {3: b"", 5: b"not an image", 8: good.read_bytes()[:700]}
    m = _manifest(tmp_path / "src", n=12, bad=bad)
    ds = prepare(m, size=16, out=tmp_path / "c", progress=False, workers=1)
    assert len(ds) == 9
    assert ds.meta["skipped"] == {"empty_file": 1, "corrupt_image": 1, "truncated_image": 1}
    assert set(ds.table["image_id"]) == {f"{i:05d}.jpg" for i in range(12)} - {"00003.jpg", "00005.jpg", "00008.jpg"}
    kinds = {p.kind for p in ds.manifest.problems}
    assert {"empty_file", "corrupt_image", "truncated_image"} <= kinds
    # rows stay aligned after compaction
    for r, iid in enumerate(ds.table["image_id"]):
        assert np.abs(ds.images[r, 8, 8].astype(int) - _img(int(iid[:5]))[0, 0]).max() <= 3


def test_all_bad_is_a_dataerror(tmp_path):
    m = _manifest(tmp_path / "src", n=3, bad={0: b"", 1: b"", 2: b"x"})
    with pytest.raises(DataError, match="none of the 3 images"):
        prepare(m, size=16, out=tmp_path / "c", progress=False)


def test_reuse_and_force(tmp_path, monkeypatch):
    m = _manifest(tmp_path / "src", n=10)
    ds = prepare(m, size=16, out=tmp_path / "c", progress=False)
    calls = []
    monkeypatch.setattr(cache_mod, "_run", lambda *a, **k: calls.append(1) or [])
    again = prepare(m, size=16, out=tmp_path / "c", progress=False)
    assert calls == [] and again.meta["created"] == ds.meta["created"]
    prepare(m, size=16, out=tmp_path / "c", progress=False, force=True)
    assert calls == [1]
    changed = Manifest(m.table.iloc[:-1], m.root, m.layout, m.labels)
    monkeypatch.undo()
    assert len(prepare(changed, size=16, out=tmp_path / "c", progress=False)) == 9  # source changed
    assert len(prepare(m, size=16, grey=True, out=tmp_path / "c", progress=False)) == 10  # options changed


def test_interrupted_prepare_resumes(tmp_path, monkeypatch):
    m = _manifest(tmp_path / "src", n=1100)  # 3 chunks of 512
    real = cache_mod._decode_chunk
    seen = []

    def flaky(job):
        seen.append(job["k"])
        if len(seen) == 2:
            raise KeyboardInterrupt
        return real(job)

    monkeypatch.setattr(cache_mod, "_decode_chunk", flaky)
    with pytest.raises(KeyboardInterrupt):
        prepare(m, size=8, out=tmp_path / "c", progress=False, workers=1)
    assert not (tmp_path / "c").exists() and (tmp_path / "c.partial").is_dir()
    seen.clear()
    monkeypatch.setattr(cache_mod, "_decode_chunk", lambda job: seen.append(job["k"]) or real(job))
    ds = prepare(m, size=8, out=tmp_path / "c", progress=False, workers=1)
    assert seen == [512, 1024] and len(ds) == 1100  # chunk 0 was not redone
    assert np.abs(ds.images[3, 4, 4].astype(int) - _img(3)[0, 0]).max() <= 3


def test_limit_is_stratified_and_seeded(tmp_path):
    m = _manifest(tmp_path / "src", n=100)
    a = prepare(m, size=8, limit=20, seed=1, out=tmp_path / "a", progress=False)
    b = prepare(m, size=8, limit=20, seed=1, out=tmp_path / "b", progress=False)
    assert len(a) == 20 and list(a.table["image_id"]) == list(b.table["image_id"])
    assert a.manifest.split_counts() == {"train": 12, "val": 4, "test": 4}
    assert "limit=20" in a.meta["subset"]


def test_per_class_balances_train(tmp_path):
    m = _manifest(tmp_path / "src", n=200, classes=4)
    t = m.table
    t.loc[(t["split"] == "train") & (t.index % 7 == 0), "label"] = 0  # make class 0 common
    ds = prepare(m, size=8, per_class=10, out=tmp_path / "p", progress=False)
    train = ds.table[ds.table["split"] == "train"]
    assert train["label"].value_counts().to_dict() == {0: 10, 1: 10, 2: 10, 3: 10}
    assert 0 < (ds.table["split"] == "test").sum() < (t["split"] == "test").sum()


def test_per_class_needs_a_class_column(tmp_path):
    m = _manifest(tmp_path / "src", n=10)
    m = Manifest(m.table.rename(columns={"label": "Smiling"}).assign(Smiling=lambda d: (d.Smiling % 2).astype("int8")),
                 m.root, "celeba-official", {"Smiling": LabelInfo.binary("Smiling")}, ["Smiling"])
    with pytest.raises(ConfigError, match="--by"):
        prepare(m, size=8, per_class=2, out=tmp_path / "p", progress=False)
    with pytest.raises(ConfigError, match="unknown label"):
        prepare(m, size=8, per_class=2, by="Smilng", out=tmp_path / "p", progress=False)
    ds = prepare(m, size=8, per_class=2, by="Smiling", out=tmp_path / "p", progress=False)
    assert (ds.table[ds.table.split == "train"]["Smiling"].value_counts() == 2).all()


def test_bad_options(tmp_path):
    m = _manifest(tmp_path / "src", n=3)
    for kw in ({"size": 0}, {"size": 16.5}, {"limit": -1}, {"crop": "roundish"}):
        with pytest.raises(ConfigError):
            prepare(m, **{"size": 16, **kw}, out=tmp_path / "c", progress=False)
    with pytest.raises(DataError):
        prepare(tmp_path / "does-not-exist", size=16, progress=False)


def test_crop_options_recorded(tmp_path):
    m = _manifest(tmp_path / "src", n=3)
    face = prepare(m, size=16, crop="face", out=tmp_path / "f", progress=False)
    assert face.meta["crop_box_px"] == [19, 48, 159, 188]
    px = prepare(m, size=16, crop="10,20,110,120", out=tmp_path / "x", progress=False)
    assert px.meta["crop_box_px"] == [10, 20, 110, 120] and px.meta["crop"] == "10,20,110,120"
    full = prepare(m, size=16, crop="full", out=tmp_path / "u", progress=False)
    assert full.meta["crop_box"] == [0, 0, 1, 1]


def test_fer_csv_rows_parsed_with_numpy(tmp_path):
    rng = np.random.default_rng(0)
    pix = rng.integers(0, 256, (6, 48 * 48))
    rows = [" ".join(map(str, p)) for p in pix]
    rows[4] = "1 2 3"  # a bad row
    csv = tmp_path / "fer2013.csv"
    pd.DataFrame({"emotion": [0, 1, 2, 3, 4, 5], "pixels": rows, "Usage": ["Training"] * 6}).to_csv(csv, index=False)
    t = pd.DataFrame({"image_id": [f"r{i}" for i in range(6)], "path": str(csv), "split": "train",
                      "emotion": np.arange(6, dtype="int16"), "row": np.arange(6)})
    m = Manifest(t, tmp_path, "fer2013-csv", {"emotion": LabelInfo("emotion", "multiclass", list("abcdefg"))})
    ds = prepare(m, size=48, grey=True, out=tmp_path / "f", progress=False)
    assert len(ds) == 5 and ds.meta["skipped"] == {"bad_row": 1}
    assert (ds.images[0, :, :, 0] == pix[0].reshape(48, 48)).all()
    assert (ds.images[4, :, :, 0] == pix[5].reshape(48, 48)).all()
    small = prepare(m, size=24, out=tmp_path / "s", progress=False)
    assert small.images.shape == (5, 24, 24, 3)


def test_meta_is_written_last(tmp_path, monkeypatch):
    """A failure after decoding leaves no half cache at `out`."""
    m = _manifest(tmp_path / "src", n=5)
    monkeypatch.setattr(cache_mod, "_compact", lambda *a: (_ for _ in ()).throw(OSError("disk full")))
    with pytest.raises(OSError):
        prepare(m, size=8, out=tmp_path / "c", progress=False)
    assert not (tmp_path / "c").exists()
    assert not json.loads((tmp_path / "c.partial" / "state.json").read_text()) == {}


def test_source_fingerprint_sees_changes(tmp_path):
    from facelab.data.cache_source import source_fingerprint

    src = tmp_path / "src"
    (src / "imgs").mkdir(parents=True)
    (src / "labels.csv").write_text("a,b\n")
    Image.fromarray(_img(1)).save(src / "imgs" / "1.jpg")
    fp = source_fingerprint(src)
    assert source_fingerprint(src) == fp
    Image.fromarray(_img(2)).save(src / "imgs" / "2.jpg")
    fp2 = source_fingerprint(src)
    assert fp2 != fp
    (src / "labels.csv").write_text("a,b\n1,2\n")
    assert source_fingerprint(src) != fp2


# -- with the real readers, on the synthetic sources of conftest.py ----------------------------------
def test_prepared_fixtures(prepared_celeba, prepared_fer):
    assert prepared_celeba.images.shape[1:] == (32, 32, 3) and len(prepared_celeba) > 500
    assert prepared_celeba.meta["source"]["layout"].startswith("celeba")
    assert prepared_celeba.meta["source_size"] == [178, 218]
    assert "Smiling" in prepared_celeba.attributes
    assert prepared_fer.images.shape[1:] == (32, 32, 1) and prepared_fer.meta["grey"]
    assert prepared_fer.meta["source_size"] == [48, 48]
    assert prepared_fer.images[:20].std() > 5  # real pixels, not an empty file


def test_source_folder_reuse_skips_reading(synth_folder, tmp_path, monkeypatch):
    import facelab.data.readers as readers

    ds = prepare(synth_folder, size=16, progress=False)
    assert ds.path.parent.name == "prepared" and ds.path.name.startswith(synth_folder.name)
    calls = []
    real = readers.read_source
    monkeypatch.setattr(readers, "read_source", lambda *a, **k: calls.append(1) or real(*a, **k))
    again = prepare(synth_folder, size=16, progress=False)
    assert calls == [] and again.path == ds.path
    from facelab.data.prepared import open_prepared

    assert open_prepared(synth_folder).path == ds.path


def test_cli_prepare(synth_folder, tmp_path):
    from typer.testing import CliRunner

    from facelab.cli.main import app

    out = tmp_path / "cli"
    args = ["data", "prepare", str(synth_folder), "--size", "24", "--grey", "--per-class", "5",
            "--seed", "3", "--out", str(out), "--workers", "1"]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    assert "facelab train" in res.output and str(out) in res.output.replace("\n", "")
    ds = PreparedDataset.open(out)
    assert ds.images.shape[1:] == (24, 24, 1)
    assert (ds.table[ds.table.split == "train"]["label"].value_counts() == 5).all()
    assert ds.meta["options"]["seed"] == 3


def test_cli_bad_input_is_a_clean_error(tmp_path, capsys):
    from facelab.cli.main import main

    with pytest.raises(SystemExit) as ei:
        main(["data", "prepare", str(tmp_path / "nothing-here"), "--size", "32"])
    assert ei.value.code == 2
    assert "does not exist" in " ".join(capsys.readouterr().err.split())


def test_fer_csv_read_block_by_block(tmp_path):
    rng = np.random.default_rng(1)
    pix = rng.integers(0, 256, (1100, 16))  # 4x4 "images": the side comes from the pixel count
    csv = tmp_path / "fer2013.csv"
    pd.DataFrame({"emotion": 0, "pixels": [" ".join(map(str, p)) for p in pix], "Usage": "Training"}).to_csv(csv, index=False)
    want = [0, 5, 600, 1099, 1500]  # 1500 is past the end of the file
    t = pd.DataFrame({"image_id": [f"r{r}" for r in want], "path": str(csv), "split": "train",
                      "emotion": np.zeros(5, dtype="int16"), "row": want})
    m = Manifest(t, tmp_path, "fer2013-csv", {"emotion": LabelInfo("emotion", "multiclass", list("abcdefg"))})
    ds = prepare(m, size=4, grey=True, out=tmp_path / "f", progress=False)
    assert len(ds) == 4 and ds.meta["skipped"] == {"bad_row": 1}
    for i, r in enumerate(want[:4]):
        assert (ds.images[i, :, :, 0] == pix[r].reshape(4, 4)).all()


def test_disk_errors_become_a_write_error(tmp_path, monkeypatch):
    import errno

    from facelab.errors import WriteError

    m = _manifest(tmp_path / "src", n=3)

    def full(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")

    from facelab.data import cache_worker

    monkeypatch.setattr(cache_worker, "write_rows", full)
    with pytest.raises(WriteError, match="cannot write the cache folder .*: no space left on device"):
        prepare(m, size=8, out=tmp_path / "c", progress=False, workers=1)


def test_dead_worker_is_a_dataerror_and_parallel_resume_works(tmp_path, monkeypatch):
    import sys

    from facelab.data import cache_worker

    m = _manifest(tmp_path / "src", n=1100)
    monkeypatch.setattr(cache_mod, "POOL_MIN", 0)
    monkeypatch.setattr(cache_worker, "worker_command", lambda: [sys.executable, "-c", "import sys; sys.exit(3)"])
    with pytest.raises(DataError, match="worker"):
        prepare(m, size=8, out=tmp_path / "c", progress=False, workers=2)
    monkeypatch.undo()
    monkeypatch.setattr(cache_mod, "POOL_MIN", 0)
    ds = prepare(m, size=8, out=tmp_path / "c", progress=False, workers=2)
    assert len(ds) == 1100 and np.abs(ds.images[1099, 4, 4].astype(int) - _img(1099)[0, 0]).max() <= 3
