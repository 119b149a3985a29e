"""The trainer on tiny generated caches: tasks, run folders, resume, NaN, bad input."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

from facelab.errors import ConfigError, DataError, RunError
from facelab.runs import Run, list_runs
from facelab.runs.task import resolve_task
from facelab.train.steps import lr_factor
from facelab.train.trainer import train
from train_helpers import TINY, make_cache

torch.set_num_threads(1)
FAST = dict(params=TINY, batch_size=32, progress=False, threads=1, augment=False)


def _stop_after_first(ev):
    """A callback that interrupts a run after its first epoch, like Ctrl-C."""
    if ev.epoch == 1:
        raise KeyboardInterrupt


def _resumed_and_whole(cache, **kw):
    """The same run twice: interrupted after epoch 1 and resumed, and uninterrupted."""
    with pytest.raises(KeyboardInterrupt):
        train(cache, name="interrupted", callbacks=[_stop_after_first], **kw)
    return train(cache, resume="interrupted", progress=False), train(cache, name="whole", **kw)


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return make_cache(tmp_path_factory.mktemp("cache") / "tiny", n=192, classes=3)


def test_binary_run_folder_is_complete_and_consistent(cache, runs_dir):
    run = train(cache, target="A", epochs=3, lr=1e-2, **FAST)
    files = {p.name for p in run.path.iterdir()}
    assert {"config.yaml", "task.json", "input.json", "split.json", "model.safetensors", "checkpoint.safetensors",
            "state.json", "history.csv", "metrics.json", "card.md", "predictions.parquet", "plots"} <= files
    assert (run.path / "plots" / "curves.png").stat().st_size > 1000
    assert run.path.parent == runs_dir and run.name.startswith("A-cnn-")
    assert run.task.kind == "binary" and run.task.outputs == 1
    assert run.metrics["val_accuracy"] > 0.8  # the signal is easy: a bright left half
    assert run.metrics["holdout"] is True  # no val split in the cache: held out of train
    split = run.split()
    assert not set(split["train"]) & set(split["val"]) and len(split["val"]) == round(192 * 0.1)
    assert list(run.history()["epoch"]) == [1, 2, 3]
    # predict_proba on raw uint8 reproduces the stored validation predictions exactly
    pred = run.predictions()
    val = pred[pred.split == "val"]
    p = run.predict_proba(cache.images[val["row"].to_numpy()])
    np.testing.assert_allclose(p[:, 0], val["p_A"].to_numpy(), atol=1e-5)
    assert (val["A"].to_numpy() == cache.table["A"].to_numpy()[val["row"]]).all()
    assert run.embed(cache.images[:5]).shape == (5, 16)
    assert Run.load(run.name).metrics == run.metrics  # by name under runs_root()
    assert [r.name for r in list_runs()] == [run.name]
    assert "Known limits" in (run.path / "card.md").read_text()
    # the accuracy's interval, recomputed from the stored predictions
    from facelab.evaluate.metrics import accuracy_interval

    right = ((val["p_A"].to_numpy() >= 0.5) == val["A"].to_numpy()).astype(float)
    assert right.mean() == pytest.approx(run.metrics["val_accuracy"])
    assert (run.metrics["val_accuracy_low"], run.metrics["val_accuracy_high"]) == accuracy_interval(right)
    assert run.metrics["val_accuracy_low"] < run.metrics["val_accuracy"] <= run.metrics["val_accuracy_high"]
    assert "val_accuracy | " in (run.path / "card.md").read_text() and "(95% CI " in (run.path / "card.md").read_text()
    inp = json.loads((run.path / "input.json").read_text())
    assert {"size", "channels", "grey", "crop", "crop_box", "source_size", "layout", "mean", "std"} <= set(inp)


def test_multilabel_and_multiclass(cache, runs_dir):
    ml = train(cache, target="all", epochs=2, lr=1e-2, **FAST)
    assert ml.task.kind == "multilabel" and ml.task.classes == ["A", "B"]
    assert set(ml.metrics["per_output"]) == {"A", "B"}
    assert ml.predict_proba(cache.images[:3]).shape == (3, 2)
    mc = train(cache, epochs=3, lr=1e-2, **FAST)  # no target: the dataset's class column
    assert mc.task.kind == "multiclass" and mc.task.classes == ["c0", "c1", "c2"]
    p = mc.predict_proba(cache.images[:4])
    np.testing.assert_allclose(p.sum(1), 1, rtol=1e-5)
    assert mc.metrics["val_accuracy"] > 0.6
    for r in (ml, mc):
        assert r.metrics["val_accuracy_low"] <= r.metrics["val_accuracy"] <= r.metrics["val_accuracy_high"]


def test_seed_makes_runs_repeatable(cache, runs_dir):
    a = train(cache, target="A", epochs=2, seed=3, **{**FAST, "augment": True})
    b = train(cache, target="A", epochs=2, seed=3, **{**FAST, "augment": True})
    assert a.name != b.name  # never overwritten
    pd.testing.assert_series_equal(a.history()["train_loss"], b.history()["train_loss"])


def test_seed_repeats_a_run_whose_epochs_fit_its_minutes(cache, runs_dir, monkeypatch):
    """With --minutes beside --epochs the clock must not steer the schedule until it binds: a
    jittery clock (another machine, a busy one) leaves the run exactly as it was."""
    import time as _time

    real = _time.perf_counter
    rng = np.random.default_rng(0)
    runs = []
    for jitter in (0.0, 0.5):
        clock = {"skew": 0.0}

        def jittery():
            clock["skew"] += float(rng.uniform(0, jitter))  # every reading a little later, at random
            return real() + clock["skew"]

        monkeypatch.setattr(_time, "perf_counter", jittery)
        runs.append(train(cache, target="A", epochs=2, minutes=60, seed=3, **{**FAST, "augment": True}))
        monkeypatch.setattr(_time, "perf_counter", real)
    a, b = runs
    pd.testing.assert_series_equal(a.history()["train_loss"], b.history()["train_loss"])
    pd.testing.assert_series_equal(a.history()["lr"], b.history()["lr"])
    assert json.loads((runs_dir / a.name / "state.json").read_text())["clock_binds"] is False


def test_a_binding_clock_still_schedules_the_run(cache, runs_dir, monkeypatch):
    """Planned steps that cannot fit the minutes: the clock takes over the schedule and stops it."""
    import time as _time

    real, t0 = _time.perf_counter, _time.perf_counter()
    monkeypatch.setattr(_time, "perf_counter", lambda: t0 + (real() - t0) * 200)  # 200x slower machine
    run = train(cache, target="A", epochs=1000, minutes=0.5, seed=0, **FAST)
    monkeypatch.setattr(_time, "perf_counter", real)
    state = json.loads((runs_dir / run.name / "state.json").read_text())
    assert state["clock_binds"] is True and run.metrics["stop_reason"] == "minutes"
    assert 0 < run.metrics["epochs"] < 1000


def test_the_clock_takes_over_the_schedule_without_a_jump():
    """A plan 4x too slow for its minutes: the hand-over keeps the schedule where the steps had
    brought it (no skipped warm-up), then spreads the rest over the time left to end with it."""
    from facelab.train.loop import Schedule

    total, budget, dt = 1000, 100.0, 0.4  # 1000 steps at 0.4 s take 400 s
    st: dict = {}
    sched, seen = Schedule(total, budget, st), []
    for step in range(0, 400):
        elapsed = step * dt
        sched.check(step, elapsed, mid_epoch=True)
        seen.append(sched(step, elapsed))
    assert st["clock_binds"] is True and st["bound_at"] == [0.02, pytest.approx(8.0)]
    steps = np.diff(seen)
    # no jump at step 20: before, by steps; after, the rest (0.98) over the 92 s left, evenly
    assert (steps >= 0).all() and steps[:20].max() == pytest.approx(0.001)
    assert steps[20:250].min() == pytest.approx(steps.max()) == pytest.approx(0.98 * dt / (budget - 8.0))
    warm = [lr_factor(p, warmup=0.05, schedule="cosine") for p in seen[:60]]
    assert np.diff(warm).max() < 0.1  # the rest of the warm-up takes 7 steps (taking the clock alone: 1 step of +0.59)
    assert seen[249] < 1.0 <= sched(250, 250 * dt)  # the schedule ends when the minutes do


def test_the_schedule_follows_steps_minutes_or_a_saved_hand_over():
    from facelab.train.loop import Schedule

    assert Schedule(100, None, {})(25, 1e6) == 0.25  # epochs alone: steps, whatever the clock
    assert Schedule(None, 60.0, {})(10**6, 15.0) == 0.25  # minutes alone: the clock
    fits = {}
    assert Schedule(100, 60.0, fits).check(10, 3.0) is False and fits["clock_binds"] is False
    assert Schedule(100, 60.0, fits)(10, 30.0) == 0.1  # fitting: steps, not the (jittery) clock
    assert Schedule(100, 60.0, fits)(10, 60.0) == 1.0  # ... until the minutes are up
    assert Schedule(100, 60.0, {}).check(10, 9.0, mid_epoch=True) is False  # too few steps to judge
    from facelab.runs.migrate import upgrade

    old = upgrade({"config": {}, "task": {}, "state": {"clock_binds": True}})["state"]  # format 0: no hand-over point
    assert Schedule(100, 60.0, old)(10, 30.0) == 0.5


def test_interrupt_then_resume_continues_from_the_next_epoch(cache, runs_dir):
    with pytest.raises(KeyboardInterrupt):
        train(cache, target="A", epochs=3, name="r1", seed=1, callbacks=[_stop_after_first], **FAST)
    state = json.loads((runs_dir / "r1" / "state.json").read_text())
    assert state["status"] == "interrupted" and state["epoch"] == 1
    assert (runs_dir / "r1" / "checkpoint.safetensors").is_file()
    with pytest.raises(RunError):  # unfinished: no metrics yet, predictions refuse clearly
        Run.load("r1").predictions()
    seen = []
    run = train(cache, target="A", resume=True, name="r1", callbacks=[lambda ev: seen.append(ev.epoch)], **FAST)
    assert seen == [2, 3] and list(run.history()["epoch"]) == [1, 2, 3]
    assert run.status == "finished"
    # the resumed run equals an uninterrupted one with the same seed
    ref = train(cache, target="A", epochs=3, name="r2", seed=1, **FAST)
    np.testing.assert_allclose(run.history()["train_loss"], ref.history()["train_loss"], rtol=1e-4)


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(cache, runs_dir):
    def poison(ev):
        if ev.epoch == 1:
            with torch.no_grad():
                for p in ev.model.parameters():
                    p.fill_(float("nan"))

    with pytest.raises(RunError, match="NaN") as e:
        train(cache, target="A", epochs=3, name="nan", callbacks=[poison], **FAST)
    assert "epoch 1" in str(e.value) and "--lr" in e.value.fix
    run = Run.load("nan")
    assert run.status == "nan"
    p = run.predict_proba(np.asarray(run_images := np.zeros((2, 16, 16, 3), np.uint8)))
    assert np.isfinite(p).all() and run_images.shape[0] == 2  # model.safetensors is epoch 1's


def test_minutes_budget_stops_on_time(cache, runs_dir):
    run = train(cache, target="A", minutes=0.03, patience=0, **FAST)
    assert run.metrics["stop_reason"] == "minutes" and run.metrics["train_seconds"] < 20


def test_an_epochs_budget_runs_the_whole_schedule(cache, runs_dir):
    # 192 images: the training split does not fill its last batch, which each epoch skips; the
    # schedule must count the batches that run, or it ends with the learning rate still high
    run = train(cache, target="A", epochs=3, lr=1e-2, patience=0, **FAST)
    assert run.history()["lr"].iloc[-1] < 1e-2 * lr_factor(0.9, warmup=0.05, schedule="cosine")


def test_early_stopping_waits_for_the_first_part_of_the_schedule(cache, runs_dir):
    # lr 1e-7: validation never improves after epoch 1, so every later epoch is a bad one
    kw = dict(target="A", epochs=12, lr=1e-7, ema=0, patience=1, **FAST)
    at_once = train(cache, patience_after=0, **kw)
    assert (at_once.state["stop_reason"], at_once.metrics["epochs"]) == ("early stopping", 2)
    waited = train(cache, patience_after=0.5, **kw)  # bad epochs count from half the schedule on
    assert waited.state["stop_reason"] == "early stopping"
    assert 6 <= waited.metrics["epochs"] < 12 and waited.metrics["best_epoch"] == 1


def test_unknown_target_lists_close_matches(cache):
    with pytest.raises(ConfigError, match="Did you mean label") as e:
        resolve_task(cache, "lable")
    assert "A, B, label" in e.value.fix
    with pytest.raises(ConfigError, match="unknown target 'Smiling'"):
        train(cache, target="Smiling", **FAST)
    with pytest.raises(ConfigError, match="binary"):
        resolve_task(cache, "A,label")


def test_single_class_target_is_refused(tmp_path, runs_dir):
    ds = make_cache(tmp_path / "const", n=64, constant=True)
    with pytest.raises(DataError, match="'A' has only one value"):
        train(ds, target="A", epochs=1, **FAST)
    # in a multilabel task a constant attribute only warns
    with pytest.warns(UserWarning, match="never vary"):
        train(ds, target="A,B", epochs=1, **FAST)


def test_a_folder_that_is_no_dataset_says_which_layouts_are(tmp_path):
    """A dataset folder without a cache is prepared (tests/test_recipes.py); an empty class folder
    is no dataset at all, and the error lists the layouts facelab reads."""
    src = tmp_path / "photos"
    (src / "alice").mkdir(parents=True)
    with pytest.raises(DataError, match="not a dataset layout facelab knows") as e:
        train(src, target="label", **FAST)
    assert "folder" in str(e.value)
    with pytest.raises(DataError, match="does not exist"):
        train(tmp_path / "nowhere", **FAST)
    (tmp_path / "labels.csv").write_text("image_id,A\n")
    with pytest.raises(DataError, match="not a dataset layout.*a file") as e:
        train(tmp_path / "labels.csv", **FAST)
    assert e.value.path == str(tmp_path / "labels.csv")


def test_existing_name_is_never_overwritten(cache, runs_dir):
    train(cache, target="A", epochs=1, name="same", **FAST)
    with pytest.raises(ConfigError, match="already exists"):
        train(cache, target="A", epochs=1, name="same", **FAST)


def test_missing_or_corrupt_run_is_a_run_error(tmp_path, runs_dir):
    with pytest.raises(RunError, match="no run"):
        Run.load("nope")
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "config.yaml").write_text("model: cnn\n")
    (bad / "task.json").write_text("{not json")
    with pytest.raises(RunError, match="corrupt") as e:
        Run.load(bad)
    assert str(bad) in str(e.value)


def test_wrong_input_shape_is_a_data_error(cache, runs_dir):
    run = train(cache, target="A", epochs=1, **FAST)
    with pytest.raises(DataError, match="16×16"):
        run.predict_proba(np.zeros((1, 32, 32, 3), np.uint8))
    assert run.predict_proba(np.zeros((16, 16, 1), np.uint8)).shape == (1, 1)  # grey is widened


def test_schedule_warms_up_then_decays():
    f = [lr_factor(p, warmup=0.1, schedule="cosine") for p in (0.0, 0.05, 0.1, 0.5, 1.0)]
    assert f[0] < f[1] < f[2] == pytest.approx(1.0) and f[3] < f[2] and f[4] < 0.02
    assert lr_factor(0.5, warmup=0.1, schedule="constant") == 1.0


def test_ema_mixup_erase_and_tta_train_save_and_predict_consistently(cache, runs_dir):
    epochs = 6  # mixup and erasing slow learning on 173 images: 3-4 epochs pass for some seeds only
    run = train(cache, target="A", epochs=epochs, lr=1e-2, ema=0.9, mixup=0.2, tta=True,
                **{**FAST, "augment": True, "erase": 0.25})
    assert run.metrics["val_accuracy"] > 0.8
    assert json.loads((run.path / "state.json").read_text())["ema_updates"] == epochs * (172 // 32)
    # The saved weights are the average, and predictions go through the mirror average.
    from facelab.runs.tta import FlipAverage

    model = run.model()
    assert isinstance(model, FlipAverage)
    x = torch.randn(3, 3, 16, 16)
    with torch.no_grad():
        np.testing.assert_allclose(model(x).numpy(), ((model.net(x) + model.net(x.flip(3))) / 2).numpy(),
                                   atol=1e-6)
    pred = run.predictions()
    val = pred[pred.split == "val"]
    p = run.predict_proba(cache.images[val["row"].to_numpy()])
    np.testing.assert_allclose(p[:, 0], val["p_A"].to_numpy(), atol=1e-5)


def test_ema_run_resumes_with_its_average(cache, runs_dir):
    resumed, whole = _resumed_and_whole(cache, target="A", epochs=3, seed=2, ema=0.9, **FAST)
    pd.testing.assert_series_equal(resumed.history()["val_loss"], whole.history()["val_loss"])


def test_a_run_saved_without_ema_resumes_without_it(cache, runs_dir):
    import yaml

    with pytest.raises(KeyboardInterrupt):
        train(cache, target="A", epochs=2, name="old", ema=0.0, callbacks=[_stop_after_first], **FAST)
    cfg_path = runs_dir / "old" / "config.yaml"
    cfg = yaml.safe_load(cfg_path.read_text())
    del cfg["ema"]  # a folder of format 0: no ema option, no format_version
    cfg_path.write_text(yaml.safe_dump(cfg))
    task = json.loads((runs_dir / "old" / "task.json").read_text())
    del task["format_version"]
    (runs_dir / "old" / "task.json").write_text(json.dumps(task))
    run = train(cache, resume="old", progress=False)
    assert run.status == "finished" and "ema_updates" not in run.state  # the average never ran
    from safetensors import safe_open

    with safe_open(str(run.path / "checkpoint.safetensors"), "pt") as f:
        assert not any(k.startswith("ema.") for k in f.keys())


def test_random_erasing_blanks_one_rectangle_per_chosen_image():
    from facelab.train.data import _erase

    g = torch.Generator().manual_seed(0)
    x = _erase(torch.ones(64, 1, 32, 32), 0.5, g)
    blanked = (x == 0).flatten(1).sum(1)
    assert 15 < int((blanked > 0).sum()) < 50  # about half the images
    assert blanked.max() <= 0.25 * 32 * 32 + 64 and blanked[blanked > 0].min() >= 1
    for img in x[blanked > 0, 0]:  # the blank is one rectangle
        ys, xs = torch.nonzero(img == 0, as_tuple=True)
        assert len(ys) == (ys.max() - ys.min() + 1) * (xs.max() - xs.min() + 1)


def test_new_options_are_validated():
    from facelab.train.config import TrainConfig

    for bad in ({"erase": 1.5}, {"mixup": -1}, {"ema": 1.0}, {"binary_smoothing": 1.0},
                {"binary_smoothing": -0.1}, {"optimizer": "adam"}, {"patience_after": 1.5}):
        with pytest.raises(ConfigError):
            TrainConfig.from_dict(bad)


def test_binary_smoothing_softens_training_targets_only():
    from facelab.train.config import TrainConfig
    from facelab.train.loop import task_loss
    from facelab.runs.task import Task

    task = Task(kind="binary", targets=["A"], classes=["A"])
    y, z = np.array([[1.0], [0.0]], np.float32), np.array([[2.0], [-1.0]])
    cfg = TrainConfig(balance="none", binary_smoothing=0.1)

    def bce(t):  # by hand: log(1 + e^z) - t z, averaged
        return float(np.mean(np.log1p(np.exp(z)) - t * z))

    got = task_loss(task, y, cfg, training=True)(torch.tensor(z, dtype=torch.float32), torch.tensor(y))
    assert float(got) == pytest.approx(bce(np.array([[0.95], [0.05]])), rel=1e-5)
    plain = task_loss(task, y, cfg)(torch.tensor(z, dtype=torch.float32), torch.tensor(y))
    assert float(plain) == pytest.approx(bce(y), rel=1e-5)


def test_sgd_run_resumes_with_its_momentum(cache, runs_dir):
    resumed, whole = _resumed_and_whole(cache, target="A", epochs=2, optimizer="sgd", lr=0.05,
                                        binary_smoothing=0.1, **FAST)
    from safetensors.torch import load_file

    assert resumed.config["optimizer"] == "sgd"  # and SGD's state is what the checkpoint holds
    assert any(k.endswith(".momentum_buffer") for k in load_file(str(resumed.path / "checkpoint.safetensors")))
    pd.testing.assert_series_equal(resumed.history()["val_loss"], whole.history()["val_loss"])


def test_auxiliary_attributes_train_beside_the_target_and_are_dropped_when_saved(cache, runs_dir):
    from safetensors.torch import load_file

    # resuming an aux run equals an uninterrupted one
    run, whole = _resumed_and_whole(cache, target="A", epochs=4, lr=2e-2, aux="B", aux_weight=1.0, **FAST)
    pd.testing.assert_series_equal(run.history()["val_loss"], whole.history()["val_loss"])
    assert run.metrics["val_accuracy"] > 0.8 and run.task.outputs == 1
    # The saved model is a plain one-output model; the checkpoint keeps both outputs.
    assert load_file(str(run.path / "model.safetensors"))["head.weight"].shape[0] == 1
    ckpt = load_file(str(run.path / "checkpoint.safetensors"))
    assert ckpt["model.head.weight"].shape[0] == 2
    pred = run.predictions()
    val = pred[pred.split == "val"]
    np.testing.assert_allclose(run.predict_proba(cache.images[val["row"].to_numpy()])[:, 0],
                               val["p_A"].to_numpy(), atol=1e-5)
    # The auxiliary output really learnt B (its labels line up with the images).
    full = run.spec.build(3, 2, **run.params).eval()
    full.load_state_dict({k[4:]: v for k, v in ckpt.items() if k.startswith("ema.")})
    from facelab.runs.preprocess import to_float

    rows = val["row"].to_numpy()
    with torch.no_grad():
        pb = full(to_float(torch.from_numpy(cache.images[rows]), run.input["mean"], run.input["std"]))[:, 1]
    b = cache.table["B"].to_numpy()[rows]
    assert np.mean((pb.numpy() > 0) == b) > max(b.mean(), 1 - b.mean()) + 0.1  # well above the majority


def test_bad_auxiliary_attributes_are_refused(cache, runs_dir):
    from facelab.train.auxiliary import resolve_aux

    task = resolve_task(cache, "A")
    assert resolve_aux(cache, task, True) == resolve_aux(cache, task, "all") == ["B"]  # not the class column
    assert resolve_aux(cache, task, None) == resolve_aux(cache, task, "") == []
    with pytest.raises(ConfigError, match="multiclass"):
        train(cache, target="label", epochs=1, aux="all", **FAST)
    with pytest.raises(ConfigError, match="Did you mean B"):
        train(cache, target="A", epochs=1, aux="b", **FAST)
    with pytest.raises(ConfigError, match="no auxiliary attributes"):
        train(cache, target="A", epochs=1, aux="A", **FAST)
    with pytest.raises(ConfigError, match="not a 0/1"):
        train(cache, target="A", epochs=1, aux="label", **FAST)
    with pytest.raises(ConfigError, match="attribute names"):
        train(cache, target="A", epochs=1, aux=3, **FAST)
    with pytest.raises(ConfigError, match="aux_weight"):
        train(cache, target="A", epochs=1, aux="B", aux_weight=-1, **FAST)
