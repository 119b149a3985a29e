"""The models shipped inside the package: found by name, predicting after install with no run,
listed, served, usable as --init, and a broken install named with how to reinstall."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from facelab.errors import RunError
from facelab.pretrained import check_shipped, shipped_names, shipped_path, shipped_root, shipped_summaries
from facelab.runs import Run, names_a_run, resolve_run

from predict_support import face, paste


@pytest.fixture(scope="module")
def photo(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("shipped") / "photo.jpg"
    Image.fromarray(paste([face(3, Smiling=1, Male=0)], size=(640, 480))).save(path, quality=95)
    return path


def test_every_shipped_model_is_complete_and_small():
    total = 0
    for name in shipped_names():
        folder = shipped_path(name)  # checks the files and the weights' header
        run = Run.load(folder)
        assert run.metrics["val_accuracy"] > 0.5 and run.metrics["test_accuracy"] > 0.5
        card = (folder / "card.md").read_text()
        for must in ("How it was made", "bench/ship_models.py", "95% CI", "Known limits", "research"):
            assert must in card, (name, must)
        total += sum(p.stat().st_size for p in folder.iterdir())
    assert total <= 15 * 2**20
    assert [r["status"] for r in shipped_summaries()] == ["shipped"] * len(shipped_names())


def test_a_name_resolves_to_a_shipped_model_unless_a_run_has_it(runs_dir):
    assert resolve_run("celeba-attributes") == shipped_root() / "celeba-attributes"
    assert names_a_run("fer-emotions") and not names_a_run("no-such-run")
    mine = runs_dir / "celeba-attributes"
    shutil.copytree(shipped_root() / "celeba-attributes", mine)
    assert resolve_run("celeba-attributes") == mine


def test_predict_with_no_run_uses_every_shipped_model(photo):
    from facelab.predict.combined import CombinedPredictor

    pred = CombinedPredictor.shipped()
    res = pred.predict(str(photo))
    assert len(res.faces) == 1
    probs = res.faces[0].probabilities
    assert len(probs) == 47 and {"Smiling", "Male", "happy", "neutral"} <= set(probs)
    assert all(0.0 <= v <= 1.0 for v in probs.values())
    # one verdict per shipped model, each with its probability ("not Smiling 0.88; ...; happy 0.70")
    assert res.faces[0].verdict and res.faces[0].verdict.count(";") == len(pred.predictors) - 1
    assert 0.0 <= res.faces[0].box.score <= 1.0
    emotions = [c for c in res.faces[0].labels if c in Run.load("fer-emotions").task.classes]
    assert len(emotions) == 1  # one emotion (multiclass) beside the attributes above threshold
    batch = list(pred.predict_batch([str(photo), str(photo)], workers=1))
    assert [len(r.faces) for r in batch] == [1, 1]
    assert batch[0].faces[0].probabilities == pytest.approx(probs, abs=1e-5)


def test_cli_predict_photo_without_a_run(photo, runs_dir, tmp_path):
    """A fresh install: no runs at all, `facelab predict photo.jpg` answers (a real process)."""
    out = tmp_path / "faces.csv"
    r = subprocess.run([sys.executable, "-m", "facelab.cli.main", "predict", str(photo), "--out", str(out),
                        "--no-progress"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "shipped with facelab" in r.stderr
    import pandas as pd

    df = pd.read_csv(out)
    assert len(df) == 1 and {"p_Smiling", "p_Male", "p_happy", "p_sad"} <= set(df.columns)


def test_cli_predict_photo_without_a_run_json(photo, runs_dir):
    """`facelab predict PHOTO --json`: stdout holds the JSON alone, with the verdict and a 0-1 score."""
    import json

    r = subprocess.run([sys.executable, "-m", "facelab.cli.main", "predict", str(photo), "--json",
                        "--no-progress"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    out = json.loads(r.stdout)
    assert "shipped with facelab" in r.stderr and out["summary"]["faces"] == 1
    face = out["photos"][0]["faces"][0]
    assert {"Smiling", "happy"} <= set(face["probabilities"]) and face["verdict"]
    assert 0.0 <= face["box"]["score"] <= 1.0


def test_runs_and_models_list_the_shipped_models(runs_dir):
    from typer.testing import CliRunner

    from facelab.cli.main import app

    for cmd in (["runs"], ["models"]):
        res = CliRunner().invoke(app, cmd, env={"COLUMNS": "200"})
        assert res.exit_code == 0, res.output
        assert "celeba-attributes" in res.output and "fer-emotions" in res.output
    import json

    res = CliRunner().invoke(app, ["runs", "--json"])
    listing = json.loads(res.stdout)  # the shipped models in their own key, no table on stdout
    assert listing["runs"] == [] and {"celeba-attributes", "fer-emotions"} <= {r["name"] for r in listing["shipped"]}


def test_init_from_a_shipped_backbone(prepared_celeba, runs_dir):
    from facelab.train.trainer import train

    run = train(prepared_celeba.path, target="Smiling", init="celeba-attributes", epochs=1, batch_size=64,
                name="from-shipped", progress=False, threads=1)
    assert run.state["init"]["source"] == "run celeba-attributes" and run.state["init"]["loaded"] > 0
    rep = run.state["init"]
    assert rep["loaded"] >= rep["total"] - 2  # the whole backbone; only the 40-output head differs
    assert 0.0 <= run.metrics["val_accuracy"] <= 1.0


def _broken_copy(tmp_path, monkeypatch, breaks) -> Path:
    root = tmp_path / "pretrained"
    for name in shipped_names():
        shutil.copytree(shipped_root() / name, root / name)
    breaks(root / "celeba-attributes")
    monkeypatch.setattr("facelab.pretrained.shipped_root", lambda: root)
    return root / "celeba-attributes"


@pytest.mark.parametrize("how", ["missing", "truncated", "garbage"])
def test_a_broken_install_is_named_with_how_to_reinstall(tmp_path, monkeypatch, how, photo, capsys):
    def breaks(folder: Path):
        w = folder / "model.safetensors"
        if how == "missing":
            (folder / "task.json").unlink()
        elif how == "truncated":
            w.write_bytes(w.read_bytes()[: w.stat().st_size // 2])
        else:
            w.write_bytes(b"not a safetensors file at all")

    folder = _broken_copy(tmp_path, monkeypatch, breaks)
    with pytest.raises(RunError, match="broken install") as e:
        check_shipped(folder)
    assert "reinstall" in e.value.fix
    from facelab.cli.main import main

    with pytest.raises(SystemExit) as ex:
        main(["predict", str(photo)])
    err = capsys.readouterr().err
    assert ex.value.code == 2 and "broken install" in err and "reinstall" in err and "Traceback" not in err


def test_combined_predict_reads_a_photo_once_and_names_a_bad_one(photo, tmp_path):
    from facelab.predict.combined import CombinedPredictor

    pred = CombinedPredictor.shipped()
    res = pred.predict(str(photo))
    assert res.source == str(photo) and len(res.faces) == 1
    assert pred.predict(photo.read_bytes()).faces[0].probabilities == pytest.approx(res.faces[0].probabilities)
    bad = tmp_path / "notes.jpg"
    bad.write_text("not a photo")
    broken = pred.predict(str(bad))
    assert broken.error and "notes.jpg" in broken.error and not broken.faces


def test_combined_predict_searches_a_photo_once_with_the_same_answers(photo):
    """The shipped models share a detector, so the photo is searched once; every model's outputs
    equal what it gives alone, and a wrong array is an error result, not an exception."""
    import numpy as np

    from facelab.data.image import load_image
    from facelab.predict.combined import CombinedPredictor

    pred = CombinedPredictor.shipped()
    img = load_image(str(photo))
    calls = []
    for p in pred.predictors:  # count the searches of every model's own detector
        det = p.detector
        real = det.detect
        det.detect = lambda im, real=real: calls.append(1) or real(im)
    res = pred.predict(img)
    assert len(calls) == 1 and len(res.faces) == 1
    for p in pred.predictors:
        alone = p.predict(img).faces[0]
        assert alone.box == res.faces[0].box
        for k, v in alone.probabilities.items():
            assert res.faces[0].probabilities[k] == pytest.approx(v, abs=1e-6)
    wrong = pred.predict(np.zeros((8, 8), np.float32))
    assert wrong.error and "uint8" in wrong.error and not wrong.faces
