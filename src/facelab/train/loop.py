"""The classifier's part of a run (torch models): one epoch of steps and validation, the
checkpoint, the final evaluation and the card, plugged into the run
:class:`~facelab.runs.lifecycle.Lifecycle` (which owns the folder, the state, the history and the
NaN / Ctrl-C policy).

Example:
    >>> isinstance(native_bf16(), bool)   # autocast to bfloat16 only where the CPU computes it natively
    True
"""
from __future__ import annotations

import logging
import math
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import ConfigError
from ..evaluate.metrics import accuracy_bounds, expected_calibration_error
from ..runs import writer as artifacts
from ..runs.degenerate import degenerate
from ..runs.layout import CALIBRATION, CHECKPOINT, METRICS, PREDICTIONS, WEIGHTS
from ..runs.lifecycle import EpochResult, Lifecycle, NonFiniteLoss
from ..runs.preprocess import to_float
from ..runs.run import Run
from ..runs.tta import for_inference
from .auxiliary import MainOutputs, main_state_dict, with_aux_loss
from .checkpoint import load_checkpoint, save_checkpoint, save_weights
from .data import Augment, Batches
from .distributed import Dist
from .ema import WeightAverage
from .schedule import Schedule
from .setup import class_weights
from .steps import EpochEnd, evaluate_batches, lr_factor, param_groups
from .weights import load_matching, read_state_dict

log = logging.getLogger(__name__)



