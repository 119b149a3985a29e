"""Checkpoints for ``--resume``: model + optimiser tensors in safetensors, progress in JSON.

Both files are written to a temporary name and renamed, so an interrupted write never replaces
the last good checkpoint with half a file.

Example:
    >>> import tempfile
    >>> model = torch.nn.Linear(3, 1)
    >>> optimizer = torch.optim.AdamW(model.parameters())
    >>> path = Path(tempfile.mkdtemp()) / "checkpoint.safetensors"
    >>> save_checkpoint(path, model, optimizer)
    >>> fresh = torch.nn.Linear(3, 1)
    >>> load_checkpoint(path, fresh, torch.optim.AdamW(fresh.parameters()))
    >>> torch.equal(fresh.weight, model.weight)
    True
"""
from __future__ import annotations

from pathlib import Path

import torch
from safetensors.torch import load_file

from ..errors import RunError


def save_weights(path: Path, model: torch.nn.Module | dict) -> None:
    """Write a model's (or a state dict's) tensors atomically."""
    sd = model if isinstance(model, dict) else model.state_dict()
    _write(path, {k: v.detach().contiguous() for k, v in sd.items()})


def _write(path: Path, tensors: dict[str, torch.Tensor]) -> None:
    """Serialise in memory, then write through Python's file API (a full disk is an ``OSError``
    that :func:`facelab.outputs.atomic_file` names; safetensors' own writer reports it otherwise)."""
    from safetensors.torch import save

    from ..outputs import atomic_file

    data = save(tensors)
    with atomic_file(path, "run folder") as tmp:
        tmp.write_bytes(data)


def save_checkpoint(path: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                    ema: torch.nn.Module | None = None) -> None:
    """Write model (``model.*``), AdamW state (``opt.<param index>.<name>``) and, when training
    keeps one, the weight average (``ema.*``) tensors."""
    tensors = {f"model.{k}": v.detach().contiguous() for k, v in model.state_dict().items()}
    if ema is not None:
        tensors.update({f"ema.{k}": v.detach().contiguous() for k, v in ema.state_dict().items()})
    for idx, st in optimizer.state_dict()["state"].items():
        for k, v in st.items():
            t = v if isinstance(v, torch.Tensor) else torch.tensor(v)
            tensors[f"opt.{idx}.{k}"] = t.detach().contiguous()
    _write(path, tensors)


def load_checkpoint(path: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                    ema: torch.nn.Module | None = None) -> None:
    """Restore what :func:`save_checkpoint` wrote.

    Raises:
        RunError: missing or corrupt checkpoint (names the file).
    """
    try:
        tensors = load_file(str(path))
        model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
        if ema is not None:
            avg = {k[4:]: v for k, v in tensors.items() if k.startswith("ema.")}
            ema.load_state_dict(avg or {k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
        sd = optimizer.state_dict()
        state: dict = {}
        for k, v in tensors.items():
            if k.startswith("opt."):
                _, idx, name = k.split(".", 2)
                state.setdefault(int(idx), {})[name] = v
        sd["state"] = state
        optimizer.load_state_dict(sd)
    except Exception as e:
        raise RunError(f"cannot read the checkpoint {path}: {e}", path=path,
                       fix="the checkpoint is corrupt: start a new run") from None
