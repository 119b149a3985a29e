"""Explanations of detected faces, attached to prediction results.

:class:`~facelab.predict.predictor.Predictor` calls :func:`explain_pending` after classifying a
batch when it is asked to explain (``predict(..., explain=["Smiling"])``); each explained face
gets one :class:`FaceExplanation` per output in ``FaceResult.explain``, whose ``to_dict`` puts a
16×16 map, the method and the output into the JSON answers. The full-size map and the aligned
crop stay on the object for the heat-map PNG (:func:`facelab.explain.render.overlay_png`) until
:meth:`FaceExplanation.release`.

Example:
    >>> e = FaceExplanation("Smiling", "integrated-gradients", 0.9, np.ones((8, 8), np.float32))
    >>> d = e.to_dict(size=2); d["output"], d["method"], d["map"]
    ('Smiling', 'integrated-gradients', [[1.0, 1.0], [1.0, 1.0]])
"""
from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass, field

import numpy as np

from ..errors import ConfigError
from .outputs import TOP, outputs_for_face, resolve_outputs
from .saliency import SMALL, explainer_for, normalise, small_map


@dataclass
class FaceExplanation:
    """Where the model looked for one output of one face (or, in ``note``, why it did not say)."""

    output: str
    method: str | None = None
    probability: float | None = None
    #: (H, W) float32 in 0–1 on the aligned face (dropped by :meth:`release`)
    map: np.ndarray | None = field(default=None, repr=False)
    note: str | None = None
    #: the aligned face the map is on (dropped by :meth:`release`)
    crop: np.ndarray | None = field(default=None, repr=False, compare=False)
    #: the ``size``×``size`` map kept for JSON after :meth:`release`
    small: list | None = field(default=None, repr=False)
    #: the heat-map PNG written for it (``facelab predict --explain … --annotate DIR``)
    file: str | None = None

    def to_dict(self, size: int = SMALL) -> dict:
        grid = small_map(self.map, size) if self.map is not None else self.small
        return {"output": self.output, "method": self.method,
                "probability": None if self.probability is None else round(float(self.probability), 4),
                "map": grid, "note": self.note, **({"file": self.file} if self.file else {})}

    def release(self) -> None:
        """Keep the small map only (a large folder's full maps need not stay in memory)."""
        if self.map is not None:
            self.small = small_map(self.map)
        self.map = self.crop = None


def min_explain_side(input_spec: dict) -> int:
    """The smallest face box (pixels) explained: half the model's input side. A smaller face was
    upsampled more than twice into the crop, so its map points at pixels the photo never had."""
    return max(int(input_spec.get("size", 32)) // 2, 8)


def check_explainable(predictor, explain) -> list[str]:
    """The outputs ``explain`` names for ``predictor`` (checked), or a ConfigError saying why it
    cannot explain (an ONNX Runtime predictor: explanations need the torch model)."""
    wanted = resolve_outputs(predictor.classes, explain)
    if wanted and getattr(predictor, "run", None) is None:
        raise ConfigError(f"explanations need the torch model (gradients of the run's own network); "
                          f"{predictor.name} predicts with {predictor.backend} only",
                          fix="predict with --backend torch (pip install torch) to explain")
    return wanted


_EXPLAINERS: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()  # one per loaded run
#: Captum hooks the network's modules during a call: one explanation at a time (server threads)
_LOCK = threading.Lock()


def run_explainer(run):
    """The explainer of a loaded run, built once per run."""
    with _LOCK:
        ex = _EXPLAINERS.get(run)
        if ex is None:
            ex = _EXPLAINERS[run] = explainer_for(run)
        return ex


def explain_pending(predictor, pending: list, wanted: list[str]) -> None:
    """Fill ``FaceResult.explain`` for the classified faces of ``pending`` photos (each a
    ``Pending``: ``result``, ``crops``, ``slots``) with maps of the ``wanted`` outputs
    (``top``: the face's most probable output)."""
    classes, min_side = list(predictor.classes), min_explain_side(predictor.input_spec)
    jobs = []  # (face, crop, outputs)
    for p in pending:
        for slot, crop in zip(p.slots, p.crops):
            f = p.result.faces[slot]
            proba = np.array([f.probabilities.get(c, 0.0) for c in classes])
            outs = outputs_for_face(wanted, classes, proba)
            aligned_input = f.note == "aligned input"
            if np.asarray(crop).ndim != 3:
                f.explain += [FaceExplanation(o, note="no aligned crop to explain: this model reads face "
                                                      "descriptors; explain aligned faces (--aligned)") for o in outs]
            elif not aligned_input and f.box.size < min_side:
                f.explain += [FaceExplanation(o, note=f"face too small to explain ({f.box.size:.0f} px < "
                                                      f"{min_side} px)") for o in outs]
            else:
                jobs.append((f, np.asarray(crop), outs))
    if not jobs:
        return
    ex = run_explainer(predictor.run)
    from .saliency import as_model_input

    size, channels = int(predictor.input_spec["size"]), int(predictor.input_spec["channels"])
    # one call per distinct output list: `all` and a fixed list batch every face together
    groups: dict[tuple, list] = {}
    for job in jobs:
        groups.setdefault(tuple(job[2]), []).append(job)
    for outs, items in groups.items():
        x = as_model_input(np.stack([c for _, c, _ in items]), size, channels)
        with _LOCK:
            maps = normalise(ex(x, [classes.index(o) for o in outs]))
        for k, (f, crop, _) in enumerate(items):
            f.explain += [FaceExplanation(o, ex.method, f.probabilities.get(o), maps[k, j], crop=crop)
                          for j, o in enumerate(outs)]


__all__ = ["FaceExplanation", "TOP", "check_explainable", "explain_pending", "min_explain_side", "run_explainer"]