class Loop:
    """The classifier's :class:`~facelab.runs.lifecycle.RunTask`: one epoch of training and
    validation, the checkpoint (best weights + the resumable checkpoint), the final evaluation
    (calibration, predictions, metrics) and the card. The run folder is the lifecycle's."""

    def __init__(self, *, cfg, spec, params, ds, task, path: Path, input_, train_rows, val_rows, holdout,
                 state, progress, callbacks, aux: list[str] = (), dist: Dist | None = None):
        self.cfg, self.spec, self.params, self.ds, self.task = cfg, spec, params, ds, task
        self.path, self.input, self.state = path, input_, state
        self.train_rows, self.val_rows, self.holdout = train_rows, val_rows, holdout
        self.progress, self.callbacks = progress, callbacks
        self.mean, self.std = input_["mean"], input_["std"]
        self.init_report: dict | None = state.get("init")
        self.bf16 = cfg.precision == "bf16" or (cfg.precision == "auto" and native_bf16())
        self.aux = list(aux)  # auxiliary attributes: training-only outputs after the task's
        self.dist = dist  # one of several DDP processes (facelab.train.distributed), or None
        self.stop_reason = "epochs"

    # -- setup ---------------------------------------------------------------------------------
    def _build(self):
        cfg, task = self.cfg, self.task
        torch.manual_seed(cfg.seed)
        model = self.spec.build(int(self.input["channels"]), task.outputs + len(self.aux), **self.params)
        resuming = (self.path / CHECKPOINT).is_file()
        if not resuming and self.state.get("epoch", 0) == 0:
            self._initial_weights(model)
        if cfg.channels_last:
            model = model.to(memory_format=torch.channels_last)

        groups = param_groups(model, cfg.weight_decay)
        opt = (torch.optim.SGD(groups, lr=cfg.lr, momentum=0.9, nesterov=True) if cfg.optimizer == "sgd"
               else torch.optim.AdamW(groups, lr=cfg.lr))
        ema = WeightAverage(model, cfg.ema, int(self.state.get("ema_updates", 0))) if cfg.ema else None
        if resuming:
            load_checkpoint(self.path / CHECKPOINT, model, opt, ema.module if ema else None)
        return model, opt, ema

    def _initial_weights(self, model) -> None:
        """``--weights FILE`` or ``--init RUN``: the starting weights of a new run."""
        cfg = self.cfg
        if cfg.weights:
            rep = load_matching(model, read_state_dict(cfg.weights), source=str(cfg.weights), model_name=cfg.model)
            self.init_report = rep.to_dict()
        elif cfg.init:
            src = Run.load(cfg.init)
            if not src.spec.trains_in_epochs:
                raise ConfigError(f"--init needs a network run; {src.name} is {src.model_name}", path=src.path,
                                  fix="start from a cnn/mobilenetv2/resnet18 run")
            from safetensors.torch import load_file

            if src.model_name != cfg.model:
                raise ConfigError(f"--init run {src.name} is a {src.model_name}, not a {cfg.model}",
                                  path=src.path, fix=f"pass --model {src.model_name}")
            # The new model must have the source's shape: take its params unless given.
            rep = load_matching(model, load_file(str(src.path / WEIGHTS)), source=f"run {src.name}",
                                model_name=cfg.model)
            self.init_report = rep.to_dict()
        if self.init_report:
            self.state["init"] = self.init_report

    def setup(self) -> "Loop":
        """Batches, losses, the model, its optimiser and the schedule (before the first epoch)."""
        cfg, task, ds = self.cfg, self.task, self.ds
        self.y_all = y_all = task.labels(ds.table)
        y_train = y_all[self.train_rows]
        self.loss_fn = task_loss(task, y_train, cfg)  # validation and the final evaluation
        self.train_loss_fn = task_loss(task, y_train, cfg, training=True)
        if self.aux:  # train on [target(s), auxiliary attributes]; everything else sees the target
            y_train = np.concatenate([y_train, ds.table[self.aux].to_numpy(np.float32)[self.train_rows]], 1)
            self.train_loss_fn = with_aux_loss(self.train_loss_fn, task.outputs, cfg.aux_weight)
        self.tr = (Batches(ds.images, self.train_rows, y_train, cfg.batch_size) if self.dist is None
                   else self.dist.batches(ds.images, self.train_rows, y_train, cfg.batch_size))  # this process's shard
        self.va = Batches(ds.images, self.val_rows, y_all[self.val_rows], cfg.eval_batch_size)
        self.model, self.opt, self.ema = self._build()
        self.net = self.model if self.dist is None else self.dist.wrap(self.model)  # what the training step runs
        self.augment = (Augment(cfg.flip, cfg.shift, cfg.scale, cfg.rotate, cfg.jitter, cfg.erase)
                        if cfg.augment else None)
        scored = self.ema.module if self.ema is not None else self.model  # what is evaluated and saved
        self.scored = MainOutputs(scored, task.outputs) if self.aux else scored
        self.judged = for_inference(self.scored, cfg.tta)  # validation predicts as the saved run will
        # Each epoch skips a partial last batch (a tiny batch makes BatchNorm noisy); the schedule
        # plans with the batches that really run, so an --epochs budget anneals to its end.
        self.steps_per_epoch = self.tr.steps(drop_last=True)
        total_steps = cfg.epochs * self.steps_per_epoch if cfg.epochs else None
        self.budget = cfg.minutes * 60 if cfg.minutes else None
        self.schedule = Schedule(total_steps, self.budget, self.state)
        self.max_epochs = cfg.epochs or 10**6
        return self

    # -- one epoch (the lifecycle's RunTask) ---------------------------------------------------
    def epoch(self, e: int) -> EpochResult | None:
        if e > self.max_epochs:
            return None
        st, cfg = self.state, self.cfg
        t0 = time.perf_counter()
        base_elapsed = float(st["elapsed"])
        done, lr, sums = self._train_steps(e, t0, base_elapsed)
        run_loss, run_correct, seen = sums
        train_s = time.perf_counter() - t0
        st["stop_reason"] = self.stop_reason
        if seen == 0:
            return None
        if self.ema is not None:
            st["ema_updates"] = self.ema.updates
        _, val_loss, val_acc, _ = evaluate_batches(self.judged, self.va, self.task, self.loss_fn, self.mean, self.std)
        if not math.isfinite(val_loss) and len(self.va.rows):
            raise NonFiniteLoss(e, st["step"])
        secs = time.perf_counter() - t0
        if self.dist is not None:
            secs = self.dist.agree(secs)
        st["elapsed"] = base_elapsed + secs
        self.schedule.check(st["step"], float(st["elapsed"]))  # whole epochs, validation included
        row = {"epoch": e, "train_loss": run_loss / seen, "train_accuracy": run_correct / seen,
               "val_loss": val_loss, "val_accuracy": val_acc, "lr": lr, "seconds": round(secs, 2),
               "images_per_s": round(seen / train_s, 1), "elapsed": round(st["elapsed"], 1)}
        score = val_acc if len(self.va.rows) else -row["train_loss"]
        improved = st.get("best") is None or score > st["best"]
        if improved:
            st["best"], st["best_epoch"], st["bad_epochs"] = score, e, 0
        elif self.schedule(st["step"], float(st["elapsed"])) >= cfg.patience_after:
            # an epoch in the first part of the schedule never counts against patience
            st["bad_epochs"] = int(st.get("bad_epochs", 0)) + 1
        stop = done or e >= self.max_epochs
        if not done and cfg.patience and st["bad_epochs"] >= cfg.patience:
            self.stop_reason, stop = "early stopping", True
        st["stop_reason"] = self.stop_reason
        return EpochResult(row, stop=stop, extra={"improved": improved, "seconds": secs})

    def _train_steps(self, e: int, t0: float, base_elapsed: float) -> tuple[bool, float, tuple[float, float, int]]:
        """The training steps of epoch ``e``: (the schedule ended, the last learning rate,
        (summed loss, summed accuracy, images seen))."""
        cfg, st, task = self.cfg, self.state, self.task
        # Per-epoch seeds: a resumed run draws exactly what an uninterrupted one would.
        g = torch.Generator().manual_seed(cfg.seed * 100_003 + e)
        torch.manual_seed(cfg.seed * 100_003 + e)  # dropout draws from the global generator
        mix_rng = np.random.default_rng([cfg.seed, e])  # mixup weights (torch has no seeded Beta)
        self.model.train()
        run_loss, run_correct, seen = 0.0, 0.0, 0
        done, lr = False, cfg.lr
        bar = _bar(self.steps_per_epoch, f"epoch {e}" + (f"/{cfg.epochs}" if cfg.epochs else ""), self.progress)
        for xb, yb in self.tr.epoch(g, drop_last=True):
            elapsed = base_elapsed + time.perf_counter() - t0
            if self.dist is not None:  # one clock for all processes: they stop at the same step
                elapsed = self.dist.agree(elapsed)
            self.schedule.check(st["step"], elapsed, mid_epoch=True)
            prog = self.schedule(st["step"], elapsed)
            if prog >= 1.0:
                done = True
                self.stop_reason = "minutes" if self.budget and elapsed >= self.budget else "epochs"
                break
            lr = cfg.lr * lr_factor(prog, warmup=cfg.warmup, schedule=cfg.schedule)
            logits, loss = self._step(xb, yb, lr, g, mix_rng, e)
            n = len(xb)
            seen += n
            run_loss += float(loss.detach()) * n
            with torch.no_grad():
                out, yt = logits.detach(), yb.numpy()
                if self.aux:  # the target's outputs only
                    out, yt = out[:, :task.outputs], yt[:, :task.outputs]
                p = task.probabilities(out).numpy()
            run_correct += task.accuracy(p, yt) * n
            bar.update(1)
            bar.set_postfix(loss=f"{run_loss / seen:.4f}", acc=f"{run_correct / seen:.3f}", lr=f"{lr:.1e}",
                            refresh=False)
        bar.close()
        return done, lr, (run_loss, run_correct, seen)

    def _step(self, xb, yb, lr: float, g, mix_rng, e: int):
        """One optimisation step on a batch: (logits, loss)."""
        cfg, st = self.cfg, self.state
        for grp in self.opt.param_groups:
            grp["lr"] = lr
        x = to_float(xb, self.mean, self.std)
        if self.augment is not None:
            x = self.augment(x, g)
        mix = None
        if cfg.mixup:
            lam = float(mix_rng.beta(cfg.mixup, cfg.mixup))
            mix = (lam, torch.randperm(len(x), generator=g))
            x = lam * x + (1 - lam) * x[mix[1]]
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.bf16):
            logits = self.net(x).float()
        loss = self.train_loss_fn(logits, yb)
        if mix is not None:
            loss = mix[0] * loss + (1 - mix[0]) * self.train_loss_fn(logits, yb[mix[1]])
        if not torch.isfinite(loss):
            raise NonFiniteLoss(e, st["step"])
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        if self.ema is not None:
            self.ema.update(self.model)
        st["step"] += 1
        return logits, loss

    def checkpoint(self, lc: Lifecycle, result: EpochResult) -> None:
        if result.extra["improved"]:
            save_weights(self.path / WEIGHTS, self._saved(self.scored))
        save_checkpoint(self.path / CHECKPOINT, self.model, self.opt, self.ema.module if self.ema else None)

    def epoch_done(self, lc: Lifecycle, result: EpochResult) -> None:
        row = result.row
        if self.progress:
            log.info("epoch %d: loss %.4f  val_loss %.4f  val_acc %.4f  %.0f img/s  %.0fs", row["epoch"],
                     row["train_loss"], row["val_loss"], row["val_accuracy"], row["images_per_s"],
                     result.extra["seconds"])
        for cb in self.callbacks:
            cb(EpochEnd(epoch=row["epoch"], history=row, run_path=self.path, model=self.model))

    def interrupted(self, lc: Lifecycle) -> None:
        """Nothing to add: the last finished epoch's checkpoint is the resume point."""

    def nan_fix(self, lc: Lifecycle) -> str:
        return (f"lower the learning rate (now --lr {self.cfg.lr}) and start a new run, or "
                f"resume with `--resume --name {self.path.name}` after fixing the data")

    def resume_command(self, lc: Lifecycle) -> str:
        return f"facelab train {self.cfg.data} --resume --name {self.path.name}"

    # -- helpers -------------------------------------------------------------------------------
    def _saved(self, scored) -> torch.nn.Module | dict:
        """What ``weights.safetensors`` holds: the scored model, its head cut to the task's outputs."""
        return main_state_dict(scored.net, self.task.outputs) if self.aux else scored

    def _calibrate(self, proba, logits, y) -> tuple[float, dict | None]:
        """Fit the temperature on the validation predictions and write ``calibration.json``:
        ``(T, its record)``, or ``(1.0, None)`` when the run does not calibrate."""
        from ..runs.calibrate import fit_temperature, nll

        if not self.cfg.calibrate or not len(y):
            return 1.0, None
        kind = self.task.kind
        t = round(fit_temperature(proba, y, kind), 4)
        after = self.task.probabilities(torch.from_numpy(logits / t)).numpy()
        cal = {"temperature": t, "fitted_on": "val", "images": int(len(y)),
               "val_nll_before": nll(proba, y, kind), "val_nll_after": nll(after, y, kind),
               "val_ece_before": expected_calibration_error(y, proba, kind),
               "val_ece_after": expected_calibration_error(y, after, kind)}
        artifacts.write_json(self.path / CALIBRATION, cal)
        return t, cal

    # -- the end (the lifecycle's evaluation, card and result) ---------------------------------
    def evaluate(self, lc: Lifecycle) -> None:
        """Score the best epoch's saved weights on val (and test): calibration, predictions, metrics."""
        cfg, task, ds, st, y_all = self.cfg, self.task, self.ds, self.state, self.y_all
        # The best epoch's saved weights, not the last: exactly the model the run serves. A
        # calibration file left by an earlier finish (a resumed run) belongs to other weights:
        # the losses and the fit below need the network's own logits.
        (self.path / CALIBRATION).unlink(missing_ok=True)
        saved = Run.load(self.path)
        model = saved.model()
        ids = ds.table["image_id"].to_numpy()
        frames, metrics = [], {}
        self.per_output: dict = {}
        calibration, t = None, 1.0
        for split, rows in (("val", self.val_rows), ("test", ds.split("test"))):
            if not len(rows):
                continue
            b = Batches(ds.images, rows, y_all[rows], cfg.eval_batch_size)
            # the loss is the training objective on the network's own logits (the history's
            # val_loss); the probabilities kept and scored are divided by the temperature, as
            # Run.model will divide them from now on
            proba, loss, acc, logits = evaluate_batches(model, b, task, self.loss_fn, self.mean, self.std)
            if split == "val":
                t, calibration = self._calibrate(proba, logits, y_all[rows])
            if t != 1.0:
                proba = task.probabilities(torch.from_numpy(logits / t)).numpy()
            metrics[f"{split}_accuracy"], metrics[f"{split}_loss"] = acc, loss
            metrics.update(accuracy_bounds(task, split, y_all[rows], proba))
            if split == "val":
                self.per_output = task.per_output_accuracy(proba, y_all[rows])
                metrics["degenerate"] = degenerate(task.kind, list(task.classes), y_all[rows], proba)
            frames.append(artifacts.predictions_frame(task, split, rows, ids[rows], y_all[rows], proba))
        if frames:
            import pandas as pd

            pd.concat(frames, ignore_index=True).to_parquet(self.path / PREDICTIONS, index=False)
        hist = saved.history()
        ips = hist["images_per_s"] if len(hist) else []
        metrics.update(best_epoch=int(st.get("best_epoch", 0)), epochs=int(st["epoch"]), steps=int(st["step"]),
                       train_seconds=float(st["elapsed"]),
                       images_per_s=float(np.median(ips)) if len(ips) else 0.0,
                       holdout=bool(self.holdout), stop_reason=st.get("stop_reason"),
                       threads=torch.get_num_threads(), precision="bf16" if self.bf16 else "fp32",
                       train_images=int(len(self.train_rows)), val_images=int(len(self.val_rows)))
        if task.kind == "multilabel":
            metrics["val_mean_accuracy"] = metrics.get("val_accuracy")
        metrics["per_output"] = self.per_output
        if calibration:
            metrics["temperature"] = calibration["temperature"]
        if metrics.get("degenerate") and self.progress:
            warnings.warn(f"the model {metrics['degenerate']}: train longer (--minutes), check the labels, "
                          "or lower --lr", DegenerateModelWarning, stacklevel=2)
        artifacts.write_json(self.path / METRICS, metrics)
        self.metrics = metrics

    def card(self, lc: Lifecycle) -> None:
        ds = self.ds
        artifacts.write_plots(self.path)
        artifacts.write_card(self.path, config=self.cfg.to_dict(), task=self.task, input_=self.input,
                             metrics=self.metrics,
                             data_summary={"path": str(ds.path), "train": len(self.train_rows),
                                           "val": len(self.val_rows), "test": len(ds.split("test")),
                                           "holdout": self.holdout},
                             per_output=self.per_output, init=self.init_report)

    def result(self, lc: Lifecycle) -> Run:
        return Run.load(self.path)


