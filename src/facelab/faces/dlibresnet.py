"""dlib's face-recognition ResNet as a torch module (weights: :mod:`facelab.faces.dlibnet`).

The network of dlib's ``dnn_face_recognition_ex.cpp``: a 7×7/2 convolution, max-pool, 14 residual
blocks in five levels (32, 64, 128, 256, 256 filters; a level's first block halves the side, its
shortcut average-pooled), each convolution followed by an affine layer (dlib's frozen batch norm),
global average pool and a 128-D linear layer without bias. dlib's conventions kept: a strided
convolution or pool has no padding; a residual sum whose two sides differ in size or channels is
taken over the larger shape, the smaller zero-padded at the end of each axis.

Example:
    >>> from facelab.faces.dlibnet import conv_specs, random_state
    >>> net = DlibResNet.from_state(random_state(0), conv_specs())
    >>> net(torch.zeros(2, 150, 150, 3, dtype=torch.uint8)).shape
    torch.Size([2, 128])
"""
from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

log = logging.getLogger(__name__)


def _add_padded(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """dlib's add_prev: the sum over the larger shape, each input zero-padded at the end of each axis."""
    if a.shape == b.shape:
        return a + b
    shape = [max(x, y) for x, y in zip(a.shape, b.shape)]

    def pad(t: torch.Tensor) -> torch.Tensor:
        return F.pad(t, (0, shape[3] - t.shape[3], 0, shape[2] - t.shape[2], 0, shape[1] - t.shape[1]))

    return pad(a) + pad(b)


class DlibResNet(nn.Module):
    """dlib's face-recognition ResNet: uint8 (N, 150, 150, 3) RGB chips → (N, 128) raw descriptors.

    Args:
        specs: (in channels, out channels, kernel, stride) of each convolution, input first
            (:func:`facelab.faces.dlibnet.conv_specs`); a block whose first convolution is strided
            halves the side.
    """

    def __init__(self, specs: list[tuple[int, int, int, int]]):
        super().__init__()
        self.convs = nn.ModuleList(nn.Conv2d(i, o, k, s, padding=0 if s > 1 else k // 2) for i, o, k, s in specs)
        self.register_buffer("gamma", torch.ones(len(specs), 256))
        self.register_buffer("beta", torch.zeros(len(specs), 256))
        self.register_buffer("mean", torch.zeros(1, 3, 1, 1))
        self.fc = nn.Linear(256, 128, bias=False)
        self.downs = [s > 1 for _, _, _, s in specs[1::2]]

    @classmethod
    def from_state(cls, state: dict[str, np.ndarray], specs: list[tuple[int, int, int, int]]) -> "DlibResNet":
        """The network with the weights of :func:`facelab.faces.dlibnet.parse_dat` (or ``random_state``)."""
        net = cls(specs)
        with torch.no_grad():
            net.mean.copy_(torch.from_numpy(np.asarray(state["mean"], np.float32)).view(1, 3, 1, 1))
            for i, conv in enumerate(net.convs):
                conv.weight.copy_(torch.from_numpy(state[f"conv{i}.weight"]))
                conv.bias.copy_(torch.from_numpy(state[f"conv{i}.bias"]))
                n = conv.out_channels
                net.gamma[i, :n] = torch.from_numpy(state[f"affine{i}.gamma"])
                net.beta[i, :n] = torch.from_numpy(state[f"affine{i}.beta"])
            net.fc.weight.copy_(torch.from_numpy(state["fc"]).T)
        return net.eval()

    def _ca(self, x: torch.Tensor, i: int) -> torch.Tensor:
        """Convolution ``i`` and its affine (dlib's frozen batch norm)."""
        x = self.convs[i](x)
        n = x.shape[1]
        return x * self.gamma[i, :n].view(1, n, 1, 1) + self.beta[i, :n].view(1, n, 1, 1)

    def forward(self, chips: torch.Tensor) -> torch.Tensor:
        x = (chips.permute(0, 3, 1, 2).float() - self.mean) / 256.0
        x = F.max_pool2d(F.relu(self._ca(x, 0)), 3, 2)
        for j, down in enumerate(self.downs):
            y = self._ca(F.relu(self._ca(x, 1 + 2 * j)), 2 + 2 * j)
            x = F.relu(_add_padded(F.avg_pool2d(x, 2, 2) if down else x, y))
        return self.fc(x.mean(dim=(2, 3)))


def export_onnx(net: DlibResNet, out: Path) -> bool:
    """Write ``net`` as an ONNX graph (batch size free) to ``out``; False when the export fails."""
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(f"{out.name}.{os.getpid()}.tmp")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(net, (torch.zeros(2, 150, 150, 3, dtype=torch.uint8),), str(tmp),
                              input_names=["chips"], output_names=["descriptors"],
                              dynamic_axes={"chips": {0: "n"}, "descriptors": {0: "n"}}, dynamo=False)
        os.replace(tmp, out)
        return True
    except Exception as e:  # noqa: BLE001 - any exporter failure leaves torch running the network
        log.warning("could not export dlib's network to ONNX (%s); running it in torch", e)
        return False
