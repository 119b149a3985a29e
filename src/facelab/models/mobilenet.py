"""``mobilenetv2``: MobileNetV2 written with torchvision's exact parameter names.

``features.0.0.weight`` (stem conv), ``features.0.1.*`` (its BN), ``features.1.conv.0.0.weight`` …
``features.18.1.*``, ``classifier.1.*``: a published torchvision ImageNet ``state_dict`` loads with
``--weights FILE`` (the classifier is replaced for the new task). torchvision is not needed.

torchvision names the convolutional trunk ``features``, while facelab's model contract wants a
method ``features(x) -> (N, D)``. Both hold here: the trunk is a :class:`_Trunk` (an
``nn.Sequential`` whose forward also pools and flattens), so ``model.features(x)`` is the pooled
1280-d embedding and the parameter names are unchanged.

``stem_stride=2`` (the default, as published) ends a 64 px face at 2×2. ``stem_stride=1`` keeps
the first convolution at full resolution, so a 64 px face ends at 4×4, at 4× the FLOPs and a third
of the training speed (89 against 269 images/s at 64 px, 2 threads); on CelebA Smiling, 5 minutes
on 1 thread, it reached 0.830 validation accuracy in 2 epochs against 0.876 in 4 with the default
(docs/training.md). Strides have no parameters: names and published weights are unaffected.

Example:
    >>> import torch
    >>> net = build_mobilenetv2(3, 1)
    >>> net.features(torch.zeros(1, 3, 64, 64)).shape
    torch.Size([1, 1280])
"""
from __future__ import annotations

import torch
from torch import nn

from . import register_model


def _make_divisible(v: float, divisor: int = 8) -> int:
    # torchvision's rounding, so width_mult=1.0 reproduces the published channel counts.
    new_v = max(divisor, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v


class ConvBNReLU(nn.Sequential):
    def __init__(self, cin: int, cout: int, k: int = 3, stride: int = 1, groups: int = 1):
        super().__init__(nn.Conv2d(cin, cout, k, stride, (k - 1) // 2, groups=groups, bias=False),
                         nn.BatchNorm2d(cout), nn.ReLU6(inplace=True))


class InvertedResidual(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int, expand_ratio: int):
        super().__init__()
        hidden = int(round(cin * expand_ratio))
        self.use_res_connect = stride == 1 and cin == cout
        layers: list[nn.Module] = []
        if expand_ratio != 1:
            layers.append(ConvBNReLU(cin, hidden, k=1))
        layers += [ConvBNReLU(hidden, hidden, stride=stride, groups=hidden),
                   nn.Conv2d(hidden, cout, 1, 1, 0, bias=False), nn.BatchNorm2d(cout)]
        self.conv = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv(x) if self.use_res_connect else self.conv(x)


class _Trunk(nn.Sequential):
    """torchvision's ``features`` Sequential, pooled and flattened at the end."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for m in self:
            x = m(x)
        return torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1)


class MobileNetV2(nn.Module):
    """MobileNetV2 (Sandler et al. 2018); ``features`` → (N, 1280), ``head`` = ``classifier[1]``."""

    SETTINGS = [[1, 16, 1, 1], [6, 24, 2, 2], [6, 32, 3, 2], [6, 64, 4, 2], [6, 96, 3, 1],
                [6, 160, 3, 2], [6, 320, 1, 1]]

    def __init__(self, in_channels: int = 3, outputs: int = 1000, width_mult: float = 1.0,
                 stem_stride: int = 2, dropout: float = 0.2):
        super().__init__()
        cin = _make_divisible(32 * width_mult)
        self.last_channel = _make_divisible(1280 * max(1.0, width_mult))
        layers: list[nn.Module] = [ConvBNReLU(in_channels, cin, stride=stem_stride)]
        for t, c, n, s in self.SETTINGS:
            cout = _make_divisible(c * width_mult)
            for i in range(n):
                layers.append(InvertedResidual(cin, cout, s if i == 0 else 1, t))
                cin = cout
        layers.append(ConvBNReLU(cin, self.last_channel, k=1))
        self.features = _Trunk(*layers)
        self.classifier = nn.Sequential(nn.Dropout(dropout), nn.Linear(self.last_channel, outputs))
        self.num_features = self.last_channel
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out")
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0, 0.01)
                nn.init.zeros_(m.bias)

    @property
    def head(self) -> nn.Linear:
        return self.classifier[1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


@register_model("mobilenetv2", kind="torch",
                description="MobileNetV2, torchvision parameter names (--weights loads ImageNet checkpoints)",
                width_mult=1.0, stem_stride=2, dropout=0.2)
def build_mobilenetv2(in_channels: int, outputs: int, *, width_mult: float = 1.0, stem_stride: int = 2,
                      dropout: float = 0.2) -> MobileNetV2:
    """Build MobileNetV2 (see :class:`MobileNetV2`).

    Example:
        >>> build_mobilenetv2(3, 40).classifier[1].out_features
        40
    """
    return MobileNetV2(in_channels, outputs, float(width_mult), int(stem_stride), float(dropout))
