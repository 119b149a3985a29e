"""Batch prediction: files, folders and globs → one row per face in CSV, JSON or Parquet.

A bad file never stops a batch: it becomes a row with ``status="error"`` and its message, and the
report lists every failed file at the end. A photo without a face is one row with
``status="no face"`` (nothing is guessed); a face too small to classify has ``status="too small"``.

Example:
    >>> import tempfile
    >>> import numpy as np
    >>> from PIL import Image
    >>> photos = Path(tempfile.mkdtemp())
    >>> Image.new("RGB", (320, 240), "grey").save(photos / "empty.jpg")   # a photo without a face
    >>> _ = (photos / "notes.jpg").write_text("not a photo")
    >>> rep = predict_files("fer-emotions", [photos], out=photos.parent / "faces.csv", progress=False)
    >>> rep.photos, rep.faces, len(rep.failed)
    (2, 0, 1)
"""
from __future__ import annotations

import glob
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable


from ..errors import ConfigError, DataError
from .predictor import Predictor
from .results import PhotoResult, results_table

IMAGE_EXTS = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm", ".pbm",
              ".jfif", ".heic"}
FORMATS = ("csv", "json", "parquet")


@dataclass
class BatchReport:
    """What a batch run did. ``failed`` lists (file, reason) for every photo that could not be read."""

    photos: int
    faces: int
    classified: int
    no_face: int
    failed: list[tuple[str, str]]
    skipped_files: int
    seconds: float
    out: Path | None = None
    results: list[PhotoResult] = field(default_factory=list, repr=False)

    def to_dict(self) -> dict:
        return {"photos": self.photos, "faces": self.faces, "classified": self.classified, "no_face": self.no_face,
                "failed": [{"file": f, "error": e} for f, e in self.failed], "skipped_files": self.skipped_files,
                "seconds": round(self.seconds, 3), "out": str(self.out) if self.out else None}


def expand_sources(items: Iterable[str | Path]) -> tuple[list[str], list[PhotoResult], int]:
    """Files, folders (recursive, image extensions only) and globs → photo paths, in order.

    Returns:
        (paths, problems, skipped): ``problems`` are error results for names that do not exist or
        folders that cannot be read; ``skipped`` counts non-image files inside folders.

    Example:
        >>> expand_sources(["missing.jpg"])[1][0].error
        'no such file or folder: missing.jpg'
    """
    paths: list[str] = []
    problems: list[PhotoResult] = []
    skipped = 0
    seen: set[str] = set()

    def add(p: str) -> None:
        if p not in seen:
            seen.add(p)
            paths.append(p)

    for item in items:
        s = str(item)
        p = Path(s).expanduser()
        if p.is_dir():
            if not os.access(p, os.R_OK | os.X_OK):
                problems.append(PhotoResult(s, 0, 0, error=f"cannot read the folder {s} (permission denied)"))
                continue
            errors: list[OSError] = []
            found = []
            for root, dirs, files in os.walk(p, onerror=errors.append):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for f in sorted(files):
                    if f.startswith("."):
                        continue
                    if Path(f).suffix.lower() in IMAGE_EXTS:
                        found.append(os.path.join(root, f))
                    else:
                        skipped += 1
            for e in errors:
                problems.append(PhotoResult(str(e.filename), 0, 0, error=f"cannot read the folder {e.filename} "
                                            f"({e.strerror})"))
            for f in found:
                add(f)
        elif p.is_file():
            add(str(p))
        elif glob.has_magic(s):
            hits = sorted(glob.glob(os.path.expanduser(s), recursive=True))
            files = [h for h in hits if os.path.isfile(h)]
            if not files:
                problems.append(PhotoResult(s, 0, 0, error=f"the pattern {s} matches no file"))
            for h in files:
                add(h)
        else:
            problems.append(PhotoResult(s, 0, 0, error=f"no such file or folder: {s}"))
    return paths, problems, skipped


def _format(out: Path, format: str | None) -> str:
    fmt = (format or out.suffix.lstrip(".") or "csv").lower()
    if fmt == "pq":
        fmt = "parquet"
    if fmt not in FORMATS:
        raise ConfigError(f"unknown output format {fmt!r}", path=out, fix="use --format csv, json or parquet")
    return fmt


def is_results_file(path: Path) -> bool:
    """A results table an earlier ``predict`` wrote (it may be replaced; any other file may not)."""
    path = Path(path)
    fmt = path.suffix.lower().lstrip(".")
    if fmt == "json":
        from ..outputs import json_with_keys

        return json_with_keys("classes", "photos")(path)
    if fmt in ("parquet", "pq"):
        import pyarrow.parquet as pq

        names = pq.read_schema(path).names
    else:
        with open(path, encoding="utf-8", errors="replace") as f:
            names = f.readline(4096).strip().split(",")
    return names[:3] == ["file", "face", "status"]


def write_results(results: list[PhotoResult], classes: list[str], out: str | Path, *,
                  format: str | None = None, meta: dict | None = None) -> Path:
    """Write results as CSV or Parquet (one row per face) or JSON (nested, one object per photo).

    Example:
        >>> import tempfile
        >>> import numpy as np
        >>> from facelab.predict import Predictor
        >>> p = Predictor.from_run("fer-emotions")
        >>> results = [p.predict(np.zeros((48, 48, 1), np.uint8), aligned=True)]
        >>> out = write_results(results, p.classes, Path(tempfile.mkdtemp()) / "faces.parquet")
        >>> import pandas as pd; pd.read_parquet(out)[["face", "status"]].values.tolist()
        [[0, 'ok']]
    """
    from ..outputs import atomic_file

    out = Path(out).expanduser()
    fmt = _format(out, format)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        with atomic_file(out, "results file") as tmp:  # a full disk: WriteError, no half table left
            if fmt == "json":
                tmp.write_text(json.dumps({**(meta or {}), "classes": classes,
                                           "photos": [r.to_dict() for r in results]}, indent=1))
            elif fmt == "csv":
                results_table(results, classes).to_csv(tmp, index=False)
            else:
                results_table(results, classes).to_parquet(tmp, index=False)
    except OSError as e:
        raise DataError(f"cannot write {out}: {e.strerror or e}", path=out,
                        fix="choose a writable --out path") from None
    return out


