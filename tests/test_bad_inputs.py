"""Bad inputs that could crash or mislead: each is a listed problem, a clear error, or the right
result."""
from __future__ import annotations

import json
import os
import shutil
import struct

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from facelab.data.cache import prepare
from facelab.data.synth import synthesize
from facelab.train.trainer import train
from train_helpers import TINY, make_cache, run_cli as _cli

torch.set_num_threads(1)


def _problems(ds) -> dict:
    return {p.path: p.kind for p in ds.manifest.problems}


# -- EXIF-rotated photos -----------------------------------------------------------------------
def _save_turned(upright: Image.Image, path, **kw) -> None:
    """Store ``upright`` turned 90 degrees with EXIF orientation 6 (a phone photo held upright)."""
    exif = Image.Exif()
    exif[0x0112] = 6  # display after turning 90 degrees clockwise
    upright.transpose(Image.Transpose.ROTATE_90).save(path, exif=exif.tobytes(), **kw)


def _pattern(w: int, h: int) -> Image.Image:
    y, x = np.mgrid[0:h, 0:w]
    a = np.stack([255 * x / w, 255 * y / h, 128 + 100 * np.sin(x / 7.0) * (y < h / 2)], axis=2)
    return Image.fromarray(a.clip(0, 255).astype(np.uint8))


def test_exif_rotated_folder_image_is_cropped_upright(tmp_path):
    for name in ("plain", "turned"):
        (tmp_path / name / "alice").mkdir(parents=True)
        (tmp_path / name / "bob").mkdir(parents=True)
        for i in range(3):
            _pattern(60, 90).save(tmp_path / name / "bob" / f"b{i}.jpg", quality=95)
    _pattern(60, 90).save(tmp_path / "plain" / "alice" / "a.jpg", quality=95)
    _save_turned(_pattern(60, 90), tmp_path / "turned" / "alice" / "a.jpg", quality=95)
    a = prepare(tmp_path / "plain", size=32, workers=1, out=tmp_path / "c1", progress=False)
    b = prepare(tmp_path / "turned", size=32, workers=1, out=tmp_path / "c2", progress=False)
    ia = int(np.flatnonzero(a.table["path"].str.endswith("a.jpg"))[0])
    ib = int(np.flatnonzero(b.table["path"].str.endswith("a.jpg"))[0])
    diff = np.abs(a.images[ia].astype(int) - b.images[ib].astype(int)).mean()
    assert diff < 8, f"the turned photo's crop differs from the upright one by {diff:.1f} on average"


def test_exif_rotated_celeba_image_is_cropped_upright(tmp_path):
    root = synthesize(tmp_path / "celeba", kind="celeba", n=12, seed=0)
    first = sorted((root / "img_align_celeba").glob("*.jpg"))[0]
    upright = Image.open(first).convert("RGB")
    upright.save(first, quality=95)
    a = prepare(root, size=32, workers=1, out=tmp_path / "c1", progress=False)
    _save_turned(upright, first, quality=95)
    b = prepare(root, size=32, workers=1, out=tmp_path / "c2", progress=False, force=True)
    assert upright.size == (178, 218) and Image.open(first).size == (218, 178)
    i = int(np.flatnonzero(a.table["path"].str.endswith(first.name))[0])
    diff = np.abs(a.images[i].astype(int) - b.images[i].astype(int)).mean()
    assert diff < 8, f"the turned photo's crop differs from the upright one by {diff:.1f} on average"


# -- decompression-bomb header in a folder dataset -------------------------------------------
def _bomb_jpeg(path, side: int = 30000) -> None:
    """A small real JPEG whose frame header claims side x side pixels."""
    import io

    buf = io.BytesIO()
    Image.fromarray(np.full((16, 16, 3), 128, np.uint8)).save(buf, "JPEG")
    data = bytearray(buf.getvalue())
    i = data.index(b"\xff\xc0")
    data[i + 5:i + 9] = struct.pack(">HH", side, side)
    path.write_bytes(bytes(data))


def test_bomb_header_is_a_problem_not_a_grey_image(tmp_path):
    root = synthesize(tmp_path / "people", kind="folder", n=12, seed=0, identities=2)
    person = sorted(p for p in root.iterdir() if p.is_dir())[0]
    _bomb_jpeg(person / "bomb.jpg")
    ds = prepare(root, size=24, workers=1, out=tmp_path / "c", progress=False)
    bomb = str(person / "bomb.jpg")
    assert _problems(ds).get(bomb) == "too_large"
    assert bomb not in set(ds.table["path"]) and ds.meta["skipped"] == {"too_large": 1}


