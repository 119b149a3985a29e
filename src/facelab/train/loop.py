"""The epoch loop behind :func:`facelab.train.trainer.train` (torch models).

Example: docs/python.md#training.
"""
from __future__ import annotations

import csv
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import RunError
from ..evaluate.metrics import accuracy_bounds, expected_calibration_error
from ..runs import writer as artifacts
from ..runs.degenerate import degenerate
from ..runs.layout import CALIBRATION, CHECKPOINT, HISTORY, HISTORY_FIELDS, METRICS, PREDICTIONS, STATE, WEIGHTS
from ..runs.preprocess import to_float
from ..runs.run import Run
from ..runs.tta import for_inference
from .auxiliary import MainOutputs, main_state_dict, with_aux_loss
from .checkpoint import load_checkpoint, save_checkpoint, save_weights
from .data import Augment, Batches
from .distributed import current
from .ema import WeightAverage
from .setup import class_weights
from .steps import EpochEnd, evaluate_batches, lr_factor, param_groups
from .weights import load_matching, read_state_dict



class Loop:
    def __init__(self, *, cfg, spec, params, ds, task, path: Path, input_, train_rows, val_rows, holdout,
                 state, progress, callbacks, aux: list[str] = ()):
        self.cfg, self.spec, self.params, self.ds, self.task = cfg, spec, params, ds, task
        self.path, self.input, self.state = path, input_, state
        self.train_rows, self.val_rows, self.holdout = train_rows, val_rows, holdout
        self.progress, self.callbacks = progress, callbacks
        self.mean, self.std = input_["mean"], input_["std"]
        self.init_report: dict | None = state.get("init")
        self.bf16 = cfg.precision == "bf16" or (cfg.precision == "auto" and native_bf16())
        self.aux = list(aux)  # auxiliary attributes: training-only outputs after the task's
        self.dist = current()  # one of several DDP processes (facelab.train.distributed), or None

    # -- setup ---------------------------------------------------------------------------------
    def _build(self):
        cfg, task = self.cfg, self.task
        torch.manual_seed(cfg.seed)
        model = self.spec.build(int(self.input["channels"]), task.outputs + len(self.aux), **self.params)
        resuming = (self.path / CHECKPOINT).is_file()
        if not resuming and self.state.get("epoch", 0) == 0:
            if cfg.weights:
                rep = load_matching(model, read_state_dict(cfg.weights), source=str(cfg.weights),
                                    model_name=cfg.model)
                self.init_report = rep.to_dict()
            elif cfg.init:
                src = Run.load(cfg.init)
                if src.spec.kind != "torch":
                    from ..errors import ConfigError

                    raise ConfigError(f"--init needs a torch run; {src.name} is {src.model_name}", path=src.path,
                                      fix="start from a cnn/mobilenetv2/resnet18 run")
                from safetensors.torch import load_file

                if src.model_name != cfg.model:
                    from ..errors import ConfigError

                    raise ConfigError(f"--init run {src.name} is a {src.model_name}, not a {cfg.model}",
                                      path=src.path, fix=f"pass --model {src.model_name}")
                # The new model must have the source's shape: take its params unless given.
                rep = load_matching(model, load_file(str(src.path / WEIGHTS)), source=f"run {src.name}",
                                    model_name=cfg.model)
                self.init_report = rep.to_dict()
            if self.init_report:
                self.state["init"] = self.init_report
        if cfg.channels_last:
            model = model.to(memory_format=torch.channels_last)

        groups = param_groups(model, cfg.weight_decay)
        opt = (torch.optim.SGD(groups, lr=cfg.lr, momentum=0.9, nesterov=True) if cfg.optimizer == "sgd"
               else torch.optim.AdamW(groups, lr=cfg.lr))
        ema = WeightAverage(model, cfg.ema, int(self.state.get("ema_updates", 0))) if cfg.ema else None
        if resuming:
            load_checkpoint(self.path / CHECKPOINT, model, opt, ema.module if ema else None)
        return model, opt, ema

    # -- the loop ------------------------------------------------------------------------------
    def run(self) -> Run:
        cfg, task, ds = self.cfg, self.task, self.ds
        y_all = task.labels(ds.table)
        y_train = y_all[self.train_rows]
        loss_fn = task_loss(task, y_train, cfg)  # validation and the final evaluation
        train_loss_fn = task_loss(task, y_train, cfg, training=True)
        if self.aux:  # train on [target(s), auxiliary attributes]; everything else sees the target
            y_train = np.concatenate([y_train, ds.table[self.aux].to_numpy(np.float32)[self.train_rows]], 1)
            train_loss_fn = with_aux_loss(train_loss_fn, task.outputs, cfg.aux_weight)
        tr = (Batches(ds.images, self.train_rows, y_train, cfg.batch_size) if self.dist is None
              else self.dist.batches(ds.images, self.train_rows, y_train, cfg.batch_size))  # this process's shard
        va = Batches(ds.images, self.val_rows, y_all[self.val_rows], cfg.eval_batch_size)
        model, opt, ema = self._build()
        net = model if self.dist is None else self.dist.wrap(model)  # what the training step runs
        augment = (Augment(cfg.flip, cfg.shift, cfg.scale, cfg.rotate, cfg.jitter, cfg.erase)
                   if cfg.augment else None)
        scored = ema.module if ema is not None else model  # what is evaluated and saved
        if self.aux:
            scored = MainOutputs(scored, task.outputs)
        judged = for_inference(scored, cfg.tta)  # validation predicts as the saved run will

        st = self.state
        # Each epoch skips a partial last batch (a tiny batch makes BatchNorm noisy); the schedule
        # plans with the batches that really run, so an --epochs budget anneals to its end.
        steps_per_epoch = tr.steps(drop_last=True)
        total_steps = cfg.epochs * steps_per_epoch if cfg.epochs else None
        budget = cfg.minutes * 60 if cfg.minutes else None

        schedule = Schedule(total_steps, budget, st)

        max_epochs = cfg.epochs or 10**6
        st["status"] = "running"
        epoch = int(st.get("epoch", 0))
        stop_reason = "epochs"
        try:
            while epoch < max_epochs:
                e = epoch + 1
                # Per-epoch seeds: a resumed run draws exactly what an uninterrupted one would.
                g = torch.Generator().manual_seed(cfg.seed * 100_003 + e)
                torch.manual_seed(cfg.seed * 100_003 + e)  # dropout draws from the global generator
                mix_rng = np.random.default_rng([cfg.seed, e])  # mixup weights (torch has no seeded Beta)
                model.train()
                t0 = time.perf_counter()
                base_elapsed = float(st["elapsed"])
                run_loss, run_correct, seen = 0.0, 0.0, 0
                done = False
                bar = _bar(steps_per_epoch, f"epoch {e}" + (f"/{cfg.epochs}" if cfg.epochs else ""), self.progress)
                lr = cfg.lr
                for xb, yb in tr.epoch(g, drop_last=True):
                    elapsed = base_elapsed + time.perf_counter() - t0
                    if self.dist is not None:  # one clock for all processes: they stop at the same step
                        elapsed = self.dist.agree(elapsed)
                    schedule.check(st["step"], elapsed, mid_epoch=True)
                    prog = schedule(st["step"], elapsed)
                    if prog >= 1.0:
                        done = True
                        stop_reason = "minutes" if budget and elapsed >= budget else "epochs"
                        break
                    lr = cfg.lr * lr_factor(prog, warmup=cfg.warmup, schedule=cfg.schedule)
                    for grp in opt.param_groups:
                        grp["lr"] = lr
                    x = to_float(xb, self.mean, self.std)
                    if augment is not None:
                        x = augment(x, g)
                    mix = None
                    if cfg.mixup:
                        lam = float(mix_rng.beta(cfg.mixup, cfg.mixup))
                        mix = (lam, torch.randperm(len(x), generator=g))
                        x = lam * x + (1 - lam) * x[mix[1]]
                    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.bf16):
                        logits = net(x).float()
                    loss = train_loss_fn(logits, yb)
                    if mix is not None:
                        loss = mix[0] * loss + (1 - mix[0]) * train_loss_fn(logits, yb[mix[1]])
                    if not torch.isfinite(loss):
                        self._nan(e, st["step"])
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    opt.step()
                    if ema is not None:
                        ema.update(model)
                    st["step"] += 1
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
                    bar.set_postfix(loss=f"{run_loss / seen:.4f}", acc=f"{run_correct / seen:.3f}",
                                    lr=f"{lr:.1e}", refresh=False)
                bar.close()
                train_s = time.perf_counter() - t0
                if seen == 0:
                    break
                if ema is not None:
                    st["ema_updates"] = ema.updates
                proba, val_loss, val_acc, _ = evaluate_batches(judged, va, task, loss_fn, self.mean, self.std)
                if not math.isfinite(val_loss) and len(va.rows):
                    self._nan(e, st["step"])
                secs = time.perf_counter() - t0
                if self.dist is not None:
                    secs = self.dist.agree(secs)
                st["elapsed"] = base_elapsed + secs
                schedule.check(st["step"], float(st["elapsed"]))  # whole epochs, validation included
                row = {"epoch": e, "train_loss": run_loss / seen, "train_accuracy": run_correct / seen,
                       "val_loss": val_loss, "val_accuracy": val_acc, "lr": lr, "seconds": round(secs, 2),
                       "images_per_s": round(seen / train_s, 1), "elapsed": round(st["elapsed"], 1)}
                epoch = e
                st["epoch"] = e
                score = val_acc if len(va.rows) else -row["train_loss"]
                if st.get("best") is None or score > st["best"]:
                    st["best"], st["best_epoch"], st["bad_epochs"] = score, e, 0
                    save_weights(self.path / WEIGHTS, self._saved(scored))
                elif schedule(st["step"], float(st["elapsed"])) >= cfg.patience_after:
                    # an epoch in the first part of the schedule never counts against patience
                    st["bad_epochs"] = int(st.get("bad_epochs", 0)) + 1
                self._append_history(row)
                save_checkpoint(self.path / CHECKPOINT, model, opt, ema.module if ema else None)
                artifacts.write_json(self.path / STATE, st)
                if self.progress:
                    print(f"epoch {e}: loss {row['train_loss']:.4f}  val_loss {val_loss:.4f}  "
                          f"val_acc {val_acc:.4f}  {row['images_per_s']:.0f} img/s  {secs:.0f}s",
                          file=sys.stderr, flush=True)
                for cb in self.callbacks:
                    cb(EpochEnd(epoch=e, history=row, run_path=self.path, model=model))
                if done:
                    break
                if cfg.patience and st["bad_epochs"] >= cfg.patience:
                    stop_reason = "early stopping"
                    break
        except KeyboardInterrupt:
            st["status"] = "interrupted"
            artifacts.write_json(self.path / STATE, st)
            print(f"\ninterrupted after epoch {st['epoch']}: the run is kept in {self.path}\n"
                  f"resume with: facelab train {cfg.data} --resume --name {self.path.name}", file=sys.stderr)
            raise
        st["stop_reason"] = stop_reason
        if self.dist is not None and not self.dist.is_writer:
            return None  # the writing process (rank 0) evaluates and finishes the run
        return self._finish(y_all, loss_fn)

    # -- helpers -------------------------------------------------------------------------------
    def _nan(self, epoch: int, step: int):
        st = self.state
        st["status"] = "nan"
        artifacts.write_json(self.path / STATE, st)
        kept = (f"the last good checkpoint (epoch {st['epoch']}) is kept in {self.path}"
                if st.get("epoch") else f"no epoch had finished; the run folder is {self.path}")
        raise RunError(f"the loss became NaN/infinite in epoch {epoch} (step {step}); training stopped and "
                       f"{kept}", path=self.path,
                       fix=f"lower the learning rate (now --lr {self.cfg.lr}) and start a new run, or "
                           f"resume with `--resume --name {self.path.name}` after fixing the data")

    def _append_history(self, row: dict):
        p = self.path / HISTORY
        new = not p.is_file() or p.stat().st_size == 0
        with p.open("a", newline="") as f:
            w = csv.DictWriter(f, fieldnames=HISTORY_FIELDS)
            if new:
                w.writeheader()
            w.writerow(row)

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

    def _finish(self, y_all, loss_fn) -> Run:
        cfg, task, ds, st = self.cfg, self.task, self.ds, self.state

        # The best epoch's saved weights, not the last: exactly the model the run serves. A
        # calibration file left by an earlier finish (a resumed run) belongs to other weights:
        # the losses and the fit below need the network's own logits.
        (self.path / CALIBRATION).unlink(missing_ok=True)
        saved = Run.load(self.path)
        model = saved.model()
        ids = ds.table["image_id"].to_numpy()
        frames, metrics = [], {}
        per_output: dict = {}
        calibration, t = None, 1.0
        for split, rows in (("val", self.val_rows), ("test", ds.split("test"))):
            if not len(rows):
                continue
            b = Batches(ds.images, rows, y_all[rows], cfg.eval_batch_size)
            # the loss is the training objective on the network's own logits (the history's
            # val_loss); the probabilities kept and scored are divided by the temperature, as
            # Run.model will divide them from now on
            proba, loss, acc, logits = evaluate_batches(model, b, task, loss_fn, self.mean, self.std)
            if split == "val":
                t, calibration = self._calibrate(proba, logits, y_all[rows])
            if t != 1.0:
                proba = task.probabilities(torch.from_numpy(logits / t)).numpy()
            metrics[f"{split}_accuracy"], metrics[f"{split}_loss"] = acc, loss
            metrics.update(accuracy_bounds(task, split, y_all[rows], proba))
            if split == "val":
                per_output = task.per_output_accuracy(proba, y_all[rows])
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
        metrics["per_output"] = per_output
        if calibration:
            metrics["temperature"] = calibration["temperature"]
        if metrics.get("degenerate") and self.progress:
            print(f"warning: the model {metrics['degenerate']}: train longer (--minutes), check the labels, "
                  "or lower --lr", file=sys.stderr, flush=True)
        artifacts.write_json(self.path / METRICS, metrics)
        artifacts.write_plots(self.path)
        artifacts.write_card(self.path, config=cfg.to_dict(), task=task, input_=self.input, metrics=metrics,
                             data_summary={"path": str(ds.path), "train": len(self.train_rows),
                                           "val": len(self.val_rows), "test": len(ds.split("test")),
                                           "holdout": self.holdout},
                             per_output=per_output, init=self.init_report)
        st["status"] = "finished"  # last: a run that says finished has every file
        artifacts.write_json(self.path / STATE, st)
        return Run.load(self.path)


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


