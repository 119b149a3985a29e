"""``facelab data review DATA``: a page of photos worth a second look, before training on them.

Three sections, each a grid of thumbnails with the photo's path under it:

* near-duplicate groups — perceptual hashes (``imagehash.phash``) within ``threshold`` bits;
* photos with no face or several — from the latest ``--crop detect`` cache of the source when
  there is one, else the Haar detector run here;
* given ``run``, its top losses on val/test (the true class, the predicted one and its probability).

The page changes nothing: the user writes ``exclude.txt`` / ``relabel.csv`` in the dataset folder
(:mod:`facelab.data.marks`; the page shows the lines to copy) and prepares again.

Example: docs/python.md#faces-embeddings-detect-caches-review.
"""
from __future__ import annotations

import base64
import html
import io
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..data.image import PIL_ERRORS
from ..errors import ConfigError, DataError

log = logging.getLogger(__name__)


@dataclass
class ReviewReport:
    root: Path
    photos: int
    duplicate_groups: list[list[str]]
    no_face: list[str]
    several_faces: list[str]
    top_losses: list[dict] = field(default_factory=list)
    html: Path | None = None
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"root": str(self.root), "photos": self.photos, "duplicate_groups": self.duplicate_groups,
                "no_face": self.no_face, "several_faces": self.several_faces, "top_losses": self.top_losses,
                "html": str(self.html) if self.html else None, "notes": self.notes}


def _hashes(paths: list[str], progress: bool) -> np.ndarray:
    try:
        import imagehash
    except ImportError:
        raise ConfigError("near-duplicate search needs imagehash", fix='pip install "facelab[review]"') from None
    from PIL import Image
    from tqdm.auto import tqdm

    out = np.zeros(len(paths), np.uint64)
    for i, p in enumerate(tqdm(paths, desc="hash", unit="photo", disable=None if progress else True)):
        try:
            with Image.open(p) as im:
                bits = imagehash.phash(im.convert("L")).hash.reshape(-1)
            out[i] = np.uint64(int("".join("1" if b else "0" for b in bits), 2))
        except PIL_ERRORS:  # unreadable: never a duplicate of anything
            out[i] = np.uint64(i) * np.uint64(0x9E3779B97F4A7C15)
    return out


def duplicate_groups(hashes: np.ndarray, threshold: int) -> list[list[int]]:
    """Groups (connected components) of rows whose hashes differ in at most ``threshold`` bits.

    Example:
        >>> duplicate_groups(np.array([0, 1, 2 ** 40 - 1, 3], np.uint64), 2)
        [[0, 1, 3]]
    """
    n = len(hashes)
    parent = list(range(n))

    def find(a: int) -> int:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    as_bytes = hashes.view(np.uint8).reshape(n, 8)
    for i in range(n - 1):
        diff = np.unpackbits(as_bytes[i] ^ as_bytes[i + 1:], axis=1).sum(1)
        for j in np.flatnonzero(diff <= threshold) + i + 1:
            parent[find(int(j))] = find(i)
    groups: dict[int, list[int]] = {}
    for i in range(n):
        groups.setdefault(find(i), []).append(i)
    return sorted((g for g in groups.values() if len(g) > 1), key=lambda g: (-len(g), g[0]))


def _faces(root: Path, paths: list[str], progress: bool, notes: list[str]) -> tuple[list[str], list[str]]:
    from ..data.faces_info import face_listing

    info = face_listing(root)
    if info is not None:
        notes.append(f"faces: from the --crop detect cache {info['cache']} (detector {info['detector']})")
        return info["no_face_photos"], info["several_faces_photos"]
    from tqdm.auto import tqdm

    from ..faces.detect import get_detector
    from ..data.image import load_image

    det, none, several = get_detector(), [], []
    for p in tqdm(paths, desc="faces", unit="photo", disable=None if progress else True):
        try:
            n = len(det.detect(load_image(p)))
        except DataError:  # unreadable: the duplicates section lists it
            continue
        (none if n == 0 else several if n > 1 else []).append(p)
    notes.append("faces: the default face detector, run on every photo")
    return none, several


