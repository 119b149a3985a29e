"""The write guard: no command writes over a user's file or into a user's
folder. One parametrised test runs every command that writes a path the user names."""
from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest
import torch
from PIL import Image

from facelab.data.cache import prepare
from facelab.errors import ConfigError
from facelab.train.trainer import train
from train_helpers import TINY, make_cache, run_cli as _cli

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return make_cache(tmp_path_factory.mktemp("guard") / "c", n=64, splits=(0.2, 0.2))


@pytest.fixture(scope="module")
def run(cache, tmp_path_factory):
    import os

    old = os.environ.get("FACELAB_RUNS")
    os.environ["FACELAB_RUNS"] = str(tmp_path_factory.mktemp("guard_runs"))
    try:
        return train(cache, target="A", epochs=1, params=TINY, progress=False, threads=1)
    finally:
        if old is not None:
            os.environ["FACELAB_RUNS"] = old


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    d = tmp_path_factory.mktemp("guard_photos")
    rng = np.random.default_rng(0)
    for i in range(2):
        Image.fromarray(rng.integers(0, 255, (40, 40, 3), dtype=np.uint8)).save(d / f"p{i}.jpg")
    return d


def _user_folder(base):
    d = base / "my_photos"
    d.mkdir()
    (d / "holiday.jpg").write_bytes(b"\xff\xd8 not really a photo, but mine")
    (d / "notes.txt").write_text("my notes")
    return d


def _user_file(base, name="notes.txt"):
    f = base / name
    f.write_text("my notes, not a facelab output\n")
    return f


def _snapshot(path):
    if path.is_file():
        return {"": hashlib.sha1(path.read_bytes()).hexdigest()}
    return {str(p.relative_to(path)): hashlib.sha1(p.read_bytes()).hexdigest() if p.is_file() else "dir"
            for p in sorted(path.rglob("*"))}


# (name, command with {OUT}, what the guard is given: "folder" writers and "file" writers)
COMMANDS = [
    ("prepare", lambda c, r, p: ["data", "prepare", c.meta["source"]["root"], "--size", "16", "--workers", "1",
                                 "--out", "{OUT}"], "folder"),
    ("prepare --force", lambda c, r, p: ["data", "prepare", c.meta["source"]["root"], "--size", "16",
                                         "--workers", "1", "--force", "--out", "{OUT}"], "folder"),
    ("explore", lambda c, r, p: ["explore", c.path, "--out", "{OUT}"], "folder"),
    ("cluster", lambda c, r, p: ["cluster", c.path, "--k", "2-3", "--components", "5", "--out", "{OUT}"], "folder"),
    ("evaluate", lambda c, r, p: ["evaluate", r.path, "--split", "val", "--out", "{OUT}"], "folder"),
    ("compare", lambda c, r, p: ["compare", c.path, "--target", "A", "--models", "logreg", "--epochs", "1", "--out", "{OUT}"],
     "folder"),
    ("search", lambda c, r, p: ["search", c.path, "--target", "A", "--trials", "1", "--epochs", "1",
                                "--out", "{OUT}"], "folder"),
    ("predict --save-crops", lambda c, r, p: ["predict", r.path, p, "--aligned", "--no-progress",
                                              "--save-crops", "{OUT}"], "folder"),
    ("predict --annotate", lambda c, r, p: ["predict", r.path, p, "--aligned", "--no-progress",
                                            "--annotate", "{OUT}"], "folder"),
    ("data synth", lambda c, r, p: ["data", "synth", "{OUT}", "--kind", "folder", "--n", "4"], "folder"),
    ("demo", lambda c, r, p: ["demo", "--out", "{OUT}", "--n", "20"], "folder"),
    ("predict --out", lambda c, r, p: ["predict", r.path, p, "--aligned", "--no-progress", "--out", "{OUT}"],
     "file"),
    ("export --out", lambda c, r, p: ["export", r.path, "--no-check", "--out", "{OUT}"], "file"),
]


@pytest.fixture(scope="module")
def source_cache(tmp_path_factory):
    """A real source folder (for prepare) with its cache."""
    from facelab.data.synth import synthesize

    src = synthesize(tmp_path_factory.mktemp("guard_src"), kind="folder", n=24, seed=0, identities=2,
                     progress=False)
    return prepare(src, size=16, workers=1, out=tmp_path_factory.mktemp("guard_prep") / "c", progress=False)