def _unique(name: str, used: set[str]) -> str:
    stem, ext = os.path.splitext(name)
    cand, k = name, 2
    while cand in used:
        cand, k = f"{stem}_{k}{ext}", k + 1
    used.add(cand)
    return cand


def annotate_photo(r: PhotoResult, dest: Path) -> None:
    """A copy of the photo with each face's (rotated) box, index and labels drawn (:meth:`PhotoResult.draw`)."""
    from ..data.image import load_image

    from ..outputs import writing

    with writing(dest, "annotated photo"):
        r.draw(load_image(r.source)).save(dest, quality=90)


def write_crop(crop, dest: Path) -> None:
    """One aligned crop (RGB or grey uint8) as a PNG; a full disk raises ``WriteError``."""
    import cv2

    from ..outputs import writing

    _, png = cv2.imencode(".png", crop if crop.shape[2] == 1 else crop[:, :, ::-1])
    with writing(dest, "crop"):
        dest.write_bytes(png.tobytes())


def predict_files(run_or_predictor, sources: Iterable[str | Path], *, out: str | Path | None = None,
                  format: str | None = None, aligned: bool = False, save_crops: str | Path | None = None,
                  annotate: str | Path | None = None, workers: int | None = None, batch_size: int = 64,
                  backend: str = "torch", min_face: int = 24, progress: bool = True,
                  explain=None) -> BatchReport:
    """Predict every face in files/folders/globs; write a table; optionally crops and annotated copies.

    Args:
        run_or_predictor: a run (name/folder/Run) or a ready :class:`Predictor` (or
            :class:`~facelab.predict.combined.CombinedPredictor`).
        sources: files, folders (searched recursively for images) and glob patterns.
        out: results file (``.csv``, ``.json`` or ``.parquet``); None: keep results in memory only.
        format: overrides the format implied by ``out``'s extension.
        aligned: photos are already framed like the dataset (skip detection).
        save_crops: folder for the aligned crops the model saw (``<photo>_face<i>.png``).
        annotate: folder for copies of the photos with boxes and labels drawn.
        workers: decoding/detection threads; batch_size: faces per classification batch.
        backend, min_face: see :meth:`Predictor.from_run`.
        explain: outputs to explain (``Smiling``, a list, ``all``, ``top``): a 16×16 map per face
            and output in the results (JSON), and with ``annotate`` the aligned face with its heat
            map beside the annotated copy (``photo.face0.explain-Smiling.png``).

    Returns:
        a :class:`BatchReport` (``results`` holds every :class:`PhotoResult`).
    """
    t0 = time.perf_counter()
    ready = hasattr(run_or_predictor, "predict_batch")  # a Predictor or a CombinedPredictor
    pred = run_or_predictor if ready else \
        Predictor.from_run(run_or_predictor, backend=backend, min_face=min_face)  # type: ignore[arg-type]
    from ..outputs import check_file, claim_folder

    if out is not None:
        _format(Path(out), format)  # a bad format fails before the work, not after
        check_file(out, what="results file", recognise=is_results_file)  # nor over a user's file
    wanted = pred.explain_outputs(explain)  # an unknown output or an ONNX-only backend fails here
    paths, problems, skipped = expand_sources(sources)
    if not paths and not problems:
        raise DataError(f"no photo found in {', '.join(map(str, sources)) or 'nothing'}",
                        path=", ".join(map(str, sources)) or None,
                        fix=f"give photo files, folders holding photos ({', '.join(sorted(IMAGE_EXTS))}) "
                            "or a glob such as 'shots/*.jpg'")
    crops_dir = claim_folder(save_crops, what="crops folder", option="--save-crops") if save_crops else None
    ann_dir = claim_folder(annotate, what="annotation folder", option="--annotate") if annotate else None
    used_c: set[str] = set()
    used_a: set[str] = set()
    results: list[PhotoResult] = list(problems)
    for r in pred.predict_batch(paths, aligned=aligned, workers=workers, batch_size=batch_size,
                                progress=progress, keep_crops=crops_dir is not None, explain=wanted or None):
        results.append(r)
        stem = Path(r.source).stem
        if crops_dir is not None:
            for f in r.faces:
                if f.crop is not None:
                    write_crop(f.crop, crops_dir / _unique(f"{stem}_face{f.index}.png", used_c))
                    f.crop = None  # do not keep every crop of a large folder in memory
        if ann_dir is not None and r.ok:
            name = _unique(f"{stem}.jpg", used_a)
            annotate_photo(r, ann_dir / name)
            stem = Path(name).stem  # the heat maps are named after the annotated copy
        if wanted:
            from ..explain.render import save_face_explanations

            save_face_explanations(r.faces, ann_dir, stem)  # then keeps the small maps only
    faces = sum(len(r.faces) for r in results)
    report = BatchReport(
        photos=len(results), faces=faces,
        classified=sum(f.classified for r in results for f in r.faces),
        no_face=sum(1 for r in results if r.ok and not r.faces),
        failed=[(r.source, r.error) for r in results if r.error], skipped_files=skipped,
        seconds=time.perf_counter() - t0, results=results)
    if out is not None:
        report.out = write_results(results, pred.classes, out, format=format,
                                   meta={"run": pred.name, "backend": pred.backend, "kind": pred.kind})
    return report