# -- FER2013 csv with a non-numeric pixel ------------------------------------------------------
def test_fer_csv_non_numeric_pixel_is_a_bad_row(tmp_path, capsys):
    root = synthesize(tmp_path / "fer", kind="fer2013", n=40, seed=0)
    csv = root / "fer2013.csv"
    df = pd.read_csv(csv, dtype={"pixels": str})
    df.loc[3, "pixels"] = "abc " + df.loc[3, "pixels"].split(" ", 1)[1]
    df.to_csv(csv, index=False)
    code, out, err = _cli(["data", "prepare", root, "--size", "24", "--grey", "--workers", "1",
                           "--out", tmp_path / "c"], capsys)
    assert code == 0 and "Traceback" not in err, err
    ds = prepare(root, size=24, grey=True, workers=1, out=tmp_path / "c", progress=False)
    assert len(ds) == 39 and ds.meta["skipped"] == {"bad_row": 1}
    assert any(p.kind == "bad_row" and "not whole numbers" in p.detail for p in ds.manifest.problems)


# -- symlink loops and self-links ---------------------------------------------------------
@pytest.mark.parametrize("link", ["loop", "self"])
def test_symlink_loops_do_not_crash_prepare(tmp_path, capsys, link):
    root = synthesize(tmp_path / "people", kind="folder", n=12, seed=0, identities=2)
    person = sorted(p for p in root.iterdir() if p.is_dir())[0]
    if link == "loop":
        os.symlink("..", person / "loop")  # a folder that contains itself, forever
    else:
        os.symlink("self.jpg", person / "self.jpg")  # a link to itself
    code, out, err = _cli(["data", "prepare", root, "--size", "24", "--workers", "1",
                           "--out", tmp_path / "c"], capsys)
    assert code == 0 and "Traceback" not in err, err
    ds = prepare(root, size=24, workers=1, out=tmp_path / "c", progress=False)
    assert len(ds) == 12
    if link == "self":
        assert _problems(ds).get(str(person / "self.jpg")) == "unreadable_file"


# -- model parameters of the wrong type; failed starts ---------------------------------------
@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return make_cache(tmp_path_factory.mktemp("bad") / "c", n=48, splits=(0.25, 0.0))


def _states(runs_dir) -> list[str]:
    if not runs_dir.is_dir():
        return []
    return [json.loads((p / "state.json").read_text())["status"] for p in runs_dir.iterdir()
            if (p / "state.json").is_file()]


@pytest.mark.parametrize("param,words", [("widths=oops", "widths must be a list of whole numbers"),
                                         ("widths=[8,x]", "widths must be a list of whole numbers"),
                                         ("dropout=high", "dropout must be a number"),
                                         ("widts=[8,16]", "did you mean 'widths'")])
def test_bad_model_params_are_refused_before_any_run_folder(cache, runs_dir, capsys, param, words):
    code, out, err = _cli(["train", cache.path, "--target", "A", "--epochs", "1", "--param", param], capsys)
    assert code == 2 and words in err and "Traceback" not in err, err
    assert _states(runs_dir) == []


class Payload:  # an arbitrary pickled object: --weights must refuse it without running it
    def __reduce__(self):
        return (print, ("code ran",))


def test_a_run_that_fails_to_start_is_not_left_running(cache, runs_dir, tmp_path, capsys):
    evil = tmp_path / "evil.pth"
    torch.save({"w": Payload()}, evil)
    code, out, err = _cli(["train", cache.path, "--target", "A", "--epochs", "1", "--param", "widths=[8,16]",
                           "--param", "depths=[1,1]", "--weights", evil], capsys)
    assert code == 2 and "not a weights file" in err and "code ran" not in out, err
    states = _states(runs_dir)
    assert states and "running" not in states and set(states) == {"failed"}
    st = json.loads(next(runs_dir.iterdir()).joinpath("state.json").read_text())
    assert "not a weights file" in st["error"]


# -- a run with a corrupt task.json is listed as broken -------------------------------------
def test_runs_lists_a_corrupt_run_as_broken(cache, runs_dir, capsys):
    good = train(cache, target="A", epochs=1, name="good", params=TINY, progress=False, threads=1)
    shutil.copytree(good.path, runs_dir / "damaged")
    (runs_dir / "damaged" / "task.json").write_text("{not json")
    code, out, err = _cli(["runs"], capsys)
    assert code == 0 and "good" in out
    assert "damaged" in out and "broken" in out and "task.json" in out and "corrupt" in out, out


# -- predict on a folder without a photo ----------------------------------------------------
def test_predict_on_a_folder_without_photos_says_so(cache, runs_dir, tmp_path, capsys):
    run = train(cache, target="A", epochs=1, name="p", params=TINY, progress=False, threads=1)
    empty = tmp_path / "empty_folder"
    empty.mkdir()
    (empty / "notes.txt").write_text("not a photo")
    code, out, err = _cli(["predict", run.path, empty, "--no-progress"], capsys)
    assert code == 2 and "no photo found" in err and "empty_folder" in err, (out, err)
