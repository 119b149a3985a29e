"""Where a model looked: saliency maps per face and averaged over a dataset.

- :mod:`~facelab.explain.saliency`: aligned crops + a run + output names → maps (N×H×W in 0–1) and
  the method that made them (integrated gradients from the blurred face for torch networks, the
  weight image for ``logreg`` on pixels, occlusion for everything else).
- :mod:`~facelab.explain.outputs`: which outputs ``--explain`` names (``all``, ``top``, a list),
  refusing unknown names with a close match.
- :mod:`~facelab.explain.faces`: the per-face explanations attached to prediction results.
- :mod:`~facelab.explain.dataset`: maps averaged over test faces per output and subgroup, beside
  the mean faces of the same groups.
- :mod:`~facelab.explain.checks`: do the maps mean something (weight randomisation, deletion).
- :mod:`~facelab.explain.render`: heat-map overlays and figures (separate from the computing).

Example:
    >>> import numpy as np
    >>> from facelab.explain import saliency_maps
    >>> from facelab.pretrained import shipped_path
    >>> faces = np.random.default_rng(0).integers(0, 256, (2, 64, 64, 3), dtype=np.uint8)
    >>> sal = saliency_maps(shipped_path("celeba-attributes"), faces, ["Smiling"])
    >>> sal.method, sal.maps.shape
    ('integrated-gradients', (2, 1, 64, 64))
"""
from __future__ import annotations

from .outputs import resolve_outputs
from .saliency import SaliencyMaps, saliency_maps

__all__ = ["SaliencyMaps", "resolve_outputs", "saliency_maps"]
