"""``cnn``: a small residual network designed for CPU throughput on 48–64 px faces.

Why this shape: a stride-2 stem and a stride-2 first stage bring a 64 px face to 16×16 before any
residual block (most of a CNN's cost is at high resolution; ResNet's stem does the same 4× with a
7×7 conv and a max-pool), each later stage halves it again, and widths stay modest (32-64-128-256 by
default). BatchNorm lets AdamW use a high learning rate; global average pooling keeps the head
independent of the input size, so the same network runs at 48×48 grey and 64×64 RGB.

Example:
    >>> import torch
    >>> from facelab.models import get_model
    >>> net = get_model("cnn").build(3, 1)
    >>> net(torch.zeros(2, 3, 64, 64)).shape
    torch.Size([2, 1])
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from . import register_model


def conv_bn(cin: int, cout: int, k: int = 3, stride: int = 1, act: bool = True) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Conv2d(cin, cout, k, stride, k // 2, bias=False), nn.BatchNorm2d(cout)]
    if act:
        layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


class BasicBlock(nn.Module):
    """Two 3×3 convolutions with a shortcut (a 1×1 projection when the shape changes)."""

    def __init__(self, cin: int, cout: int, stride: int = 1):
        super().__init__()
        self.conv1 = conv_bn(cin, cout, 3, stride)
        self.conv2 = conv_bn(cout, cout, 3, 1, act=False)
        self.shortcut = (nn.Identity() if stride == 1 and cin == cout
                         else conv_bn(cin, cout, 1, stride, act=False))
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.conv2(self.conv1(x)) + self.shortcut(x))


class SmallCNN(nn.Module):
    """Stem (stride 2) → stages of residual blocks (each but the first halves the size) → pool → head.

    Args:
        in_channels: 1 (grey) or 3 (RGB).
        outputs: logits produced by ``head``.
        widths: channels of each stage.
        depths: residual blocks per stage (0 allowed: the stage is only its downsampling conv).
        stem_stride: 2 for 64 px input; 1 keeps full resolution (slower, for tiny images).
        first_stride: stride of the first stage (2 halves the size once more: ~3x cheaper). The
            registry's default — what new runs use and save — is 2; the builder's own default
            stays 1 so that runs saved without the parameter rebuild with their shape.
        dropout: before the head.
    """

    def __init__(self, in_channels: int, outputs: int, widths: Sequence[int] = (32, 64, 128, 256),
                 depths: Sequence[int] = (1, 1, 1, 1), stem_stride: int = 2, dropout: float = 0.2,
                 first_stride: int = 1):
        super().__init__()
        if len(widths) != len(depths):
            raise ValueError("widths and depths must have the same length")
        self.stem = conv_bn(in_channels, widths[0], 3, stem_stride)
        stages: list[nn.Module] = []
        cin = widths[0]
        for i, (w, d) in enumerate(zip(widths, depths)):
            stride = first_stride if i == 0 else 2
            blocks: list[nn.Module] = []
            if d == 0:
                blocks.append(conv_bn(cin, w, 3, stride))
            for j in range(d):
                blocks.append(BasicBlock(cin if j == 0 else w, w, stride if j == 0 else 1))
            cin = w
            stages.append(nn.Sequential(*blocks))
        self.stages = nn.Sequential(*stages)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(dropout)
        self.num_features = cin
        self.head = nn.Linear(cin, outputs)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        # Zero-init the last BN of each residual branch: every block starts as identity, which
        # makes short CPU runs converge faster (Goyal et al. 2017).
        for m in self.modules():
            if isinstance(m, BasicBlock):
                nn.init.zeros_(m.conv2[1].weight)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate features (N, num_features)."""
        return torch.flatten(self.pool(self.stages(self.stem(x))), 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.dropout(self.features(x)))


@register_model("cnn", kind="torch",
                description="small residual CNN for CPU (stride-2 stem and first stage, widths 32-64-128-256, "
                            "BatchNorm)",
                widths=[32, 64, 128, 256], depths=[1, 1, 1, 1], stem_stride=2, dropout=0.2, first_stride=2)
def build_cnn(in_channels: int, outputs: int, *, widths: Sequence[int] = (32, 64, 128, 256),
              depths: Sequence[int] = (1, 1, 1, 1), stem_stride: int = 2, dropout: float = 0.2,
              first_stride: int = 1) -> SmallCNN:
    """Build the default CPU network (see :class:`SmallCNN`).

    Example:
        >>> build_cnn(1, 7, widths=[16, 32], depths=[1, 1]).num_features
        32
    """
    return SmallCNN(in_channels, outputs, tuple(widths), tuple(depths), int(stem_stride), float(dropout),
                    int(first_stride))
