"""The run lifecycle (one owner of a run folder, one failure policy) and the run folder's format version."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from facelab.errors import ConfigError, RunError
from facelab.pretrained import shipped_path
from facelab.runs import Run
from facelab.runs.lifecycle import EpochResult, Lifecycle, NonFiniteLoss
from facelab.runs.migrate import FORMAT_VERSION, migrate


class Toy:
    """A task with no model: epoch rows from a list; raises what the list says."""

    def __init__(self, events):
        self.events, self.saved, self.interrupts = list(events), [], 0

    def epoch(self, n):
        if n > len(self.events):
            return None
        ev = self.events[n - 1]
        if ev == "nan":
            raise NonFiniteLoss(n, step=7)
        if ev == "ctrl-c":
            raise KeyboardInterrupt
        if ev == "boom":
            raise OSError("disk full")
        return EpochResult({"epoch": n, "loss": float(ev)})

    def checkpoint(self, lc, result):
        self.saved.append(result.row["epoch"])

    def epoch_done(self, lc, result):
        pass

    def interrupted(self, lc):
        self.interrupts += 1

    def nan_fix(self, lc):
        return "lower --lr"

    def resume_command(self, lc):
        return f"toy --resume {lc.name}"

    def evaluate(self, lc):
        lc.write_json("metrics.json", {"loss": 0.1})

    def card(self, lc):
        (lc.path / "card.md").write_text("# toy\n")

    def result(self, lc):
        return lc.path


def _started(tmp_path, name="t"):
    lc = Lifecycle.create(name, stem="toy", runs_dir=tmp_path)
    lc.start(config={"model": "toy"}, task={"kind": "toy"})
    return lc


def _state(lc):
    return json.loads((lc.path / "state.json").read_text())


def test_a_run_finishes_with_its_history_state_and_format_version(tmp_path):
    lc = _started(tmp_path)
    task = Toy(["1.0", "0.5"])
    assert lc.train(task) == tmp_path / "t"
    assert _state(lc)["status"] == "finished" and _state(lc)["epoch"] == 2 and task.saved == [1, 2]
    assert json.loads((lc.path / "task.json").read_text())["format_version"] == FORMAT_VERSION
    assert (lc.path / "history.csv").read_text().splitlines()[1:] == ["1,1.0", "2,0.5"]
    assert (lc.path / "card.md").is_file()


def test_names_are_checked_and_runs_never_overwritten(tmp_path):
    for bad in ("../elsewhere", "a/b", "..", "/tmp/x"):
        with pytest.raises(ConfigError, match="refused run name"):
            Lifecycle.create(bad, stem="toy", runs_dir=tmp_path / "runs")
    assert not (tmp_path / "elsewhere").exists()
    Lifecycle.create("same", stem="toy", runs_dir=tmp_path)
    with pytest.raises(ConfigError, match="already exists"):
        Lifecycle.create("same", stem="toy", runs_dir=tmp_path)
    a, b = (Lifecycle.create(None, stem="toy", runs_dir=tmp_path) for _ in range(2))
    assert a.path != b.path and a.name.startswith("toy-") and b.path.is_dir()


def test_a_nan_loss_marks_the_run_and_raises_with_the_last_good_epoch(tmp_path):
    lc = _started(tmp_path)
    task = Toy(["1.0", "nan"])
    with pytest.raises(RunError, match="NaN") as e:
        lc.train(task)
    assert "epoch 2 (step 7)" in str(e.value) and "(epoch 1) is kept" in str(e.value) and e.value.fix == "lower --lr"
    assert _state(lc)["status"] == "nan" and _state(lc)["epoch"] == 1 and task.saved == [1]


def test_ctrl_c_lets_the_task_save_marks_the_run_and_re_raises(tmp_path, caplog):
    lc = _started(tmp_path)
    task = Toy(["1.0", "ctrl-c"])
    with pytest.raises(KeyboardInterrupt):
        lc.train(task)
    assert _state(lc)["status"] == "interrupted" and _state(lc)["epoch"] == 1 and task.interrupts == 1
    assert "toy --resume t" in caplog.text
    resumed = Lifecycle.resume(lc.path)  # and it continues from the next epoch
    task2 = Toy(["1.0", "0.4", "0.3"])
    resumed.train(task2)
    assert task2.saved == [2, 3] and _state(resumed)["status"] == "finished"
    assert len((lc.path / "history.csv").read_text().splitlines()) == 4  # header + one row per epoch


def test_another_error_marks_the_run_failed(tmp_path):
    lc = _started(tmp_path)
    with pytest.raises(OSError):
        lc.train(Toy(["1.0", "boom"]))
    assert _state(lc)["status"] == "failed" and "disk full" in _state(lc)["error"]


def test_a_process_that_does_not_write_leaves_no_trace(tmp_path):
    lc = Lifecycle.create("quiet", stem="toy", runs_dir=tmp_path, writer=False)
    lc.start(config={}, task={"kind": "toy"})
    task = Toy(["1.0"])
    assert lc.train(task) is None and task.saved == []
    assert not (tmp_path / "quiet").exists()


def _copy_without_version(tmp_path, name):
    folder = shutil.copytree(shipped_path(name), tmp_path / name)
    task = json.loads((folder / "task.json").read_text())
    task.pop("format_version", None)
    (folder / "task.json").write_text(json.dumps(task))
    return folder


def test_a_folder_without_format_version_loads_and_is_brought_up_to_date(tmp_path):
    folder = _copy_without_version(tmp_path, "fer-emotions")
    shipped = Run.load("fer-emotions")
    run = Run.load(folder)
    x = np.random.default_rng(0).integers(0, 255, (3, 48, 48, 1), dtype=np.uint8)
    np.testing.assert_allclose(run.predict_proba(x), shipped.predict_proba(x), rtol=1e-5)
    assert json.loads((folder / "task.json").read_text())["format_version"] == FORMAT_VERSION  # written back
    assert run.config["recipe"] == shipped.config.get("recipe", "none")


def test_migrate_reads_a_read_only_folder_in_memory(tmp_path, monkeypatch):
    from facelab.runs import migrate as M

    folder = _copy_without_version(tmp_path, "celeba-attributes")
    config = (folder / "config.yaml").read_text()
    monkeypatch.setattr(M.os, "access", lambda path, mode: False)  # a folder this user may not write
    up = migrate(folder)
    assert up["task"]["format_version"] == FORMAT_VERSION and up["config"]["ema"] is not None
    assert "format_version" not in json.loads((folder / "task.json").read_text())
    assert (folder / "config.yaml").read_text() == config
    assert Run.load(folder).task.kind == "multilabel"


def test_the_shipped_models_are_never_written(monkeypatch):
    from facelab.runs import migrate as M

    writes = []
    monkeypatch.setattr(M, "write_json", lambda *a, **k: writes.append(a))
    for name in ("celeba-attributes", "fer-emotions"):
        assert migrate(shipped_path(name))["task"]["format_version"] == FORMAT_VERSION
    assert writes == []


def test_an_older_generator_config_reads_as_the_label_plane_discriminator():
    from facelab.runs.migrate import upgrade

    up = upgrade({"config": {"kind": "generator", "condition": ["Smiling"]}, "task": {"kind": "generator"},
                  "state": {"clock_binds": True}})
    assert up["config"]["ac_weight"] == 0.0 and up["state"]["bound_at"] == [0.0, 0.0]
    current = {"config": {"kind": "generator", "ac_weight": 1.0}, "task": {"kind": "generator", "format_version": 1},
               "state": {}}
    assert upgrade(current) == current


class Ear:
    def __init__(self):
        self.heard = []

    def epoch_end(self, lc, row):
        self.heard.append(("epoch", row["epoch"]))

    def finished(self, lc, result):
        self.heard.append(("finished", result))

    def failed(self, lc):
        self.heard.append(("failed",))


def test_hooks_hear_every_epoch_and_the_end(tmp_path):
    ear = Ear()
    lc = Lifecycle.create("heard", stem="toy", runs_dir=tmp_path, hooks=[ear])
    lc.start(config={}, task={"kind": "toy"})
    lc.train(Toy(["1.0", "0.5"]))
    assert ear.heard == [("epoch", 1), ("epoch", 2), ("finished", lc.path)]
    ear2 = Ear()
    lc2 = Lifecycle.create("stopped", stem="toy", runs_dir=tmp_path, hooks=[ear2])
    lc2.start(config={}, task={"kind": "toy"})
    with pytest.raises(RunError):
        lc2.train(Toy(["1.0", "nan"]))
    assert ear2.heard == [("epoch", 1), ("failed",)]
    quiet = Lifecycle.create("q", stem="toy", runs_dir=tmp_path, writer=False, hooks=[Ear()])
    assert quiet.hooks == []  # only the writing process tracks


def test_a_classifier_config_without_params_takes_its_models_registry_defaults():
    from facelab.models import get_model
    from facelab.runs.migrate import upgrade

    up = upgrade({"config": {"model": "cnn"}, "task": {"kind": "binary"}, "state": {}})["config"]
    assert up["params"] == get_model("cnn").default_params and up["ema"] == 0.0
    saved = {"model": "cnn", "params": {"widths": [8, 16]}}
    assert upgrade({"config": saved, "task": {"kind": "binary"}, "state": {}})["config"]["params"] == {"widths": [8, 16]}
