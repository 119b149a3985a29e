"""The DCGAN of Radford et al. (2016), as in PyTorch's DCGAN tutorial, sized for 64 or 32 px faces.

- :class:`Generator`: a latent vector ``z`` (``nz`` numbers, plus one number per conditioning
  attribute) → transposed convolutions with BatchNorm and ReLU, doubling the side each layer from
  4×4, → Tanh image in [-1, 1] with 1 (grey) or 3 (RGB) channels.
- :class:`Discriminator`: strided convolutions with LeakyReLU(0.2) (BatchNorm on all but the first)
  → one logit per image. For a conditional run it also has an auxiliary classifier (AC-GAN, Odena
  et al. 2017): its last layer gives one more logit per attribute, trained to tell the attributes
  of real faces, and the generator is trained to make that classifier see the attributes it was
  asked for — so a "smiling" sample that does not smile costs the generator. (With
  ``ac_weight`` 0 the attributes are fed to the discriminator as constant extra input planes
  instead.)

At 64 px both are layer for layer the tutorial's networks (``ngf = ndf = 64``); at 32 px the widest
layer is dropped. The width is a parameter because the tutorial's 64 is slow on two CPU cores.

Example:
    >>> import torch
    >>> g, d = Generator(size=32, channels=3, nz=16, width=8), Discriminator(size=32, channels=3, width=8)
    >>> x = g(torch.randn(2, 16))
    >>> tuple(x.shape), tuple(d(x).shape)
    ((2, 3, 32, 32), (2,))
"""
from __future__ import annotations

import math

import torch
from torch import nn

from ..errors import ConfigError

SIZES = (32, 64)


def _depth(size: int) -> int:
    """Number of doublings between 4×4 and ``size`` (64 → 4, 32 → 3)."""
    if size not in SIZES:
        raise ConfigError(f"the DCGAN makes {' or '.join(map(str, SIZES))} px images, not {size}",
                          fix="use --size 64 or --size 32")
    return int(math.log2(size)) - 2


def init_weights(m: nn.Module) -> None:
    """The tutorial's initialisation: conv weights N(0, 0.02), BatchNorm scale N(1, 0.02), bias 0."""
    if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(m.weight, 0.0, 0.02)
    elif isinstance(m, nn.BatchNorm2d):
        nn.init.normal_(m.weight, 1.0, 0.02)
        nn.init.zeros_(m.bias)


class Generator(nn.Module):
    """z (N, nz) [+ labels (N, n_cond) in {0, 1}] → images (N, channels, size, size) in [-1, 1]."""

    def __init__(self, size: int = 64, channels: int = 3, nz: int = 100, width: int = 64, n_cond: int = 0):
        super().__init__()
        n = _depth(size)
        self.size, self.channels, self.nz, self.n_cond = size, channels, nz, n_cond
        w = width * 2 ** (n - 1)
        layers: list[nn.Module] = [nn.ConvTranspose2d(nz + n_cond, w, 4, 1, 0, bias=False),
                                   nn.BatchNorm2d(w), nn.ReLU(True)]
        for _ in range(n - 1):
            layers += [nn.ConvTranspose2d(w, w // 2, 4, 2, 1, bias=False), nn.BatchNorm2d(w // 2), nn.ReLU(True)]
            w //= 2
        layers += [nn.ConvTranspose2d(w, channels, 4, 2, 1, bias=False), nn.Tanh()]
        self.main = nn.Sequential(*layers)
        self.apply(init_weights)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        if self.n_cond:
            if labels is None:
                raise ConfigError("this generator is conditional: give one 0/1 value per attribute",
                                  fix="pass labels (N, n_cond), e.g. --condition Smiling=1")
            z = torch.cat([z, labels.to(z.dtype)], 1)
        return self.main(z[:, :, None, None])


class Discriminator(nn.Module):
    """images (N, channels, size, size) [+ labels (N, n_cond)] → one logit per image (N,).

    ``aux=True`` (conditional runs): the labels are not an input; the last layer gives
    ``1 + n_cond`` logits, real/fake and one per attribute (``forward(..., with_aux=True)``).
    ``aux=False`` with ``n_cond``: the labels are constant extra input planes (``ac_weight`` 0).
    """

    def __init__(self, size: int = 64, channels: int = 3, width: int = 64, n_cond: int = 0, aux: bool = False):
        super().__init__()
        n = _depth(size)
        self.size, self.channels, self.n_cond = size, channels, n_cond
        self.aux = bool(aux and n_cond)
        planes = 0 if self.aux else n_cond
        w = width
        layers: list[nn.Module] = [nn.Conv2d(channels + planes, w, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, True)]
        for _ in range(n - 1):
            layers += [nn.Conv2d(w, w * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(w * 2), nn.LeakyReLU(0.2, True)]
            w *= 2
        # No final Sigmoid: BCEWithLogitsLoss is the tutorial's BCELoss computed without log(0).
        layers += [nn.Conv2d(w, 1 + (n_cond if self.aux else 0), 4, 1, 0, bias=False)]
        self.main = nn.Sequential(*layers)
        self.apply(init_weights)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None, with_aux: bool = False):
        """The real/fake logit (N,); with ``with_aux`` also the attribute logits (N, n_cond)."""
        if self.n_cond and not self.aux:
            planes = labels.to(x.dtype)[:, :, None, None].expand(-1, -1, x.shape[2], x.shape[3])
            x = torch.cat([x, planes], 1)
        out = self.main(x).flatten(1)
        if with_aux:
            if not self.aux:
                raise ConfigError("this discriminator has no auxiliary classifier",
                                  fix="build it with aux=True (a conditional run with ac_weight > 0)")
            return out[:, 0], out[:, 1:]
        return out[:, 0]


def build(cfg: dict) -> tuple[Generator, Discriminator]:
    """Both networks from a generator run's config (``size, channels, nz, ngf, ndf, condition,
    ac_weight``; ``ac_weight`` 0: no auxiliary classifier, the labels are D's input planes)."""
    n_cond = len(cfg.get("condition") or [])
    g = Generator(cfg["size"], cfg["channels"], cfg["nz"], cfg["ngf"], n_cond)
    d = Discriminator(cfg["size"], cfg["channels"], cfg["ndf"], n_cond, aux=float(cfg["ac_weight"]) > 0)
    return g, d


def to_uint8(x: torch.Tensor):
    """Generator output (N, C, H, W) in [-1, 1] → uint8 NHWC numpy, the cache's layout."""
    return ((x.detach().float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()


def from_uint8(x) -> torch.Tensor:
    """uint8 NHWC (numpy or tensor) → float (N, C, H, W) in [-1, 1], the generator's range."""
    t = torch.as_tensor(x)
    return t.permute(0, 3, 1, 2).float().div_(127.5).sub_(1.0)
