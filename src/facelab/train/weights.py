"""Starting weights: ``--weights FILE`` (a published checkpoint) and ``--init RUN`` (transfer).

Files are read without running code: ``.safetensors`` with safetensors, anything else with
``torch.load(weights_only=True)``, which refuses arbitrary pickled objects. Parameters are matched
by name and shape; the head (the module the network exposes as ``head``) is always left fresh
because the new task has its own outputs; a first convolution trained on RGB is summed over its
colour channels for grey input (and spread for the reverse).

Example:
    >>> import tempfile
    >>> from facelab.models import get_model
    >>> path = Path(tempfile.mkdtemp()) / "cnn.pt"
    >>> torch.save(get_model("cnn").build(3, 40).state_dict(), path)   # a 40-attribute network
    >>> net = get_model("cnn").build(3, 7)                             # a new 7-class task
    >>> report = load_matching(net, read_state_dict(path), source=path.name)
    >>> report.loaded == report.total, report.missing
    (True, [])
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..errors import ConfigError

MIN_MATCH = 0.9  # fraction of the backbone's tensors a file must provide to count as "this model"


@dataclass
class LoadReport:
    """What a weights file provided."""

    source: str
    loaded: int
    total: int
    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    adapted: list[str] = field(default_factory=list)  # first conv summed/spread over channels

    def to_dict(self) -> dict:
        return {"source": self.source, "loaded": self.loaded, "total": self.total,
                "missing": self.missing[:20], "unexpected": self.unexpected[:20], "adapted": self.adapted}


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Read a state dict from a ``.safetensors`` or ``.pth/.pt`` file, never unpickling objects.

    Raises:
        ConfigError: missing file, or a file that is not a weights file.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise ConfigError(f"weights file {path} does not exist", path=path,
                          fix="pass the path of a .safetensors or .pth checkpoint")
    fix = ("pass a .safetensors file, or a .pth/.pt state_dict saved with torch.save(model.state_dict()); "
           "facelab never unpickles arbitrary objects")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            obj = load_file(str(path))
        else:
            obj = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as e:  # corrupt file, not a checkpoint, or objects weights_only refuses
        first = str(e).strip().splitlines()[0][:200] if str(e).strip() else type(e).__name__
        raise ConfigError(f"{path} is not a weights file ({first})", path=path, fix=fix) from None
    # Common wrappers: {"state_dict": ...} (Lightning), {"model": ...} (many training scripts).
    for key in ("state_dict", "model", "model_state_dict"):
        if isinstance(obj, dict) and isinstance(obj.get(key), dict):
            obj = obj[key]
    if not isinstance(obj, dict) or not obj or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise ConfigError(f"{path} does not hold a state_dict (name → tensor)", path=path, fix=fix)
    # DataParallel checkpoints prefix every name with "module.".
    if all(k.startswith("module.") for k in obj):
        obj = {k[len("module."):]: v for k, v in obj.items()}
    return obj


def head_prefix(model: torch.nn.Module) -> str:
    """The parameter-name prefix of ``model.head`` (e.g. ``fc.``, ``classifier.1.``, ``head.``)."""
    for name, mod in model.named_modules():
        if mod is getattr(model, "head", None) and name:
            return name + "."
    return "head."


def load_matching(model: torch.nn.Module, sd: dict[str, torch.Tensor], *, source: str,
                  model_name: str = "the model", min_match: float = MIN_MATCH) -> LoadReport:
    """Copy every tensor of ``sd`` that fits ``model`` (same name and shape), leaving the head fresh.

    Raises:
        ConfigError: fewer than ``min_match`` of the backbone's tensors fit — the file is for
            another architecture; the message lists examples of missing and unexpected names.
    """
    own = model.state_dict()
    head = head_prefix(model)
    backbone = [k for k in own if not k.startswith(head)]
    new: dict[str, torch.Tensor] = {}
    adapted, mismatched = [], []
    for k in backbone:
        if k not in sd:
            continue
        src, dst = sd[k], own[k]
        if src.shape == dst.shape:
            new[k] = src.to(dst.dtype)
        elif src.dim() == 4 and src.shape[0] == dst.shape[0] and src.shape[2:] == dst.shape[2:] \
                and dst.shape[1] in (1, 3) and src.shape[1] in (1, 3):
            # RGB first conv → grey: a grey pixel g is the image (g, g, g), so summing the kernel
            # over colours gives the same response; grey → RGB spreads it evenly.
            new[k] = src.sum(1, keepdim=True) if dst.shape[1] == 1 else src.repeat(1, 3, 1, 1) / 3
            adapted.append(k)
        else:
            mismatched.append(f"{k} {tuple(src.shape)} vs {tuple(dst.shape)}")
    missing = [k for k in backbone if k not in new]
    unexpected = [k for k in sd if k not in own and not k.startswith(head)]
    # num_batches_tracked is bookkeeping some exporters drop: do not count it either way.
    count = [k for k in backbone if not k.endswith("num_batches_tracked")]
    loaded = sum(1 for k in count if k in new)
    if not count or loaded < min_match * len(count):
        ex_missing = ", ".join((mismatched or missing)[:4]) or "none"
        ex_unexp = ", ".join(unexpected[:4]) or "none"
        raise ConfigError(
            f"{source} does not fit {model_name}: only {loaded} of {len(count)} tensors match by name "
            f"and shape (missing or mismatched e.g. {ex_missing}; unexpected e.g. {ex_unexp})",
            path=source,
            fix=f"use a checkpoint of {model_name} with torchvision parameter names, or choose the "
                "--model the file was trained for")
    model.load_state_dict(new, strict=False)
    return LoadReport(source=str(source), loaded=loaded, total=len(count), missing=missing + mismatched,
                      unexpected=unexpected, adapted=adapted)
