"""Model facts for ``facelab models``: parameters and FLOPs at a given input size.

Example:
    >>> info = model_info("cnn", size=64, channels=3)
    >>> info.parameters > 0 and info.flops > 0
    True
"""
from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class ModelInfo:
    name: str
    kind: str
    description: str
    parameters: int | None  # None: learned from data (classical models)
    flops: int | None  # one forward pass of one image (multiply and add counted separately)

    def to_dict(self) -> dict:
        return asdict(self)


def model_info(name: str, *, size: int = 64, channels: int = 3, outputs: int = 1, **params) -> ModelInfo:
    """Parameters and forward FLOPs per image of a registered model (torch models only).

    FLOPs are counted by ``torch.utils.flop_counter.FlopCounterMode`` (convolutions and matrix
    products, 2 FLOPs per multiply-add); BatchNorm and activations are not counted.
    """
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from ..models import get_model

    spec = get_model(name)
    if not spec.trains_in_epochs:  # a classical model: no network to count
        return ModelInfo(name, spec.kind, spec.description, None, None)
    net = spec.build(channels, outputs, **{**spec.default_params, **params}).eval()
    n_params = sum(p.numel() for p in net.parameters())
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        net(torch.zeros(1, channels, size, size))
    return ModelInfo(name, spec.kind, spec.description, n_params, int(counter.get_total_flops()))


def all_models(*, size: int = 64, channels: int = 3) -> list[ModelInfo]:
    """:func:`model_info` for every registered model."""
    from ..models import list_models

    return [model_info(n, size=size, channels=channels) for n in list_models()]
