"""The pieces of one training step the loop uses: the learning-rate schedule, the optimiser's
parameter groups, scoring a model on batches, and what callbacks receive after an epoch.

They live beside the loop (not in ``trainer.py``), so ``trainer`` → ``loop`` → ``steps`` is one way.

Example:
    >>> round(lr_factor(0.0, warmup=0.1, schedule="cosine"), 2), lr_factor(0.5, warmup=0.1, schedule="constant")
    (0.02, 1.0)
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import torch

from ..runs.preprocess import to_float
from ..runs.task import Task
from .data import Batches


@dataclass
class EpochEnd:
    """Passed to callbacks after every epoch (raise KeyboardInterrupt in one to stop like Ctrl-C)."""

    epoch: int
    history: dict
    run_path: Path
    model: torch.nn.Module


def lr_factor(progress: float, *, warmup: float, schedule: str) -> float:
    """Multiplier of the peak learning rate at ``progress`` in [0, 1]: linear warm-up, then cosine."""
    if schedule == "constant":
        return 1.0
    if schedule == "onecycle":
        warmup = max(warmup, 0.25)  # OneCycle's long ramp
    if progress < warmup:
        return 0.02 + 0.98 * progress / max(warmup, 1e-9)
    t = min(1.0, (progress - warmup) / max(1e-9, 1 - warmup))
    return 0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * t))


def param_groups(model: torch.nn.Module, weight_decay: float) -> list[dict]:
    # No weight decay on BatchNorm scales and biases: decaying them only hurts (standard practice).
    decay, no_decay = [], []
    for p in model.parameters():
        if p.requires_grad:
            (no_decay if p.ndim <= 1 else decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def evaluate_batches(model, batches: Batches, task: Task, loss_fn, mean, std):
    """Probabilities, mean loss, accuracy and logits of ``model`` — the module that predicts for
    the run, already wrapped for mirroring when the run mirrors (``tta.for_inference``)."""
    model.eval()
    outs, losses, n = [], 0.0, 0
    with torch.inference_mode():
        for xb, yb in batches.epoch(None):
            logits = model(to_float(xb, mean, std))
            losses += float(loss_fn(logits, yb)) * len(xb)
            n += len(xb)
            outs.append(logits.float())
    logits = torch.cat(outs) if outs else torch.zeros((0, task.outputs))
    proba = task.probabilities(logits).numpy()
    y = batches.y.numpy()
    return proba, (losses / n if n else float("nan")), task.accuracy(proba, y), logits.numpy()
