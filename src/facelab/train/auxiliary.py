"""Auxiliary attributes: learn other labels beside the target, as extra outputs used only in training.

Why: a single 0/1 label on ~13k noisy faces gives the network little to learn from. Asking the
same backbone to also predict the other CelebA attributes (beard, make-up, mouth open, ...) makes
it learn the facial features those share with the target; the extra outputs are dropped when the
weights are saved, so the run is an ordinary binary (or multilabel) run everywhere else: same
``weights.safetensors`` shape, same ``predict``, API and ONNX graph.

``aux: all`` takes every binary attribute that is not a target; ``aux: Mouth_Slightly_Open,
High_Cheekbones`` names some. ``aux_weight`` scales the mean auxiliary loss against the target's.

Example:
    >>> import torch
    >>> net = MainOutputs(torch.nn.Linear(3, 5), 1)
    >>> net(torch.zeros(2, 3)).shape
    torch.Size([2, 1])
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ConfigError


def resolve_aux(ds, task, aux: str | Sequence[str] | None) -> list[str]:
    """The auxiliary attribute names for ``task`` on ``ds`` (``[]`` when ``aux`` is empty).

    Raises:
        ConfigError: a multiclass target, an unknown or non-binary attribute, or nothing left.
    """
    if not aux:  # None, False, "" or []
        return []
    path = getattr(ds, "path", None)
    if aux is True:  # `--set aux=true` (YAML): every other attribute
        aux = "all"
    if not isinstance(aux, (str, list, tuple)):
        raise ConfigError(f"aux must be 'all' or attribute names, not {aux!r}", path=path,
                          fix="pass aux: all, or aux: Mouth_Slightly_Open,High_Cheekbones")
    if task.kind == "multiclass":
        raise ConfigError(f"auxiliary attributes need a binary or multilabel target; {task.targets[0]!r} "
                          "is multiclass", path=path, fix="drop aux, or train an attribute target")
    labels = ds.labels
    binary = [n for n, i in labels.items() if i.kind == "binary"]
    names = [t.strip() for t in aux.split(",") if t.strip()] if isinstance(aux, str) else [str(t) for t in aux]
    if names == ["all"]:
        names = [n for n in binary if n not in task.targets]
    else:
        from ..runs.task import unknown_name

        for n in names:
            if n not in labels:
                raise unknown_name(n, list(labels), path)
            if labels[n].kind != "binary":
                raise ConfigError(f"auxiliary attribute {n!r} is not a 0/1 attribute", path=path,
                                  fix=f"choose from: {', '.join(binary)}")
        names = [n for n in dict.fromkeys(names) if n not in task.targets]
    if not names:
        raise ConfigError("no auxiliary attributes are left besides the target", path=path,
                          fix="drop aux, or name attributes the dataset has besides the target")
    return names


class MainOutputs(nn.Module):
    """The model's first ``n`` outputs: the target's, without the auxiliary ones."""

    def __init__(self, net: nn.Module, n: int):
        super().__init__()
        self.net, self.n = net, int(n)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)[:, : self.n]


def with_aux_loss(main_loss, n: int, weight: float):
    """``main_loss`` on the first ``n`` outputs plus ``weight`` × the mean BCE of the others."""
    def loss(logits, y):
        return main_loss(logits[:, :n], y[:, :n]) + weight * F.binary_cross_entropy_with_logits(
            logits[:, n:], y[:, n:])
    return loss


def main_state_dict(model: nn.Module, n: int) -> dict:
    """``model``'s tensors with its head cut to the first ``n`` outputs (what the run saves)."""
    head = model.head
    name = next(k for k, m in model.named_modules() if m is head)
    sd = model.state_dict()
    for k in (f"{name}.weight", f"{name}.bias"):
        if k in sd:
            sd[k] = sd[k][:n]
    return sd