def _top_losses(run_name: str, top: int, runs_dir=None) -> list[dict]:
    from ..data.prepared import open_prepared
    from ..runs import Run, resolve_run

    run = Run.load(resolve_run(run_name, runs_dir))
    pred = run.predictions()
    ds = open_prepared(run.config["data"])
    classes = list(run.task.classes)
    pcols = [c for c in pred.columns if c.startswith("p_")]
    p = pred[pcols].to_numpy(np.float64)
    out = []
    if run.task.kind == "multiclass":
        y = pred[run.task.targets[0]].to_numpy().astype(int)
        loss = -np.log(p[np.arange(len(y)), y] + 1e-7)
        for i in np.argsort(-loss)[:top]:
            out.append({"path": str(ds.table["path"].iloc[int(pred["row"].iloc[i])]), "split": pred["split"].iloc[i],
                        "true": classes[y[i]], "predicted": classes[int(p[i].argmax())],
                        "p_predicted": round(float(p[i].max()), 3), "loss": round(float(loss[i]), 3)})
    else:
        y = pred[list(run.task.targets)].to_numpy().astype(float)
        loss = -(y * np.log(p + 1e-7) + (1 - y) * np.log(1 - p + 1e-7)).mean(1)
        for i in np.argsort(-loss)[:top]:
            out.append({"path": str(ds.table["path"].iloc[int(pred["row"].iloc[i])]), "split": pred["split"].iloc[i],
                        "true": ", ".join(t for t, v in zip(run.task.targets, y[i]) if v) or "-",
                        "predicted": ", ".join(t for t, v in zip(run.task.targets, p[i]) if v >= 0.5) or "-",
                        "loss": round(float(loss[i]), 3)})
    return out


def _thumb(path: str, side: int = 112) -> str:
    from PIL import Image

    try:
        with Image.open(path) as im:
            im = im.convert("RGB")
            im.thumbnail((side, side))
            buf = io.BytesIO()
            im.save(buf, "JPEG", quality=80)
        return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode()
    except PIL_ERRORS:
        return ""


def _rel(root: Path, p: str) -> str:
    try:
        return Path(p).resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return p


def _cell(root: Path, p: str, caption: str = "") -> str:
    rel = html.escape(_rel(root, p))
    cap = f"<br><small>{html.escape(caption)}</small>" if caption else ""
    return (f'<figure><img src="{_thumb(p)}" alt="{rel}" width="112"><figcaption><code>{rel}</code>{cap}'
            "</figcaption></figure>")


def _section(title: str, intro: str, cells: list[str], lines: list[str]) -> str:
    if not cells:
        return f"<h2>{html.escape(title)}</h2><p>None found.</p>"
    copy = html.escape("\n".join(lines))
    return (f"<h2>{html.escape(title)}</h2><p>{html.escape(intro)}</p><div class=grid>{''.join(cells)}</div>"
            f"<details><summary>lines for exclude.txt</summary><pre>{copy}</pre></details>")