@pytest.mark.parametrize("target", ["file", "folder"])
@pytest.mark.parametrize("name,command,kind", COMMANDS, ids=[c[0] for c in COMMANDS])
def test_no_command_replaces_a_users_file_or_folder(name, command, kind, target, cache, run, photos,
                                                     source_cache, tmp_path, capsys):
    c = source_cache if name.startswith("prepare") else cache
    if target == "file":
        user = _user_file(tmp_path, "notes.csv" if name == "predict --out" else
                          "notes.onnx" if name == "export --out" else "notes.txt")
    else:
        user = _user_folder(tmp_path)
    before = _snapshot(user)
    args = [str(user) if a == "{OUT}" else a for a in command(c, run, photos)]
    code, out, err = _cli(args, capsys)
    assert code == 2, (out, err)
    assert str(user.name) in err and "fix:" in err, err
    assert _snapshot(user) == before, "the user's data changed"
    assert sorted(p.name for p in tmp_path.iterdir()) == [user.name], "something was written beside it"


def test_prepare_writes_absent_empty_and_its_own_cache_only(source_cache, tmp_path, capsys):
    from facelab.outputs import MARKER

    src = source_cache.meta["source"]["root"]
    empty = tmp_path / "empty"
    empty.mkdir()
    ds = prepare(src, size=16, workers=1, out=empty, progress=False)
    assert (empty / MARKER).is_file() and len(ds) == len(source_cache)
    again = prepare(src, size=16, workers=1, out=empty, progress=False, force=True)  # its own: replaced
    assert len(again) == len(ds)
    (empty / MARKER).unlink()  # a cache without the marker is still recognised by its meta.json
    assert len(prepare(src, size=16, workers=1, out=empty, progress=False, force=True)) == len(ds)
    assert (empty / MARKER).is_file()


def test_results_and_export_are_replaced_only_when_facelab_wrote_them(run, photos, tmp_path, capsys):
    out = tmp_path / "faces.csv"
    for _ in range(2):  # the second run replaces the first one's table
        code, o, e = _cli(["predict", run.path, photos, "--aligned", "--no-progress", "--out", out], capsys)
        assert code == 0, e
    assert out.read_text().startswith("file,face,status")
    js = tmp_path / "faces.json"
    js.write_text(json.dumps({"classes": [], "photos": []}))
    code, o, e = _cli(["predict", run.path, photos, "--aligned", "--no-progress", "--out", js], capsys)
    assert code == 0, e
    onnx = tmp_path / "m.onnx"
    pytest.importorskip("onnxruntime", reason="ONNX export needs onnxruntime")
    for _ in range(2):
        code, o, e = _cli(["export", run.path, "--no-check", "--out", onnx], capsys)
        assert code == 0, e
    (tmp_path / "x.json").write_text("{}")  # the sidecar an export would write is a user's file
    code, o, e = _cli(["export", run.path, "--no-check", "--out", tmp_path / "x.onnx"], capsys)
    assert code == 2 and "x.json" in e and (tmp_path / "x.json").read_text() == "{}"


def test_guard_helpers(tmp_path):
    from facelab.outputs import check_file, check_folder, claim_folder

    assert check_folder(tmp_path / "new", what="x") == tmp_path / "new"
    d = claim_folder(tmp_path / "a" / "b", what="report folder")
    (d / "report.html").write_text("<html>")
    assert check_folder(d, what="report folder") == d
    user = tmp_path / "mine"
    user.mkdir()
    (user / "a.txt").write_text("x")
    with pytest.raises(ConfigError, match="facelab did not make"):
        check_folder(user, what="report folder")
    link = tmp_path / "link"
    link.symlink_to(d)
    with pytest.raises(ConfigError, match="symbolic link"):
        check_folder(link, what="report folder")
    with pytest.raises(ConfigError, match="is a folder"):
        check_file(user, what="results file")
    with pytest.raises(ConfigError, match="did not write it"):
        check_file(user / "a.txt", what="results file", recognise=lambda p: False)
