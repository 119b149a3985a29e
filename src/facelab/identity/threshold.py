"""Distance thresholds: their range, the default, and where the one in use came from.

``given`` (the caller's), ``gallery`` (calibrated with ``facelab verify-eval --save-threshold`` and
stored in a gallery) or ``default`` (:data:`DEFAULT_THRESHOLD`, calibrated on LFW people by
``bench/identity.py``).

Example:
    >>> check_threshold(0.4)
    0.4
    >>> resolve_threshold(None).source
    'default'
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from ..errors import ConfigError

#: Distances between unit descriptors lie in [0, 2].
THRESHOLD_RANGE = (0.0, 2.0)
#: Same person below this distance (the default framing: MTCNN, both chips mirror-averaged): the
#: best threshold on 6,000 seeded pairs of lfw_more's 548 LFW people (0.417; 10-fold accuracy
#: 98.98%, bench/identity.py); calibrate on your own photos with ``facelab verify-eval``.
DEFAULT_THRESHOLD = 0.42
#: Known below this distance when identifying against a gallery (open set): stricter than the
#: verification threshold, because a face is compared with every person of the gallery. Chosen to
#: reject 97% of unknowns by leaving each of 274 enrolled LFW people out in turn (0.318); against a
#: gallery of those 274 people x 3 photos it answered ``unknown`` for 97.9% of 274 never-enrolled
#: people's photos (bench/identity.py). Calibrate on your own people with ``verify-eval --save-threshold``.
DEFAULT_IDENTIFY_THRESHOLD = 0.32
#: Faces are grouped into one person below this distance with a linkage of pair distances
#: (``--method agglomerative`` or ``chinese-whispers``), and Ward's grouping leaves a face alone when
#: no face of its group is this close: the threshold at a false-accept rate of 7e-4
#: (``calibrate.GROUP_FAR``) on 274 LFW people (0.364, bench/identity.py).
DEFAULT_GROUP_THRESHOLD = 0.36
#: Ward's linkage (``facelab cluster --by identity``, the default method) cuts at this merge cost:
#: :func:`~.linkage.best_cut` with the join and near steps on the validation half of lfw_more's
#: people (the middle of the cuts whose pairwise F1 is within 0.002 of the best: 0.55 with MTCNN's
#: own cascade as the detector, 0.57 with the default one; at 0.55 precision 0.991, recall 0.977;
#: ``python bench/identity.py --parts group``). Calibrate on your own people with
#: ``verify-eval --save-threshold``.
DEFAULT_GROUP_CUT = 0.55
#: ...after which groups whose faces are on average closer than this are joined (one person's
#: photos that Ward's linkage split by age or light): the distance at a false-accept rate of 1e-4
#: (``calibrate.GROUP_JOIN_FAR``) on lfw_more's validation people (0.333). On ``people/`` (8 people,
#: 64-530 photos each) it lifts recall from 0.14 to 0.99 at precision 1.000; at FAR 7e-4 (0.36) the
#: lfw_more check half loses 5 points of precision.
DEFAULT_GROUP_JOIN = 0.33


@dataclass(frozen=True)
class Threshold:
    """A distance threshold and where it came from (``default``, ``given`` or ``gallery``)."""

    value: float
    source: str
    detail: str = ""

    def to_dict(self) -> dict:
        return {"value": round(float(self.value), 4), "source": self.source, "detail": self.detail}


def check_threshold(value: float) -> float:
    """``value`` when it is a usable distance threshold (0 < t < 2), else a ConfigError.

    Example:
        >>> check_threshold(3)
        Traceback (most recent call last):
        ...
        facelab.errors.ConfigError: threshold 3 is outside the range of distances (0, 2)...
    """
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"threshold {value!r} is not a number", fix="give a distance such as 0.4") from None
    lo, hi = THRESHOLD_RANGE
    if not math.isfinite(v) or not lo < v < hi:
        raise ConfigError(f"threshold {value} is outside the range of distances ({lo:g}, {hi:g})",
                          fix=f"give a distance between {lo:g} and {hi:g} (default {DEFAULT_THRESHOLD}); "
                              "`facelab verify-eval` calibrates one on your photos")
    return v


def resolve_threshold(threshold: float | None = None, gallery=None, purpose: str = "verify") -> Threshold:
    """The threshold to use: the caller's, else the gallery's calibrated one, else the default.

    ``purpose``: ``verify`` (two photos), ``identify`` (a face against a whole gallery: the stricter
    open-set threshold), ``group`` (linking the faces of a library by pair distance: the threshold
    at FAR 7e-4), ``group_cut`` (Ward's merge cost, calibrated by grouping the user's own people) or
    ``group_join`` (the mean distance below which Ward's groups are joined: FAR 1e-4).
    """
    if threshold is not None:
        return Threshold(check_threshold(threshold), "given")
    saved = gallery.threshold if gallery is not None else None
    own = ("group_cut", "group_join")  # never stood in for by another kind of threshold
    if saved and (purpose not in own or saved.get(purpose)):
        value = saved.get(purpose, saved["value"]) if purpose in ("verify", "group") + own else saved["value"]
        return Threshold(float(value), "gallery", f"{gallery.name}: {saved.get('source', '')}")
    if purpose == "group_cut":
        return Threshold(DEFAULT_GROUP_CUT, "default", "Ward's cut chosen on LFW people (bench/identity.py)")
    if purpose == "group_join":
        return Threshold(DEFAULT_GROUP_JOIN, "default", "at FAR 1e-4 on LFW people (bench/identity.py)")
    if purpose == "group":
        return Threshold(DEFAULT_GROUP_THRESHOLD, "default", "at FAR 7e-4 on LFW people (bench/identity.py)")
    if purpose == "identify":
        return Threshold(DEFAULT_IDENTIFY_THRESHOLD, "default", "open-set, calibrated on LFW people (bench/identity.py)")
    return Threshold(DEFAULT_THRESHOLD, "default", "calibrated on LFW people (bench/identity.py)")
