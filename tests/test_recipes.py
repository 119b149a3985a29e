"""Defaults chosen by task (train/recipes.py), training and evaluating straight from a dataset
folder (data/ensure.py), and the degenerate-model warning (runs/degenerate.py)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from facelab.data.manifest import Manifest
from facelab.errors import ConfigError
from facelab.evaluate.leaderboard import training_notes
from facelab.runs import Run
from facelab.runs.degenerate import degenerate
from facelab.train import recipes
from facelab.train.trainer import train
from train_helpers import TINY, make_cache

torch.set_num_threads(1)
QUICK = dict(threads=1, progress=False)


# -- the table ---------------------------------------------------------------------------------
def test_the_table_gives_the_benchmark_recipes_by_dataset_task_and_budget():
    smiling = recipes.choose("celeba", "binary", 10)
    assert (smiling.key, smiling.size, smiling.crop, smiling.epochs) == ("celeba/binary", 80, "face", 25)
    assert smiling.options["aux"] == "all" and smiling.options["aux_weight"] == 3.0
    assert smiling.options["tta"] is True and smiling.options["ema"] == 0.999
    assert smiling.params == {"dropout": 0.3}
    all40 = recipes.choose("celeba", "multilabel", 30)
    assert (all40.key, all40.size, all40.epochs, "aux" in all40.options) == ("celeba/multilabel/20min", 96, 40, False)
    assert recipes.choose("celeba", "multilabel", 10).size == 64  # shorter budgets keep 64 px, uncapped
    fer10, fer30 = recipes.choose("fer2013", "multiclass", 10), recipes.choose("fer2013", "multiclass", 30)
    assert fer10.params == {} and fer30.params == {"first_stride": 1}  # the finer net needs the time
    assert fer30.key == "fer2013/multiclass/20min" and fer10.grey and fer10.size == 48
    assert recipes.choose("fer2013", "multiclass", None) == fer10  # no budget: the shortest row
    # every row trains without imbalance weighting; a dataset without a tuned row gets the catch-all
    assert all(r.options.get("balance") == "none" for r in recipes.RECIPES)
    assert recipes.choose("folder", "multiclass", 10).key == recipes.choose("celeba", "multiclass", 5).key == "default"
    assert recipes.pick("none", "celeba", "binary", 10) is None
    assert recipes.pick("celeba/binary", "folder", "multiclass", None) == smiling
    with pytest.raises(ConfigError, match="unknown recipe") as e:
        recipes.pick("celeba/bin", "celeba", "binary", 10)
    assert "celeba/binary" in e.value.fix


def test_the_epoch_cap_and_no_early_stop_come_only_with_a_budget():
    r = recipes.choose("celeba", "binary", 10)
    assert recipes.options_for(r, minutes=10)["epochs"] == 25 and recipes.options_for(r, minutes=10)["patience"] == 0
    assert "epochs" not in recipes.options_for(r, minutes=None) and "patience" not in recipes.options_for(r, minutes=None)


def test_the_benchmarks_read_the_table():
    bench = Path(__file__).resolve().parent.parent / "bench"
    sys.path.insert(0, str(bench))
    try:
        import train_celeba
    finally:
        sys.path.remove(str(bench))
    r, kw, params = train_celeba.recipe_kw("celeba", "binary", 10, "cnn")
    assert kw["recipe"] == "celeba/binary" and kw["aux"] == "all" and kw["epochs"] == 25 and params == {"dropout": 0.3}
    assert train_celeba.recipe_kw("celeba", "binary", 10, "mobilenetv2")[2] == {}  # cnn parameters only
    assert not hasattr(train_celeba, "RECIPES")  # one table, not two copies


# -- training straight from a dataset folder ---------------------------------------------------
@pytest.mark.slow
def test_train_prepares_a_dataset_folder_with_the_recipe_and_reuses_it(synth_celeba, runs_dir, capsys, caplog):
    import logging

    from facelab.paths import prepared_root

    caplog.set_level(logging.INFO, logger="facelab")  # the recipe's choices are logged; the CLI shows them
    run = train(synth_celeba, target="Smiling", minutes=0.03, threads=1, progress=True)
    err = capsys.readouterr().err + caplog.text
    cfg = run.config
    assert run.input["size"] == 80 and run.input["crop"] == "face"  # the recipe's geometry
    assert (cfg["recipe"], cfg["aux"], cfg["tta"], cfg["balance"], cfg["epochs"], cfg["patience"]) == \
        ("celeba/binary", "all", True, "none", 25, 0)
    assert cfg["params"]["dropout"] == 0.3 and (cfg["size"], cfg["crop"], cfg["grey"]) == (80, "face", False)
    saved = yaml.safe_load((run.path / "config.yaml").read_text())
    assert saved["recipe"] == "celeba/binary" and saved["aux"] == "all"  # saved with the run
    assert "recipe celeba/binary (0.03 min): size 80 face crop" in err and "aux all (weight 3)" in err
    assert "epochs ≤ 25" in err and "imbalance: none" in err and "precision 0.60" in err
    assert "`celeba/binary`" in (run.path / "card.md").read_text()
    caches = sorted(p.name for p in prepared_root().iterdir() if (p / "meta.json").is_file())

    # again, with the user's own values: they win, and the same cache is reused
    caplog.clear()
    run2 = train(synth_celeba, target="Smiling", minutes=0.03, lr=0.01, tta=False, params={"dropout": 0.1},
                 threads=1, progress=True)
    err = capsys.readouterr().err + caplog.text
    assert run2.config["data"] == cfg["data"] and "reusing" in err
    assert sorted(p.name for p in prepared_root().iterdir() if (p / "meta.json").is_file()) == caches
    assert (run2.config["tta"], run2.config["lr"], run2.config["params"]["dropout"]) == (False, 0.01, 0.1)
    assert run2.config["aux"] == "all"  # what the user left alone still comes from the recipe
    assert "yours instead of the recipe's: tta False, param dropout 0.1" in err


@pytest.mark.slow
def test_size_flag_prepares_another_cache_and_recipe_none_keeps_plain_defaults(synth_fer, runs_dir):
    import facelab

    run = facelab.train(synth_fer, minutes=0.03, size=24, recipe="none", **QUICK)  # the top-level API
    cfg = run.config
    assert run.input["size"] == 24 and run.input["channels"] == 1  # FER: grey, from the dataset kind
    assert (cfg["recipe"], cfg["balance"], cfg["tta"], cfg["aux"], cfg["epochs"]) == ("none", "sqrt", False, None, None)
    with pytest.raises(ConfigError, match="prepared cache .*cannot change to size 32") as e:
        train(cfg["data"], minutes=0.03, size=32, **QUICK)  # a cache has its own geometry
    assert "dataset folder" in e.value.fix


def test_a_cache_keeps_its_geometry_and_an_explicit_config_wins(tmp_path, runs_dir):
    ds = make_cache(tmp_path / "c", n=120, classes=3)  # layout "folder": the catch-all row
    run = train(ds.path, target="label", epochs=1, params=TINY, batch_size=32, augment=False, **QUICK)
    assert run.config["recipe"] == "default" and run.config["balance"] == "none"
    assert run.config["tta"] is False  # a folder's classes may be told apart by their side
    (tmp_path / "my.yaml").write_text("balance: full\nbatch_size: 16\n")
    run = train(ds.path, target="label", epochs=1, params=TINY, config=tmp_path / "my.yaml", **QUICK)
    assert (run.config["balance"], run.config["batch_size"]) == ("full", 16)


def test_cli_prints_the_recipe_off_a_terminal(synth_celeba, tmp_path):
    """The plain command, as a user types it, in a pipe: the recipe, imbalance and run lines."""
    env = {**os.environ, "FACELAB_RUNS": str(tmp_path / "runs"), "FACELAB_HOME": str(tmp_path / "home")}
    p = subprocess.run([sys.executable, "-m", "facelab.cli.main", "train", str(synth_celeba), "--target", "all",
                        "--minutes", "0.03", "--threads", "1", "--size", "24", "--set", "balance=sqrt"],
                       env=env, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    assert "recipe celeba/multilabel (0.03 min): size 24 face crop" in p.stderr
    assert "imbalance: sqrt (yours)" in p.stderr
    assert "recipe          celeba/multilabel; imbalance sqrt" in p.stdout
    cfg = yaml.safe_load(next((tmp_path / "runs").glob("*/config.yaml")).read_text())
    assert (cfg["size"], cfg["balance"], cfg["params"]["dropout"]) == (24, "sqrt", 0.3)


# -- evaluate from a dataset folder ------------------------------------------------------------
@pytest.mark.slow
def test_evaluate_prepares_a_dataset_folder_with_the_runs_geometry(synth_celeba, prepared_celeba, runs_dir, tmp_path):
    from facelab.evaluate.report import evaluate

    run = train(prepared_celeba.path, target="Smiling", epochs=1, params=TINY, **QUICK)
    rep = evaluate(run.name, data=synth_celeba, out=tmp_path / "ev", progress=False)
    assert any("dataset folder" in n and "32 px" in n for n in rep.notes)
    meta = json.loads((Path(rep.data) / "meta.json").read_text())
    assert meta["size"] == 32 and meta["crop"] == run.input["crop"]


# -- the degenerate-model warning --------------------------------------------------------------
def test_degenerate_predictions_are_named():
    y = np.array([0, 1, 0, 1, 1, 0])
    assert degenerate("multiclass", ["a", "b", "c"], y, np.tile([0.1, 0.8, 0.1], (6, 1))) == \
        "predicts one class only on validation (b for all 6 faces)"
    coin = np.array([[0.9, 0.1], [0.1, 0.9], [0.1, 0.9], [0.9, 0.1], [0.9, 0.1], [0.1, 0.9]])
    assert degenerate("multiclass", ["a", "b"], y, coin).startswith("is at chance on validation (balanced accuracy 0.333")
    assert degenerate("multiclass", ["a", "b"], y, np.eye(2)[y]) is None
    yl = np.array([[0, 1], [1, 0], [1, 1], [0, 0]])
    assert degenerate("multilabel", ["A", "B"], yl, np.full((4, 2), 0.3)).startswith("predicts the same value for every")
    assert degenerate("multilabel", ["A", "B"], yl, np.where(yl, 0.9, 0.1)) is None
    assert degenerate("binary", ["A"], np.zeros((3, 1)), np.full((3, 1), 0.2)) is None  # one class in the split


def test_a_model_that_predicts_one_class_gets_a_warning_everywhere(tmp_path, runs_dir, capsys):
    """A tiny budget on an unlearnable, imbalanced label: the network answers the majority."""
    from facelab.cli.main import main

    ds = make_cache(tmp_path / "c", n=200)
    m = Manifest.load(ds.path)
    m.table["A"] = (np.random.default_rng(1).random(len(m.table)) < 0.12).astype(np.int8)  # noise, 12% positive
    m.save(ds.path)
    main(["train", str(ds.path), "--target", "A", "--epochs", "1", "--name", "deg", "--no-progress",
          "--threads", "1", "--param", "widths=[8,16]", "--param", "depths=[1,1]", "--lr", "0.0001"])
    cap = capsys.readouterr()
    out = cap.out
    assert "recipe default (no --minutes)" in cap.err  # printed without the progress bar too
    run = Run.load("deg")
    assert run.metrics["degenerate"].startswith("predicts one class only on validation (not A for all")
    assert "warning:" in out and "predicts one class only" in out
    assert "Warning: a degenerate model" in (run.path / "card.md").read_text()
    table = pd.DataFrame([{"rank": 1, "run": "deg", "model": "cnn", "balanced_accuracy": 0.5}])
    notes = training_notes(table, {"deg": {"kind": "binary", "classes": ["A"], "metrics": run.metrics}})
    assert notes and notes[0].startswith("cnn: degenerate: it predicts one class only")
