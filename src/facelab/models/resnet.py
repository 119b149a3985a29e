"""``resnet18``: ResNet-18 written with torchvision's exact parameter names.

``conv1.weight``, ``bn1.*``, ``layer1.0.conv1.weight`` … ``layer4.1.bn2.*``, ``fc.*``: a published
torchvision ImageNet ``state_dict`` loads with ``--weights FILE`` (the ``fc`` head is replaced for
the new task; a grey model sums ``conv1`` over RGB). torchvision itself is not needed.

For small faces (48–64 px) ``small_input=True`` (the default) skips the stem's max-pool, so the
last stage still sees a 4×4 map instead of 2×2; the max-pool has no parameters, so names and
published weights are unaffected.

Example:
    >>> import torch
    >>> net = build_resnet18(3, 2)
    >>> net(torch.zeros(1, 3, 64, 64)).shape, "layer1.0.conv1.weight" in net.state_dict()
    (torch.Size([1, 2]), True)
"""
from __future__ import annotations

import torch
from torch import nn

from . import register_model


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, inplanes: int, planes: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = None
        if stride != 1 or inplanes != planes:
            self.downsample = nn.Sequential(nn.Conv2d(inplanes, planes, 1, stride, bias=False),
                                            nn.BatchNorm2d(planes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class ResNet18(nn.Module):
    """ResNet-18 (He et al. 2016) with torchvision names; ``features`` → (N, 512), ``head`` = ``fc``."""

    def __init__(self, in_channels: int = 3, outputs: int = 1000, small_input: bool = True,
                 dropout: float = 0.0):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.Identity() if small_input else nn.MaxPool2d(3, 2, 1)
        self.layer1 = nn.Sequential(BasicBlock(64, 64), BasicBlock(64, 64))
        self.layer2 = nn.Sequential(BasicBlock(64, 128, 2), BasicBlock(128, 128))
        self.layer3 = nn.Sequential(BasicBlock(128, 256, 2), BasicBlock(256, 256))
        self.layer4 = nn.Sequential(BasicBlock(256, 512, 2), BasicBlock(512, 512))
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(512, outputs)
        self.num_features = 512
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    @property
    def head(self) -> nn.Linear:
        return self.fc

    def features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return torch.flatten(self.avgpool(x), 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.dropout(self.features(x)))


@register_model("resnet18", kind="torch",
                description="ResNet-18, torchvision parameter names (--weights loads ImageNet checkpoints)",
                small_input=True, dropout=0.0)
def build_resnet18(in_channels: int, outputs: int, *, small_input: bool = True, dropout: float = 0.0) -> ResNet18:
    """Build ResNet-18 (see :class:`ResNet18`).

    Example:
        >>> build_resnet18(1, 7).conv1.weight.shape
        torch.Size([64, 1, 7, 7])
    """
    return ResNet18(in_channels, outputs, bool(small_input), float(dropout))
