"""``verify-eval``: calibrate and evaluate verification on a folder of people, write the report,
and optionally store the threshold in a gallery.

Example (``people/`` holds one sub-folder of photos per person)::

    res = verify_eval("people/", out="reports/verify")
    res.accuracy, res.threshold, res.open_set["threshold"]
"""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from ..errors import DataError
from .calibrate import CalibrationResult, calibrate, read_groups
from .embed import DIM, Embedder
from .photos import people_folders

log = logging.getLogger(__name__)


def verify_eval(people: str | Path, *, groups: str | Path | dict | None = None, folds: int = 10,
                pairs_per_fold: int = 600, seed: int = 0, detector: str | None = None, mirror: bool = True,
                workers: int = 1, save_threshold=None, out: str | Path | None = None,
                progress: bool = False) -> CalibrationResult:
    """Embed the main face of every photo of ``people/<person>/``, then :func:`~.calibrate.calibrate`.

    Args:
        people: one sub-folder of photos per person.
        groups: a CSV ``person,group`` (or a dict) for per-group figures.
        folds, pairs_per_fold, seed: the pairs (LFW: 10 folds of 600 pairs).
        detector, mirror: the framing (with ``save_threshold``: the gallery's own is used).
        save_threshold: a gallery (name or path) to store the calibrated threshold in.
        out: a report folder (``index.html``, figures, worst pairs, ``verify_eval.json``).

    Raises:
        DataError: fewer than two people with a face, or nobody with two photos.
        ConfigError: the gallery's framing differs from ``detector``/``mirror`` given explicitly.
    """
    from .gallery import open_gallery

    folders = people_folders(people)
    gallery, chip = None, None
    if save_threshold is not None:
        gallery = open_gallery(save_threshold)
        fr = gallery.framing
        if detector is not None and (detector, mirror) != (fr.detector, fr.mirror):
            from .embed import Framing, check_framing

            check_framing(Framing(detector, mirror, chip=fr.chip), fr, str(gallery.path))
        detector, mirror, chip = fr.detector, fr.mirror, fr.chip
    if out is not None:
        from ..outputs import check_folder

        check_folder(out, what="report folder")
    ones = [p for p, fs in folders.items() if len(fs) < 2]
    if ones:
        log.warning("%d people have a single photo (only impostor pairs): %s", len(ones), ", ".join(ones[:5]))
    labels = [p for p, fs in folders.items() for _ in fs]
    paths = [f for fs in folders.values() for f in fs]
    emb = Embedder(detector, mirror=mirror, chip=chip, workers=workers)
    found = emb.embed_paths(paths, progress=progress)
    X = np.full((len(paths), DIM), np.nan, np.float32)
    for i, ph in enumerate(found):
        if ph.faces:
            X[i] = ph.faces[0].vector
    if np.isfinite(X[:, 0]).sum() < 2:
        raise DataError(f"fewer than two photos of {people} have a face", path=people,
                        fix="give photos where the face is visible and at least ~40 px wide")
    grp = groups if isinstance(groups, dict) or groups is None else read_groups(groups)
    res = calibrate(X, labels, groups=grp, folds=folds, pairs_per_fold=pairs_per_fold, seed=seed, paths=paths)
    res.framing = emb.framing.to_dict()
    if gallery is not None:
        ident = res.open_set.get("threshold", res.threshold)
        how = (f"open set: {res.open_set['unknown_rejected']:.0%} of unknowns rejected, " if res.open_set else "")
        cut = res.group_cut.get("cut")  # None: too few people to choose Ward's cut on
        with gallery:
            gallery.set_threshold(ident, f"verify-eval on {Path(people).name}/ ({res.people} people; {how}"
                                         f"{len(res.fold_accuracy)}-fold accuracy {res.accuracy:.2%})",
                                  verify=res.threshold,
                                  group=res.group_threshold if 0 < res.group_threshold < 2 else None,
                                  group_cut=cut, group_join=res.group_cut.get("join") if cut else None)
    if out is not None:
        write_report(res, out)
    return res


def write_report(res: CalibrationResult, out: str | Path) -> Path:
    """``index.html``, ``roc_det.png``, ``histograms.png``, ``worst_pairs.png`` and ``verify_eval.json``."""
    import json

    import cv2

    from ..outputs import claim_folder
    from .render import calibration_figures, calibration_html, worst_pairs_image

    out = claim_folder(out, what="report folder")
    figs = calibration_figures(res, out)
    img = worst_pairs_image(res.worst)
    worst = None
    if img is not None:
        worst = out / "worst_pairs.png"
        cv2.imwrite(str(worst), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
    (out / "verify_eval.json").write_text(json.dumps(res.to_dict(), indent=1))
    (out / "index.html").write_text(calibration_html(res, figs, worst), encoding="utf-8")
    return out
