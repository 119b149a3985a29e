"""Temperature scaling: the fit recovers a known temperature; runs store it, apply it everywhere,
and keep every decision."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from facelab.runs.calibrate import CALIBRATION, apply_temperature, fit_temperature, nll
from facelab.runs import Run
from facelab.train.trainer import train
from train_helpers import TINY, make_cache

torch.set_num_threads(1)


def _softmax(z):
    e = np.exp(z - z.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


@pytest.mark.parametrize("t_true", [0.5, 2.0])
def test_fit_recovers_the_temperature_labels_were_drawn_with(t_true):
    rng = np.random.default_rng(0)
    z = rng.normal(0, 2, (20000, 4))
    y = np.array([rng.choice(4, p=p) for p in _softmax(z / t_true)])
    t = fit_temperature(_softmax(z), y, "multiclass")
    assert t == pytest.approx(t_true, rel=0.05)
    # binary: labels drawn from sigmoid(z / T)
    zb = rng.normal(0, 2, (20000, 1))
    yb = (rng.random((20000, 1)) < 1 / (1 + np.exp(-zb / t_true))).astype(np.float32)
    assert fit_temperature(1 / (1 + np.exp(-zb)), yb, "binary") == pytest.approx(t_true, rel=0.05)


def test_temperature_keeps_decisions_and_lowers_the_nll():
    rng = np.random.default_rng(1)
    p = _softmax(rng.normal(0, 1, (500, 3)))
    y = p.argmax(1)  # always right: a sharper answer is better
    t = fit_temperature(p, y, "multiclass")
    q = apply_temperature(p, t, "multiclass")
    assert t < 1 and (q.argmax(1) == p.argmax(1)).all() and nll(q, y, "multiclass") < nll(p, y, "multiclass")
    np.testing.assert_allclose(apply_temperature(p, 1.0, "multiclass"), p, atol=1e-6)


def test_a_run_fits_stores_and_applies_its_temperature(tmp_path, runs_dir):
    ds = make_cache(tmp_path / "c", n=200, classes=3, splits=(0.2, 0.2))
    run = train(ds, target="label", epochs=4, name="cal", params=TINY, batch_size=32, progress=False,
                threads=1, augment=False, seed=0)
    cal = json.loads((run.path / CALIBRATION).read_text())
    assert cal["fitted_on"] == "val" and cal["images"] == run.metrics["val_images"]
    assert run.metrics["temperature"] == cal["temperature"] == pytest.approx(run.temperature)
    assert cal["val_nll_after"] <= cal["val_nll_before"] + 1e-9
    assert "temperature-scaled" in (run.path / "card.md").read_text()
    # val_loss stays the training objective on the network's own logits, as in the history
    hist = run.history()
    best = hist[hist["epoch"] == run.metrics["best_epoch"]]
    assert run.metrics["val_loss"] == pytest.approx(float(best["val_loss"].iloc[0]), rel=1e-4)
    rows = ds.split("test")
    calibrated = run.predict_proba(ds.images[rows])
    # the stored predictions and the metrics are the calibrated model's
    pred = run.predictions()
    test = pred[pred.split == "test"].sort_values("row")
    order = np.argsort(rows)
    np.testing.assert_allclose(calibrated[order], test[[c for c in test if c.startswith("p_")]].to_numpy(),
                               atol=1e-5)
    # without calibration.json the same weights give the raw probabilities: same decisions
    (run.path / CALIBRATION).unlink()
    raw = Run.load(run.path).predict_proba(ds.images[rows])
    np.testing.assert_allclose(apply_temperature(raw, cal["temperature"], "multiclass"), calibrated, atol=1e-4)
    assert (raw.argmax(1) == calibrated.argmax(1)).all()


def test_calibrate_false_fits_nothing(tmp_path, runs_dir):
    ds = make_cache(tmp_path / "c", n=120, splits=(0.2, 0.0))
    run = train(ds, target="A", epochs=1, name="raw", params=TINY, batch_size=32, progress=False, threads=1,
                augment=False, calibrate=False)
    assert not (run.path / CALIBRATION).exists() and run.temperature == 1.0 and "temperature" not in run.metrics


def test_a_stale_calibration_file_is_refitted_not_compounded(tmp_path, runs_dir, monkeypatch):
    from facelab.train.loop import Loop

    ds = make_cache(tmp_path / "c", n=200, classes=3, splits=(0.2, 0.2))
    kw = dict(target="label", epochs=2, params=TINY, batch_size=32, progress=False, threads=1, augment=False, seed=0)
    fitted = train(ds, name="a", **kw).temperature
    # a file from other weights is in the folder when the run finishes (as after a resume): the
    # fit must start from the network's own probabilities, and calibrate=false must drop it
    original = Loop.evaluate

    def with_stale_file(self, *args):
        (self.path / CALIBRATION).write_text(json.dumps({"temperature": 7.0}))
        return original(self, *args)

    monkeypatch.setattr(Loop, "evaluate", with_stale_file)
    assert train(ds, name="b", **kw).temperature == pytest.approx(fitted, rel=1e-3)
    assert train(ds, name="c", calibrate=False, **kw).temperature == 1.0
