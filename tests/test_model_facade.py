"""``facelab.Model``: runs and shipped models behind one object; no run means the shipped models."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import facelab
from facelab.errors import RunError
from facelab.model import Model
from train_helpers import TINY, make_cache

torch.set_num_threads(1)


def test_no_name_is_the_shipped_models_and_a_name_is_one_of_them():
    both = facelab.Model()
    assert both.shipped and both.name == "celeba-attributes+fer-emotions"
    assert "Smiling" in both.classes and "happy" in both.classes
    with pytest.raises(RunError, match="2 models"):
        both.run
    fer = Model("fer-emotions")
    assert not fer.shipped and fer.run.task.kind == "multiclass" and fer.describe()["runs"][0]["name"] == "fer-emotions"
    face = np.full((48, 48, 1), 128, np.uint8)
    result = fer.predict(face, aligned=True)
    assert len(result.faces) == 1 and abs(sum(result.faces[0].probabilities.values()) - 1) < 1e-4


def test_command_line_arguments_decide_between_a_run_and_photos(tmp_path, runs_dir):
    photo = tmp_path / "a.jpg"
    photo.write_bytes(b"")
    model, photos = Model.from_arguments(str(photo), ["b.jpg"])
    assert model.shipped and photos == [str(photo), "b.jpg"]
    model, photos = Model.from_arguments("fer-emotions", [str(photo)])
    assert model.name == "fer-emotions" and photos == [str(photo)]
    with pytest.raises(RunError, match="no run 'fer-emotion'. Did you mean"):
        Model.from_arguments("fer-emotion", [str(photo)])


def test_a_run_fine_tunes_evaluates_and_exports(tmp_path, runs_dir):
    cache = make_cache(tmp_path / "c", n=96, splits=(0.2, 0.2))
    base = Model(facelab.train(cache, target="A", epochs=1, name="base", params=TINY, progress=False, threads=1))
    tuned = base.fine_tune(cache, target="A", epochs=1, name="tuned", progress=False, threads=1)
    assert tuned.name == "tuned" and tuned.run.metrics["epochs"] == 1
    assert (tuned.run.path / "card.md").read_text().count("Started from") == 1  # from base's weights
    report = tuned.evaluate(progress=False)
    assert report.run == "tuned" and report.n > 0 and (report.out / "metrics.json").is_file()
    out = tuned.export(tmp_path / "tuned.onnx")
    assert out.path.is_file()
