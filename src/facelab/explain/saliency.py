"""Saliency maps for aligned faces: what raised an output, pixel by pixel, in 0–1.

One function, :func:`saliency_maps`, for every model family; the method is chosen per family and
named in the result:

- ``integrated-gradients`` (torch networks, the default; Captum's ``IntegratedGradients``): per
  pixel, the part of the output's logit gained along the straight path from the face blurred
  (Gaussian, sigma = side/16) to the face, in 4 steps; the positive part (what raised the output),
  smoothed by one pixel. Starting from the blurred face rather than black asks "what detail made
  the difference", which is also what the deletion test removes: on 1,000 CelebA test faces it
  beats random pixels for every one of the 40 attributes, Grad-CAM for about 30
  (``bench/explain.py``).
- ``gradcam`` (torch; Captum's ``LayerGradCam``): the gradient-weighted activations of a late
  convolutional stage, upsampled bilinearly to the face. The stage is the deepest whose map is
  still at least ``min_side`` cells wide (8 by default: the shipped 64 px network's last stage is
  2×2, too coarse to point at an eye or a mouth). Cheaper (one backward pass) and coarser.
- ``logreg-weights`` (``logreg`` on pixels/PCA): the weight image itself — the PCA components
  back-projected to pixels, the same for every face; its positive part raises the output.
- ``occlusion`` (``logreg`` on HOG, the dlib embedding models, or asked for): the drop in the
  output's log-odds when a square of the face is replaced by its blurred self, through the
  model's own ``predict_proba`` (a torch network's logits).

A run that mirrors at test time (``tta``) is explained the same way: the map of the face and the
mirrored map of its mirror, averaged.

Example:
    >>> from facelab.pretrained import shipped_path
    >>> faces = np.random.default_rng(0).integers(0, 256, (2, 64, 64, 3), dtype=np.uint8)
    >>> sal = saliency_maps(shipped_path("celeba-attributes"), faces, ["Smiling", "Male"])
    >>> sal.method, sal.of("Smiling").shape, float(sal.maps.max())
    ('integrated-gradients', (2, 64, 64), 1.0)
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Callable

import cv2
import numpy as np

from ..errors import ConfigError, DataError

log = logging.getLogger(__name__)

METHODS = ("auto", "gradcam", "integrated-gradients", "occlusion", "logreg-weights")
#: side (cells) of the Grad-CAM stage: the deepest stage whose map is at least this wide
CAM_MIN_SIDE = 8
#: the cells of the small map put into JSON answers
SMALL = 16


@dataclass
class SaliencyMaps:
    """Maps of several outputs for several faces.

    Attributes:
        method: how they were made (``gradcam``, ``integrated-gradients``, ``occlusion``,
            ``logreg-weights``).
        outputs: the explained outputs, in the order of ``maps``' second axis.
        maps: (N, O, H, W) float32 in 0–1, each map scaled to its own maximum (all zeros when
            nothing raised the output).
        probabilities: (N, O) the model's probabilities of those outputs.
    """

    method: str
    outputs: list[str]
    maps: np.ndarray
    probabilities: np.ndarray

    def of(self, output: str) -> np.ndarray:
        """The (N, H, W) maps of one output."""
        return self.maps[:, self.outputs.index(output)]

    def to_dict(self, size: int = SMALL) -> dict:
        """JSON-ready: the method, the outputs and each face's maps at ``size``×``size``."""
        return {"method": self.method, "outputs": list(self.outputs),
                "maps": [[small_map(m, size) for m in face] for face in self.maps],
                "probabilities": np.round(self.probabilities, 4).tolist()}


def small_map(m: np.ndarray, size: int = SMALL) -> list[list[float]]:
    """A map shrunk to ``size``×``size`` (area average), as nested lists rounded to 3 decimals.

    Example:
        >>> small_map(np.ones((64, 64), np.float32), 2)
        [[1.0, 1.0], [1.0, 1.0]]
    """
    s = cv2.resize(np.asarray(m, np.float32), (size, size), interpolation=cv2.INTER_AREA)
    return np.round(s, 3).tolist()


def normalise(maps: np.ndarray) -> np.ndarray:
    """Each (…, H, W) map clipped at 0 and divided by its maximum (zeros stay zeros)."""
    m = np.maximum(np.asarray(maps, np.float32), 0)
    top = m.max(axis=(-2, -1), keepdims=True)
    return np.where(top > 0, m / np.where(top > 0, top, 1), 0).astype(np.float32)


def as_model_input(x: np.ndarray, size: int, channels: int) -> np.ndarray:
    """uint8 crops (N, H, W, C) checked for the run's side and turned to its channels
    (:func:`facelab.runs.run.faces_input`)."""
    from ..runs.run import faces_input

    return faces_input(x, size, channels)


