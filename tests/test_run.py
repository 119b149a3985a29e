"""Run folders: loading by name or path, listing, corrupt and unfinished runs."""
from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch

from facelab.cli.main import main
from facelab.errors import RunError
from facelab.runs import Run, list_runs
from facelab.train.trainer import train
from train_helpers import TINY, make_cache

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return make_cache(tmp_path_factory.mktemp("run") / "c", n=96)


def test_list_runs_skips_corrupt_folders_and_newest_comes_first(cache, runs_dir, capsys):
    main(["runs"])
    assert "no runs" in capsys.readouterr().out
    a = train(cache, target="A", epochs=1, name="a", params=TINY, progress=False, threads=1)
    b = train(cache, target="B", epochs=1, name="b", params=TINY, progress=False, threads=1)
    shutil.copytree(a.path, runs_dir / "broken")
    (runs_dir / "broken" / "input.json").write_text("{")
    (runs_dir / "notes").mkdir()
    names = [r.name for r in list_runs()]
    assert set(names) == {"a", "b"} and names.index("b") <= names.index("a")
    assert b.summary()["target"] == "B" and b.key_metric[0] == "val_accuracy"
    with pytest.raises(RunError, match="corrupt") as e:
        Run.load("broken")
    assert "broken" in str(e.value)


def test_run_loads_by_path_and_weights_are_required(cache, runs_dir, tmp_path):
    run = train(cache, target="A", epochs=1, params=TINY, progress=False, threads=1)
    copy = shutil.copytree(run.path, tmp_path / "elsewhere")
    moved = Run.load(copy)
    x = cache.images[:3]
    np.testing.assert_allclose(moved.predict_proba(x), run.predict_proba(x))
    assert moved.torch_model() is not None and not moved.torch_model().training
    (copy / "model.safetensors").unlink()
    with pytest.raises(RunError, match="no weights yet"):
        Run.load(copy).predict_proba(x)
    (copy / "model.safetensors").write_bytes(b"garbage")
    with pytest.raises(RunError, match="cannot load the weights"):
        Run.load(copy).predict_proba(x)