class DegenerateModelWarning(UserWarning):
    """The finished model answers (nearly) the same for every face: it learned nothing useful."""


def task_loss(task, y_train: np.ndarray, cfg, *, training: bool = False):
    """The loss of ``task``: cross-entropy (multiclass, with ``label_smoothing``) or BCE with
    positive weights from ``cfg.balance``. ``training=True`` adds ``binary_smoothing`` to 0/1
    targets (y -> y (1 - e) + e / 2), so validation losses stay comparable between runs."""
    w = class_weights(task, y_train, cfg.balance)
    if task.kind == "multiclass":
        ls = cfg.label_smoothing
        return lambda logits, y: F.cross_entropy(logits, y, weight=w, label_smoothing=ls)
    e = cfg.binary_smoothing if training else 0.0
    return lambda logits, y: F.binary_cross_entropy_with_logits(logits, y * (1 - e) + e / 2, pos_weight=w)


def native_bf16() -> bool:
    """True when the CPU computes bfloat16 natively (AVX512-BF16 or AMX), where autocast to bf16
    trains ~1.5x faster; elsewhere bf16 is emulated and slower, so fp32 is kept."""
    try:
        flags = open("/proc/cpuinfo").read()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def _bar(total: int, desc: str, enabled: bool):
    from tqdm.auto import tqdm

    import os

    # off a terminal the CLI sets TQDM_MININTERVAL (occasional lines); an explicit value would hide it
    return tqdm(total=total, desc=desc, disable=None if enabled else True, leave=False, file=sys.stderr,
                dynamic_ncols=True, mininterval=max(0.5, float(os.environ.get("TQDM_MININTERVAL") or 0.5)))