# -- torch networks ----------------------------------------------------------------------------
def base_network(model):
    """The trained network inside the inference wrappers, and whether it mirrors (TTA)."""
    from ..runs.tta import FlipAverage

    tta = isinstance(model, FlipAverage)
    while hasattr(model, "net"):
        model = model.net
    return model, tta


def cam_stages(net) -> list:
    """The network's convolutional stages, in order (the Grad-CAM candidates)."""
    if hasattr(net, "stages"):  # cnn
        return list(net.stages)
    if hasattr(net, "layer4"):  # resnet18
        return [net.layer1, net.layer2, net.layer3, net.layer4]
    feats = getattr(net, "features", None)
    if feats is not None and hasattr(feats, "__getitem__"):  # mobilenetv2
        return list(feats)
    raise ConfigError(f"no convolutional stages found in {type(net).__name__} for Grad-CAM",
                      fix="explain with method='integrated-gradients' or 'occlusion'")


def cam_layer(net, size: int, channels: int, min_side: int = CAM_MIN_SIDE):
    """The deepest stage whose output is at least ``min_side`` cells wide (else the first)."""
    import torch

    stages, sides = cam_stages(net), {}
    hooks = [s.register_forward_hook(lambda m, i, o, k=k: sides.__setitem__(k, o.shape[-1]))
             for k, s in enumerate(stages)]
    try:
        with torch.no_grad():
            net(torch.zeros(1, channels, size, size))
    finally:
        for h in hooks:
            h.remove()
    fit = [k for k in range(len(stages)) if sides.get(k, 0) >= min_side]
    return stages[fit[-1] if fit else 0]


class TorchExplainer:
    """Integrated gradients or Grad-CAM of a torch network's logits, on uint8 crops.

    Args:
        model: the run's inference module (``Run.torch_model()``, wrappers included) or a bare
            network.
        mean, std: the run's normalisation (``input.json``).
        size, channels: the run's input geometry.
        method: ``integrated-gradients`` or ``gradcam``.
        min_side: Grad-CAM's stage choice (:func:`cam_layer`).
        steps: integrated-gradients steps (from the blurred face to the face).
        smooth: integrated gradients' smoothing (Gaussian sigma in pixels of a 64 px face; 0: none).
    """

    def __init__(self, model, mean, std, size: int, channels: int, method: str = "gradcam",
                 min_side: int = CAM_MIN_SIDE, steps: int = 4, smooth: float = 1.0):
        self.net, self.tta = base_network(model)
        self.mean, self.std, self.size, self.channels = mean, std, int(size), int(channels)
        self.method, self.steps, self.smooth = method, int(steps), float(smooth)
        if method == "gradcam":
            from captum.attr import LayerGradCam

            self.layer = cam_layer(self.net, self.size, self.channels, min_side)
            self._attr = LayerGradCam(self.net, self.layer)
        elif method == "integrated-gradients":
            from captum.attr import IntegratedGradients

            self._attr = IntegratedGradients(self.net)
        else:
            raise ConfigError(f"unknown torch saliency method {method!r}",
                              fix="use gradcam or integrated-gradients")

    def _one_view(self, x, targets: list[int], base=None):
        from captum.attr import LayerAttribution

        if self.method == "gradcam":
            a = self._attr.attribute(x, target=targets, relu_attributions=True)
            return LayerAttribution.interpolate(a, (self.size, self.size), interpolate_mode="bilinear")[:, 0]
        a = self._attr.attribute(x, baselines=base, target=targets, n_steps=self.steps,
                                 internal_batch_size=max(len(x), 1) * self.steps)
        return a.sum(1)

    def __call__(self, x_u8: np.ndarray, targets: list[int], batch: int = 128) -> np.ndarray:
        """(N, T, H, W) raw non-negative maps for the ``targets`` (output indices) of each face."""
        import torch

        from ..runs.preprocess import to_float

        n, t = len(x_u8), len(targets)
        out = np.zeros((n * t, self.size, self.size), np.float32)
        rep = np.repeat(np.arange(n), t)
        tg = list(targets) * n
        # integrated gradients start from the face blurred (what the deletion test puts in)
        ref = blurred(x_u8) if self.method == "integrated-gradients" else None
        self.net.eval()
        with torch.enable_grad():
            for i in range(0, n * t, batch):
                xb = to_float(torch.from_numpy(np.ascontiguousarray(x_u8[rep[i:i + batch]])), self.mean, self.std)
                xb = xb.contiguous().requires_grad_(True)
                base = None if ref is None else \
                    to_float(torch.from_numpy(np.ascontiguousarray(ref[rep[i:i + batch]])), self.mean, self.std)
                m = self._one_view(xb, tg[i:i + batch], base)
                if self.tta:  # the mirrored face's map, mirrored back
                    xf = xb.detach().flip(3).contiguous().requires_grad_(True)
                    bf = None if base is None else base.flip(3).contiguous()
                    m = (m + self._one_view(xf, tg[i:i + batch], bf).flip(-1)) / 2
                out[i:i + batch] = m.detach().float().numpy()
        if self.method == "integrated-gradients":
            out = np.maximum(out, 0)
            if self.smooth > 0:  # single pixels are noisy: a pixel's neighbours share its evidence
                out = np.stack([cv2.GaussianBlur(m, (0, 0), self.smooth * self.size / 64) for m in out])
        return out.reshape(n, t, self.size, self.size)