class Schedule:
    """How far a run's schedule has gone, in [0, 1]: the planned steps done, or the budget's time.

    The clock enters only when it binds: with minutes alone from the start; with ``--epochs`` and
    ``--minutes`` both, once the speed measured says the planned steps will not fit the minutes
    (:meth:`check`, at each epoch's end, or mid-epoch after 20 steps when the plan looks more than
    twice too slow), or when the minutes are up. Until then the schedule is the step count alone,
    so a run whose epochs fit its minutes repeats exactly with its seed (were the clock to lead, as
    it would for the very first steps, each step's learning rate would depend on timing).

    When the clock takes over, the rest of the schedule is spread over the time left, from where
    the steps had brought it: the learning rate carries on smoothly (no skipped warm-up) and
    reaches the schedule's end as the minutes run out. The hand-over point is kept in ``state``
    (``clock_binds``, ``bound_at``: progress and seconds), which ``state.json`` carries to ``--resume``.

    Example:
        >>> s = Schedule(total_steps=1000, budget=100.0, state={})
        >>> s(20, 8.0)                    # by steps while the clock does not bind
        0.02
        >>> s.check(20, 8.0, mid_epoch=True)   # 1000 steps at this pace take 400 s: 4x the budget
        True
        >>> s(20, 8.0), round(s(21, 9.0), 4)   # the same point, then the rest over the 92 s left
        (0.02, 0.0307)
        >>> s(30, 100.0)                  # time up
        1.0
    """

    MID_EPOCH_STEPS = 20  # steps measured before a mid-epoch judgement
    MID_EPOCH_FACTOR = 2.0  # mid-epoch, only a plan this many times too slow binds the clock

    def __init__(self, total_steps: int | None, budget: float | None, state: dict):
        self.total, self.budget, self.state = total_steps, budget, state

    def __call__(self, step: int, elapsed: float) -> float:
        by_steps = step / self.total if self.total else 0.0
        if not self.budget:
            return by_steps
        if elapsed >= self.budget:
            return max(1.0, by_steps)
        if not self.total:
            return elapsed / self.budget
        if not self.state.get("clock_binds"):
            return by_steps
        p0, e0 = self.state.get("bound_at") or (0.0, 0.0)  # a state without bound_at: the clock alone
        by_time = p0 + (1.0 - p0) * max(0.0, elapsed - e0) / max(self.budget - e0, 1e-9)
        return max(by_steps, by_time)

    def check(self, step: int, elapsed: float, *, mid_epoch: bool = False) -> bool:
        """Judge from the speed so far whether the planned steps fit the minutes; once the clock
        binds it stays bound (the schedule never switches back and forth). Returns whether it binds."""
        st = self.state
        if st.get("clock_binds") or not (self.budget and self.total) or step <= 0:
            return bool(st.get("clock_binds"))
        if mid_epoch and step < self.MID_EPOCH_STEPS:
            return False
        projected = elapsed / step * self.total
        if projected > self.budget * (self.MID_EPOCH_FACTOR if mid_epoch else 1.0):
            st["bound_at"] = [step / self.total, float(elapsed)]
            st["clock_binds"] = True
        elif not mid_epoch:
            st["clock_binds"] = False
        return bool(st.get("clock_binds"))
