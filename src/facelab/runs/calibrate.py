"""Temperature scaling: probabilities that mean what they say.

A network trained with label smoothing, weight averaging and early stopping is rarely calibrated:
on 8 LFW people a run right on 95% of its test faces gave its answers 0.76 on average (expected
calibration error 0.18). Temperature scaling (Guo et al., 2017) divides every logit by one
number ``T`` fitted on the validation split to minimise its negative log-likelihood. It changes
no decision (argmax and the 0.5 threshold are unmoved), so accuracy is untouched; only the
probabilities, and with them the losses and the calibration error, change.

The temperature is fitted after training, on the run's validation predictions, and kept in
``calibration.json``; :meth:`Run.model` wraps the network in :class:`Temperature`, so evaluation,
prediction, the API and the ONNX export all give the calibrated numbers. ``calibrate: false``
turns it off.

Example:
    >>> import numpy as np
    >>> p = np.array([[0.6], [0.6], [0.6], [0.4]]); y = np.array([[1.], [1.], [1.], [0.]])
    >>> t = fit_temperature(p, y, "binary")
    >>> bool(t < 1), bool(np.all(apply_temperature(p, t, "binary")[:3] > 0.9))
    (True, True)
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .layout import CALIBRATION

__all__ = ["CALIBRATION", "Temperature", "apply_temperature", "fit_temperature", "logits_of", "nll"]
_EPS = 1e-7


def logits_of(proba: np.ndarray, kind: str) -> np.ndarray:
    """Logits that give ``proba`` back: log-odds (sigmoid), or log-probabilities (softmax, whose
    result does not change when a row's logits shift by a constant)."""
    p = np.clip(np.asarray(proba, np.float64), _EPS, 1 - _EPS)
    return np.log(p) if kind == "multiclass" else np.log(p) - np.log1p(-p)


def apply_temperature(proba: np.ndarray, t: float, kind: str) -> np.ndarray:
    """``proba`` as the same network would give it with its logits divided by ``t``."""
    z = logits_of(proba, kind) / t
    if kind == "multiclass":
        z = z - z.max(1, keepdims=True)
        e = np.exp(z)
        return (e / e.sum(1, keepdims=True)).astype(np.float32)
    return (1 / (1 + np.exp(-z))).astype(np.float32)


def nll(proba: np.ndarray, y: np.ndarray, kind: str) -> float:
    """Mean negative log-likelihood of the labels (multiclass: class indices; else 0/1 arrays)."""
    p = np.clip(np.asarray(proba, np.float64), _EPS, 1 - _EPS)
    if kind == "multiclass":
        return float(-np.log(p[np.arange(len(p)), np.asarray(y, int)]).mean())
    y = np.asarray(y, np.float64).reshape(p.shape)
    return float(-(y * np.log(p) + (1 - y) * np.log(1 - p)).mean())


def fit_temperature(proba: np.ndarray, y: np.ndarray, kind: str) -> float:
    """The temperature in [0.05, 20] that minimises the labels' negative log-likelihood (one for
    every output of a multilabel task)."""
    from scipy.optimize import minimize_scalar

    if len(proba) == 0:
        return 1.0
    res = minimize_scalar(lambda log_t: nll(apply_temperature(proba, float(np.exp(log_t)), kind), y, kind),
                          bounds=(np.log(0.05), np.log(20.0)), method="bounded", options={"xatol": 1e-4})
    return float(np.exp(res.x))


class Temperature(nn.Module):
    """``net(x) / t`` for logits; :meth:`features` are the network's own."""

    def __init__(self, net: nn.Module, t: float):
        super().__init__()
        self.net, self.t = net, float(t)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x) / self.t

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.net.features(x)