# -- models without gradients ----------------------------------------------------------------
def blurred(x_u8: np.ndarray, sigma: float | None = None) -> np.ndarray:
    """Each face blurred (Gaussian, ``sigma`` default side/16): what "deleted" pixels become."""
    x = np.asarray(x_u8)
    s = sigma if sigma is not None else max(x.shape[1] / 16, 1.0)
    out = np.stack([cv2.GaussianBlur(im, (0, 0), s).reshape(im.shape) for im in x])
    return out.astype(np.uint8)


def log_odds(p: np.ndarray, kind: str) -> np.ndarray:
    """Probabilities → log-odds (sigmoid outputs) or log-probabilities (softmax): a scale on which a
    confident output still moves when evidence is taken away (0.999 → 0.99 is a large step)."""
    p = np.clip(np.asarray(p, np.float64), 1e-7, 1 - 1e-7)
    return np.log(p) if kind == "multiclass" else np.log(p) - np.log1p(-p)


class OcclusionExplainer:
    """The drop of each output's log-odds when a square window is blurred, per pixel.

    Windows of ``window`` (default side/8) pixels slide by half a window; a pixel's value is the
    mean drop over the windows covering it. Every output comes from the same forward passes. The
    drop is measured in log-odds (:func:`log_odds`), not probability: a probability near 1 hardly
    moves when one window is blurred, so its map would be empty.
    Captum's ``Occlusion`` takes one target per call and a torch forward; this works on any
    ``predict_proba`` (scikit-learn heads, dlib embeddings) and every output at once.
    """

    method = "occlusion"

    def __init__(self, proba: Callable[[np.ndarray], np.ndarray], size: int, window: int | None = None,
                 kind: str = "binary", logits: Callable[[np.ndarray], np.ndarray] | None = None):
        self.size, self.kind = int(size), kind
        # a torch network's own logits when there are (a float32 probability saturates at 1.0)
        self.score = logits or (lambda x: log_odds(np.asarray(proba(x)), kind))
        self.window = int(window or max(self.size // 8, 2))

    def __call__(self, x_u8: np.ndarray, targets: list[int], batch: int = 256) -> np.ndarray:
        n, w = len(x_u8), self.window
        stride = max(w // 2, 1)
        starts = list(range(0, max(self.size - w, 0) + 1, stride))
        if starts[-1] + w < self.size:
            starts.append(self.size - w)
        base = np.asarray(self.score(x_u8), np.float64).reshape(n, -1)[:, targets]
        blur = blurred(x_u8)
        acc = np.zeros((n, len(targets), self.size, self.size), np.float32)
        cnt = np.zeros((self.size, self.size), np.float32)
        windows = [(r, c) for r in starts for c in starts]
        for r, c in windows:
            cnt[r:r + w, c:c + w] += 1
        per = max(batch // max(n, 1), 1)
        for i in range(0, len(windows), per):
            chunk = windows[i:i + per]
            xs = np.repeat(x_u8[None], len(chunk), axis=0).copy()
            for j, (r, c) in enumerate(chunk):
                xs[j, :, r:r + w, c:c + w] = blur[:, r:r + w, c:c + w]
            z = np.asarray(self.score(xs.reshape(-1, *x_u8.shape[1:])), np.float64).reshape(len(chunk), n, -1)
            drop = base[None] - z[:, :, targets]  # (windows, N, T)
            for j, (r, c) in enumerate(chunk):
                acc[:, :, r:r + w, c:c + w] += drop[j][:, :, None, None]
        return acc / np.maximum(cnt, 1)


class LinearWeightsExplainer:
    """``logreg`` on PCA of pixels: the weight image of each output (the same for every face)."""

    method = "logreg-weights"

    def __init__(self, model):
        h, w, c = (int(v) for v in model.input_shape_)
        direction = (model.coef_ / model.feat_scale_) @ model.components_  # (O, D) in standardised pixels
        self.images = (direction / model.px_scale_).reshape(-1, h, w, c).sum(-1)  # (O, H, W)

    def __call__(self, x_u8: np.ndarray, targets: list[int], batch: int = 0) -> np.ndarray:
        return np.repeat(self.images[targets][None], len(x_u8), axis=0).astype(np.float32)


def require_captum() -> None:
    """Captum (the ``explain`` extra) or a ConfigError saying how to install it."""
    try:
        import captum.attr  # noqa: F401
    except ImportError:
        raise ConfigError("saliency maps of torch networks need captum and torch",
                          fix="pip install 'facelab[explain]'") from None


def explainer_for(run, method: str = "auto", **kw):
    """The explainer of ``run`` (a :class:`~facelab.runs.Run`) for ``method`` (``auto``: the
    family's own: integrated gradients for torch, the weight image for ``logreg`` on pixels, else
    occlusion)."""
    if method not in METHODS:
        raise ConfigError(f"unknown saliency method {method!r}", fix=f"use one of {', '.join(METHODS)}")
    size, channels = int(run.input["size"]), int(run.input["channels"])
    from ..models.adapter import NetworkAdapter, adapter_class

    torch_net = issubclass(adapter_class(run.spec), NetworkAdapter)  # gradients need a network
    model = run.model()
    if method == "auto":
        method = "integrated-gradients" if torch_net else \
            "logreg-weights" if getattr(model, "features", None) == "pca" and hasattr(model, "components_") \
            else "occlusion"
    if method in ("gradcam", "integrated-gradients"):
        require_captum()
        if not torch_net:
            raise ConfigError(f"{method} needs a torch network; {run.name} is {run.model_name}",
                              fix="use method='occlusion' (or 'auto')")
        return TorchExplainer(model, run.input["mean"], run.input["std"], size, channels, method, **kw)
    if method == "logreg-weights":
        if not hasattr(model, "components_"):
            raise ConfigError(f"{run.name} has no pixel weights ({run.model_name} on "
                              f"{getattr(model, 'features', 'features')}, not pixels)",
                              fix="use method='occlusion' (or 'auto')")
        return LinearWeightsExplainer(model)
    logits = torch_logits(model, run.input["mean"], run.input["std"]) if torch_net else None
    return OcclusionExplainer(run.predict_proba, size, kind=run.task.kind, logits=logits, **kw)


def torch_logits(model, mean, std) -> Callable[[np.ndarray], np.ndarray]:
    """uint8 NHWC → the network's logits (N, outputs), with the run's preprocessing."""
    def logits(x_u8: np.ndarray) -> np.ndarray:
        import torch

        from ..runs.preprocess import to_float

        with torch.inference_mode():
            return model(to_float(torch.from_numpy(np.ascontiguousarray(x_u8)), mean, std)).float().numpy()

    return logits


def saliency_maps(run, crops: np.ndarray, outputs: list[str] | str, *, method: str = "auto",
                  explainer=None) -> SaliencyMaps:
    """Saliency maps of ``outputs`` for aligned faces.

    Args:
        run: a :class:`~facelab.runs.Run`, its name or folder.
        crops: uint8 (N, H, W, C) faces aligned as the run was trained (``FaceResult.crop``,
            a prepared cache's images); RGB is turned grey for a grey run.
        outputs: output names (one name or a list; see :func:`~facelab.explain.resolve_outputs`).
        method: ``auto`` (the family's own), ``integrated-gradients``, ``gradcam``, ``occlusion``
            or ``logreg-weights``.
        explainer: a ready explainer (:func:`explainer_for`), reused across calls.

    Returns:
        :class:`SaliencyMaps`: maps (N, O, H, W) in 0–1, the method, the probabilities.

    Example:
        >>> from facelab.pretrained import shipped_path
        >>> grey = np.full((1, 64, 64, 3), 128, np.uint8)
        >>> saliency_maps(shipped_path("celeba-attributes"), grey, "Smiling", method="gradcam").maps.shape
        (1, 1, 64, 64)
    """
    from ..runs import Run

    from .outputs import resolve_outputs

    run = Run.load(run)
    names = [o for o in resolve_outputs(run.task.classes, outputs) if o != "top"]
    x = as_model_input(crops, int(run.input["size"]), int(run.input["channels"]))
    ex = explainer or explainer_for(run, method)
    idx = [run.task.classes.index(o) for o in names]
    proba = np.asarray(run.predict_proba(x), np.float32).reshape(len(x), -1)[:, idx]
    maps = normalise(ex(x, idx)) if len(x) and idx else \
        np.zeros((len(x), len(idx), x.shape[1], x.shape[2]), np.float32)
    return SaliencyMaps(ex.method, names, maps, proba)


__all__ = ["CAM_MIN_SIDE", "METHODS", "LinearWeightsExplainer", "OcclusionExplainer", "SaliencyMaps",
           "TorchExplainer", "as_model_input", "blurred", "explainer_for", "log_odds", "require_captum",
           "torch_logits", "normalise", "saliency_maps",
           "small_map"]
