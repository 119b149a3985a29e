"""facelab data review (near-duplicates, faces, top losses) and the marks readers apply on prepare."""
from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

import facelab
from facelab.data.cache import prepare
from facelab.data.readers import read_source

needs_imagehash = pytest.mark.skipif(importlib.util.find_spec("imagehash") is None,
                                     reason="imagehash is not installed (pip install 'facelab[review]')")


@pytest.fixture()
def people(synth_folder, tmp_path):
    root = tmp_path / "people"
    shutil.copytree(synth_folder, root)
    a = sorted(p for p in root.iterdir() if p.is_dir())[0]
    src = sorted(a.glob("*.jpg"))[0]
    shutil.copy(src, a / "zz_copy.jpg")  # an exact duplicate
    Image.fromarray(np.full((250, 250, 3), 128, np.uint8)).save(a / "zz_blank.jpg")
    return root


def test_exclude_and_relabel_applied_by_readers(people, tmp_path):
    base = read_source(people)
    a, b = sorted(p.name for p in people.iterdir() if p.is_dir())[:2]
    (people / "exclude.txt").write_text(f"# photos to drop\n{a}/zz_blank.jpg\nzz_copy.jpg\nno/such.jpg\n")
    (people / "relabel.csv").write_text(f"path,label\n{a}/{a}_0002.jpg,{b}\n")
    m = read_source(people)
    assert len(m) == len(base) - 2
    assert not m.table["path"].str.contains("zz_").any()
    row = m.table[m.table["path"].str.endswith(f"{a}_0002.jpg")]
    assert m.labels["label"].classes[int(row["label"].iloc[0])] == b
    assert "exclude.txt: 2 photos excluded" in m.notes and "relabel.csv: 1 photos relabelled" in m.notes
    assert any("1 lines of exclude.txt name no photo" in n for n in m.notes)
    assert any(p.kind == "exclude_missing" and p.count == 1 for p in m.problems)
    ds = prepare(people, size=24, out=tmp_path / "c", progress=False)  # the next prepare applies them
    assert len(ds) == len(base) - 2


def test_marks_change_the_fingerprint(people, tmp_path):
    d1 = prepare(people, size=24, out=tmp_path / "c", progress=False)
    (people / "exclude.txt").write_text("zz_copy.jpg\n")
    d2 = prepare(people, size=24, out=tmp_path / "c", progress=False)
    assert len(d2) == len(d1) - 1  # not the stale cache


@needs_imagehash
def test_review_page(people, tmp_path, runs_dir):
    from facelab.curate.review import review

    ds = prepare(people, size=24, out=tmp_path / "c", progress=False)
    run = facelab.train(ds, target="label", model="logreg", progress=False, params={"n_components": 4})
    rep = review(people, run=run.name, out=tmp_path / "rev", progress=False, top=5)
    assert any(any(p.endswith("zz_copy.jpg") for p in g) for g in rep.duplicate_groups)
    assert any(p.endswith("zz_blank.jpg") for p in rep.no_face)
    assert len(rep.top_losses) == 5 and all(t["loss"] >= rep.top_losses[-1]["loss"] for t in rep.top_losses)
    page = rep.html.read_text()
    assert "Near-duplicates" in page and "zz_copy.jpg" in page and "data:image/jpeg;base64," in page
    assert json.loads((tmp_path / "rev" / "review.json").read_text())["photos"] == rep.photos


@needs_imagehash
def test_review_cli(people, tmp_path):
    out = subprocess.run([sys.executable, "-m", "facelab.cli.main", "data", "review", str(people), "--no-faces",
                          "--out", str(tmp_path / "r")], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "near-duplicate groups" in out.stdout and (tmp_path / "r" / "review.html").is_file()
