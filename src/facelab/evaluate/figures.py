"""The index of the figures a run's folder holds: which file is which figure, by the names the
writers gave them (``runs/writer.py`` for the curves, :func:`~facelab.evaluate.report.evaluate`
for the rest), not by keywords guessed from file names.

Example:
    >>> figure_index(Path("/nonexistent"))
    {}
"""
from __future__ import annotations

from pathlib import Path

from ..runs.layout import CURVES, EVAL_DIR, PLOTS

#: section title → the file names its writer uses
SECTIONS: dict[str, tuple[str, ...]] = {
    "Training curves": (CURVES,),
    "Confusion matrices": ("confusion.png",),
    "Calibration": ("reliability.png",),
    "Top losses": ("top_losses.png",),
}


def figure_index(run_folder: str | Path) -> dict[str, list[Path]]:
    """``{section: [png, ...]}`` for a run folder: its training curves, then every evaluation's
    figures (newest evaluation first), then ``"More figures"`` for any other PNG. Empty sections
    are left out."""
    folder = Path(run_folder)
    pngs = [p for base in (folder / PLOTS, folder / EVAL_DIR) if base.is_dir() for p in sorted(base.rglob("*.png"))]
    pngs.sort(key=lambda p: (p.parent != folder / PLOTS, -p.stat().st_mtime))
    out: dict[str, list[Path]] = {}
    placed: set[Path] = set()
    for title, names in SECTIONS.items():
        found = [p for p in pngs if p.name in names]
        if found:
            out[title] = found
            placed.update(found)
    # the saliency figures (evaluate --saliency) have their own place: facelab.explain.report
    rest = [p for p in pngs if p not in placed and not p.name.startswith("saliency-")]
    if rest:
        out["More figures"] = rest
    return out