def write_html(rep: ReviewReport, out: Path) -> Path:
    root = rep.root
    parts = [f"<h1>Review of {html.escape(str(root))}</h1><p>{rep.photos} photos. Nothing here changes the "
             "data: write the photos to drop in <code>exclude.txt</code> (one path per line) and new labels in "
             "<code>relabel.csv</code> (<code>path,label</code>) in the dataset folder, then run "
             "<code>facelab data prepare</code> again.</p>"]
    parts += [f"<p class=note>{html.escape(n)}</p>" for n in rep.notes]
    dup_cells, dup_lines = [], []
    for k, g in enumerate(rep.duplicate_groups[:200]):
        dup_cells.append(f'<div class=group><b>group {k + 1}</b>{"".join(_cell(root, p) for p in g)}</div>')
        dup_lines += [f"{_rel(root, p)}  # duplicate of {_rel(root, g[0])}" for p in g[1:]]
    parts.append(_section("Near-duplicates", f"{len(rep.duplicate_groups)} groups of photos with almost the same "
                          "content (perceptual hash); keep one of each.", dup_cells, dup_lines))
    parts.append(_section("No face found", f"{len(rep.no_face)} photos.", [_cell(root, p) for p in rep.no_face[:300]],
                          [_rel(root, p) for p in rep.no_face]))
    parts.append(_section("Several faces", f"{len(rep.several_faces)} photos: is the labelled person the largest face?",
                          [_cell(root, p) for p in rep.several_faces[:300]], [_rel(root, p) for p in rep.several_faces]))
    if rep.top_losses:
        cells = [_cell(root, t["path"], f"true {t['true']}, predicted {t['predicted']} (loss {t['loss']})")
                 for t in rep.top_losses]
        parts.append(_section("Top losses of the run", "Wrong labels show up here: relabel or exclude them.",
                              cells, [_rel(root, t["path"]) for t in rep.top_losses]))
    style = ("body{font-family:sans-serif;margin:2em}.grid{display:flex;flex-wrap:wrap;gap:8px}"
             "figure{margin:0;width:120px;font-size:11px;word-break:break-all}.group{display:flex;gap:6px;"
             "border:1px solid #ccc;padding:4px}.note{color:#555}")
    out.mkdir(parents=True, exist_ok=True)
    page = out / "review.html"
    page.write_text(f"<!doctype html><html><head><meta charset=utf-8><title>facelab review</title>"
                    f"<style>{style}</style></head><body>{''.join(parts)}</body></html>")
    return page


def review(data, *, run: str | None = None, out=None, faces: bool = True, threshold: int = 6, top: int = 24,
           progress: bool = True, runs_dir: str | Path | None = None) -> ReviewReport:
    """Find near-duplicates, photos with 0 or several faces and (given ``run``) its top losses;
    write ``review.html`` and ``review.json``.

    Args:
        data: the dataset (source) folder.
        run: a run trained on it, for its top losses.
        out: report folder (default ``<FACELAB_HOME>/reports/<dataset>/review``).
        faces: look for photos with no face or several.
        threshold: hash bits two near-duplicates may differ by (of 64).
        top: how many top losses.
        runs_dir: where ``run`` is looked up by name (default ``$FACELAB_RUNS`` or ``./runs``).
    """
    from ..data.readers import read_source
    from ..outputs import check_folder, claim_folder, folder_with_files
    from ..paths import home

    legacy = folder_with_files("review.html", "review.json")  # a review folder without the marker
    if out:  # refuse a user's folder before the slow part
        check_folder(out, what="report folder", recognise=legacy)
    root = Path(data).expanduser().resolve()
    m = read_source(root)
    paths = [p for p in m.table["path"].astype(str).tolist() if not p.lower().endswith(".csv")]
    notes = [n for n in m.notes if n.startswith(("exclude.txt", "relabel.csv", "warning"))]
    if not paths:
        raise ConfigError(f"{root} has no image files to review (a CSV of pixels?)", path=root,
                          fix="review a folder of images")
    groups = [[paths[i] for i in g] for g in duplicate_groups(_hashes(paths, progress), threshold)]
    none, several = _faces(root, paths, progress, notes) if faces else ([], [])
    losses = _top_losses(run, top, runs_dir) if run else []
    rep = ReviewReport(root, len(paths), groups, none, several, losses, None, notes)
    out = claim_folder(Path(out).expanduser() if out else home() / "reports" / (root.name or "data") / "review",
                       what="report folder", recognise=legacy)
    rep.html = write_html(rep, out)
    (out / "review.json").write_text(json.dumps({"kind": "review", **rep.to_dict()}, indent=1))
    if progress:
        log.info(f"review: {len(groups)} near-duplicate groups, {len(none)} photos without a face, {len(several)} "
                 f"with several{f', {len(losses)} top losses' if losses else ''}: {rep.html}")
    return rep
