"""Writing the prepared cache: decode every image once into a uint8 memmap (the reader side is
:mod:`facelab.data.prepared`, whose docstring is the format).

How ``prepare`` works, and why:

- Rows are decoded in chunks of :data:`CHUNK` images by worker processes
  (:mod:`facelab.data.cache_worker` explains why they are fresh processes, not forks); each
  decodes a chunk into a chunk-sized buffer and writes it into the images file with ``pwrite``,
  so no image array crosses a pipe and the parent never holds more than the manifest (memory
  stays flat as the dataset grows).
- Everything is written under ``<out>.partial/``. A finished chunk leaves ``chunks/NNNNNN.json``
  (its failures); an interrupted prepare run again with the same options skips those chunks.
- Images that fail to decode are dropped at the end (rows compacted in order), counted in
  ``meta["skipped"]`` and listed as ``Problem`` s in the manifest.
- ``meta.json`` with ``complete: true`` is written last, then the folder is renamed to ``<out>``:
  a cache folder either is complete or does not exist. Reuse checks it again (``images.u8``
  present with the size ``meta.json`` states); a damaged cache is prepared again.
- One prepare per cache at a time (:mod:`facelab.data.cache_lock`): a second one waits, saying
  which process holds the cache, then reuses what the first made.
- ``out`` is written only when it is absent, an empty folder or a facelab cache
  (:mod:`facelab.outputs`): a user's file or folder is refused, never replaced (``force`` too).
- A second call with the same options and an unchanged source (same label files, same folders:
  see :func:`source_fingerprint`) returns the existing cache without reading the source.

FER2013 ``fer2013.csv`` rows (``path`` = the csv, ``row`` column) are parsed straight from the
csv into the memmap with numpy, in slices, without Pillow.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import time
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import ConfigError, DataError
from ..outputs import MARKER, check_folder, mark_folder
from .cache_lock import cache_lock
from .cache_source import (csv_rows, read_csv_pixels, select_subset, source_fingerprint,
                           source_size_of, table_fingerprint)
from .cache_worker import (WorkerError, atomic_write, decode_chunk as _decode_chunk, run_pool, start_workers,
                           stop_workers, write_rows)
from .image import FULL_BOX, crop_box, resize_box
from .manifest import Manifest, Problem
from .prepared import IMAGES_FILE, META_FILE, PreparedDataset

log = logging.getLogger(__name__)

CHUNK = 512
POOL_MIN = 2048  # fewer images than this decode in-process: quicker than starting workers (~0.5 s)
FORMAT = 1
_STATE = "state.json"

def face_aligner(aligner):
    """The ``crop="detect"`` / ``"auto"`` machinery passed to :func:`prepare`, or a clear error.

    The aligner lives above the data layer (data imports nothing above it), so it is passed in:
    :func:`facelab.prepare` (``facelab.faces.prepare_align.prepare``) passes its module, an object
    with ``resolve_crop``, ``detect_options``, ``detect_geometry``, ``collect_faces``,
    ``check_faces``, ``detect_meta`` and ``WORKER`` (``"module:function"`` that a decoding worker
    calls with a chunk job).
    """
    if aligner is None:
        raise ConfigError("crop 'detect' / 'auto' needs the face aligner, which facelab.data.cache.prepare "
                          "is not given", fix="call facelab.prepare (facelab.faces.prepare_align.prepare)")
    return aligner


def _source_framing(layout: str, source_size, size: int, box) -> dict:
    """``{"framing": ...}`` for a dataset already in its frame (CelebA, FER2013); else nothing."""
    from .framing import source_framing

    rec = source_framing(layout, list(source_size), size, box)
    return {"framing": rec} if rec else {}


# -- csv rows (in the parent: the csv is read once) -------------------------------------------------
def _csv_chunk(job: dict, pixels: list) -> list:
    """FER2013 csv rows → images file, parsed with numpy (no per-image Pillow)."""
    s, c = job["size"], job["channels"]
    rows = np.asarray(job["rows"], dtype=np.int64)
    buf = np.zeros((len(rows), s, s, c), np.uint8)
    failures = []
    for j, (path, row, a) in enumerate(zip(job["paths"], job["csv_rows"], read_csv_pixels(pixels))):
        if isinstance(a, str) or a is None:
            failures.append([int(rows[j]), "bad_row", path, f"row {row}: {a or 'no such row'}"])
            continue
        box = crop_box("square", a.shape[::-1]) if job["box"] is None else tuple(job["box"])
        if box != FULL_BOX or a.shape[0] != s:
            a = resize_box(a, box, s)[:, :, 0]
        buf[j] = a[:, :, None] if c == 1 else a[:, :, None].repeat(3, axis=2)
    write_rows(job["images"], rows, buf)
    atomic_write(Path(job["done"]), json.dumps(failures))
    return failures


# -- prepare ---------------------------------------------------------------------------------------
def _options(size, crop, grey, limit, per_class, by, seed) -> dict:
    if not isinstance(size, (int, np.integer)) or not 4 <= int(size) <= 1024:
        raise ConfigError(f"size must be a whole number of pixels from 4 to 1024, not {size!r}",
                          fix="use e.g. --size 64")
    for name, v in (("limit", limit), ("per_class", per_class)):
        if v is not None and (not isinstance(v, (int, np.integer)) or v < 1):
            raise ConfigError(f"{name} must be a positive whole number, not {v!r}",
                              fix=f"use e.g. --{name.replace('_', '-')} 1000")
    crop = (crop or "square").strip().lower().replace(" ", "")
    return {"size": int(size), "crop": crop, "grey": bool(grey), "limit": limit,
            "per_class": per_class, "by": by, "seed": int(seed)}


def _default_out(root: Path, options: dict, extra: str = "", home=None) -> Path:
    from ..paths import prepared_root

    key = hashlib.sha1((str(root) + json.dumps(options, sort_keys=True) + extra).encode()).hexdigest()[:8]
    crop = options["crop"].replace(",", "_")
    name = f"{root.name or 'data'}-{key}-{options['size']}{'g' if options['grey'] else ''}-{crop}"
    return prepared_root(home) / name


def _is_cache(path: Path) -> bool:
    """A folder facelab prepared: the marker, a ``meta.json`` of the cache format, or the
    ``state.json`` of an unfinished ``.partial``."""
    if (path / _STATE).is_file() or (path / MARKER).is_file():
        return True
    meta = json.loads((path / META_FILE).read_text())
    return isinstance(meta, dict) and "format" in meta and "options" in meta


def _intact(out: Path, meta: dict) -> bool:
    """The last file is in place: ``images.u8`` exists with exactly the size meta.json states."""
    try:
        n, s, c = int(meta["n"]), int(meta["size"]), int(meta["channels"])
        return (out / IMAGES_FILE).stat().st_size == n * s * s * c
    except (OSError, KeyError, TypeError, ValueError):
        return False


def _reusable(out: Path, options: dict, fingerprint: str, say=lambda msg: None) -> bool:
    try:
        meta = json.loads((out / META_FILE).read_text())
    except (OSError, ValueError):
        return False
    same = bool(isinstance(meta, dict) and meta.get("complete") and meta.get("options") == options
                and meta.get("source", {}).get("fingerprint") == fingerprint)
    if same and not _intact(out, meta):
        say(f"{out} says it is complete but {IMAGES_FILE} is missing or the wrong size: preparing it again")
        return False
    return same


def prepare(data, *, size: int = 64, crop: str | None = None, grey: bool = False,
            limit: int | None = None, per_class: int | None = None, by: str | None = None,
            seed: int = 0, workers: int | None = None, out=None, progress: bool = True,
            force: bool = False, detector: str | None = None, no_face: str = "skip",
            several: str = "largest", runner=None, aligner=None, home=None) -> PreparedDataset:
    """Decode a dataset once into a prepared cache (uint8 memmap + manifest + meta.json).

    Args:
        data: a source folder (read with :func:`facelab.data.readers.read_source`) or a Manifest.
        size: output side in pixels.
        crop: ``square`` (default), ``face``, ``full`` or pixels ``"x0,y0,x1,y1"``; see
            :func:`facelab.data.image.crop_box` and ``docs/cache.md``.
        grey: one luminance channel instead of RGB.
        limit: keep a seeded random subset of this many images, stratified by split.
        per_class: at most this many training images per class of ``by``; val/test keep their
            class mix, shrunk in proportion to the training split.
        by: the label column for ``per_class`` (default: the dataset's class column; CelebA
            needs one, e.g. ``"Smiling"``).
        seed: seed of the subset selection.
        workers: decoding processes (default: all cores).
        out: the cache folder (default: under ``facelab.paths.prepared_root()``).
        progress: show a progress bar and log what is done (``logging``; the CLI shows it).
        force: rebuild even when a matching cache exists.
        detector, no_face, several: with ``crop="detect"`` (faces detected and aligned as
            ``predict`` aligns them; ``crop="auto"`` chooses it for folders of photos): the
            detector, and what becomes of photos with no face (``skip``/``keep``) or several
            (``largest``/``skip``); see :mod:`facelab.faces.prepare_align`.
        runner: decodes the chunk jobs instead of the local worker processes (same signature as
            the local runner: ``jobs, done, n, workers, progress, procs`` -> every failure). The
            scale-out layer injects one: :func:`facelab.scale.prepare.prepare_spark` decodes the
            same chunks on Spark executors, into the same files.
        aligner: the face aligner behind ``crop="detect"``/``"auto"`` (:func:`face_aligner`);
            :func:`facelab.prepare` passes it.
        home: facelab's working folder, for the default ``out`` (default ``$FACELAB_HOME``).

    Returns:
        The :class:`PreparedDataset`; ``ds.meta["skipped"]`` counts images that failed to decode.

    Example:
        >>> import tempfile
        >>> from facelab.data.synth import synthesize
        >>> tmp = Path(tempfile.mkdtemp())
        >>> root = synthesize(tmp / "celeba", kind="celeba", n=20)
        >>> ds = prepare(root, size=32, limit=10, out=tmp / "cache", workers=1, progress=False)
        >>> ds.images.shape
        (10, 32, 32, 3)
    """
    t0 = time.perf_counter()
    say = log.info if progress else (lambda msg: None)
    if str(crop or "").strip().lower() in ("auto", "detect"):
        crop = face_aligner(aligner).resolve_crop(data, str(crop).strip().lower(), say)
    options = _options(size, crop, grey, limit, per_class, by, seed)
    if options["crop"] == "detect":
        options.update(face_aligner(aligner).detect_options(detector, no_face, several))

    if isinstance(data, Manifest):
        manifest, root = data, Path(data.root)
        fingerprint = table_fingerprint(data.table)
        out = Path(out).expanduser() if out else _default_out(root, options, fingerprint, home)
    else:
        root = Path(data).expanduser()
        if not root.exists():
            raise DataError(f"{root} does not exist", path=root,
                            fix="give the folder of a CelebA, FER2013 or image-folder dataset")
        root = root.resolve()
        manifest = None
        fingerprint = source_fingerprint(root)
        out = Path(out).expanduser() if out else _default_out(root, options, home=home)
    out = out.absolute()
    check_folder(out, what="cache folder", recognise=_is_cache)  # a user's path: refused, even with force

    if not force and _reusable(out, options, fingerprint):
        say(f"reusing {out} (same options, source unchanged; --force rebuilds)")
        return PreparedDataset.open(out)

    try:
        with cache_lock(out, say=say):
            if not force and _reusable(out, options, fingerprint, say):  # another prepare made it meanwhile
                say(f"reusing {out} (prepared by another process while this one waited)")
                return PreparedDataset.open(out)
            check_folder(out, what="cache folder", recognise=_is_cache)
            return _build(out, root, manifest, fingerprint, options, workers, progress, force, say, t0, runner,
                          aligner)
    except OSError as e:
        import errno

        from ..outputs import write_error

        full = write_error(e, out, "cache folder")  # a full disk: the WriteError every writer raises
        if full is not None:
            full.fix = "free disk space or choose another folder with --out (an interrupted prepare resumes " \
                       "when run again)"
            raise full from None
        if e.errno in (errno.EACCES, errno.EROFS, errno.EPERM):
            raise DataError(f"cannot write the cache in {out.parent}: {e.strerror}", path=e.filename or out,
                            fix="free disk space or choose a writable folder with --out "
                                "(an interrupted prepare resumes when run again)") from None
        raise


def _build(out: Path, root: Path, manifest, fingerprint: str, options: dict, workers, progress: bool,
           force: bool, say, t0: float, runner=None, aligner=None) -> PreparedDataset:
    """Read (if needed), select, decode, compact, write meta, rename: the work behind prepare."""
    procs = []
    try:
        if manifest is None:
            from .readers import read_source

            n_workers = max(1, int(workers or os.cpu_count() or 1))
            limit = options["limit"]
            if runner is None and n_workers > 1 and not (limit and limit < POOL_MIN):
                procs = start_workers(n_workers)  # their imports overlap with reading the source
            manifest = read_source(root)
        return _decode_and_write(out, root, manifest, fingerprint, options, workers, progress, force,
                                 say, t0, procs, runner, aligner)
    finally:
        stop_workers(procs, now=True)  # a no-op when the pool used and stopped them


def _decode_and_write(out: Path, root: Path, manifest, fingerprint: str, options: dict, workers,
                      progress: bool, force: bool, say, t0: float, procs: list, runner=None,
                      aligner=None) -> PreparedDataset:
    selected, subset_note = select_subset(manifest, limit=options["limit"], per_class=options["per_class"],
                                          by=options["by"], seed=options["seed"])
    table = selected.table
    if len(table) == 0:
        raise DataError(f"{root} has no images to prepare", path=root,
                        fix="check the source with `facelab data info`")

    detect = options["crop"] == "detect"
    if detect:  # the face square of the LFW framing's frame, as predict's align reproduces it
        aligner = face_aligner(aligner)
        geometry = aligner.detect_geometry(options["size"], options["grey"], options["detector"])
        source_size, box = tuple(geometry["source_size"]), tuple(geometry["crop_box"])
    else:
        source_size = source_size_of(table) or (options["size"], options["size"])
        box = crop_box(options["crop"], source_size)
    # "square" is the centred square of each image (sources with mixed sizes stay undistorted);
    # meta records it for the typical source size.
    job_box = None if options["crop"] == "square" else box
    s, c, n = options["size"], 1 if options["grey"] else 3, len(table)
    partial = out.with_name(out.name + ".partial")
    state = {"options": options, "fingerprint": fingerprint, "n": n, "chunk": CHUNK,
             "rows": table_fingerprint(table[["path"]])}
    check_folder(partial, what="cache folder", recognise=_is_cache)
    if force or not _same_state(partial, state):
        shutil.rmtree(partial, ignore_errors=True)
    (partial / "chunks").mkdir(parents=True, exist_ok=True)
    mark_folder(partial, "cache folder")  # renamed with it: the cache says it is facelab's
    atomic_write(partial / _STATE, json.dumps(state))
    images = partial / IMAGES_FILE
    if not images.is_file() or images.stat().st_size != n * s * s * c:
        with open(images, "wb") as f:
            f.truncate(n * s * s * c)  # sparse: the workers fill it in place

    jobs, done = _jobs(table, partial, images, n, s, c, job_box, options["grey"])
    if detect:
        for j in jobs:
            j["detect"] = {"geometry": geometry, "detector": options["detector"], "no_face": options["no_face"],
                           "several": options["several"], "worker": aligner.WORKER}
    t_decode = time.perf_counter()
    failures = (runner or _run)(jobs, done, n, workers, progress, procs)
    t_decode = time.perf_counter() - t_decode
    n_decoded = sum(len(j["rows"]) for j in jobs)
    if detect:
        faces = aligner.collect_faces(partial / "chunks", n)
        aligner.check_faces(faces, failures, n, root, say)
    if len(failures) == n:
        reasons = _count(failures)
        raise DataError(f"none of the {n} images of {root} could be decoded ({_fmt(reasons)})",
                        path=failures[0][2], fix="check the files: " + failures[0][3].splitlines()[0])
    keep = _compact(images, n, s, c, sorted(f[0] for f in failures))

    kept = selected.table.iloc[keep].reset_index(drop=True)
    if detect:  # each kept photo: how many faces, and the face chosen (the manifest lists them)
        for k, v in faces.items():
            kept[k] = v[keep]
    problems = list(selected.problems) + [Problem(kind=f[1], path=f[2], detail=f[3]) for f in failures]
    notes = list(selected.notes) + ([subset_note] if subset_note else [])
    Manifest(kept, selected.root, selected.layout, selected.labels, selected.attributes,
             problems, notes).save(partial)
    seconds = time.perf_counter() - t0
    meta = {
        "format": FORMAT, "n": int(len(kept)), "size": s, "channels": c, "grey": options["grey"],
        "crop": options["crop"], "crop_box": [round(v, 6) for v in box],
        "crop_box_px": [round(v * source_size[i % 2], 2) for i, v in enumerate(box)],
        "source_size": list(source_size), "channel_order": "RGB" if c == 3 else "L",
        "resize": "JPEG DCT-scaled decode (1/2, 1/4, 1/8 while the box keeps >= size pixels), box "
                  "rounded to whole pixels, cv2.INTER_LINEAR below 2x shrink, cv2.INTER_AREA from 2x",
        "source": {"root": str(root), "layout": selected.layout, "fingerprint": fingerprint,
                   "images": len(manifest), "problems": manifest.problem_counts()},
        "options": options, "subset": subset_note, "skipped": _count(failures),
        "seconds": round(seconds, 3), "images_per_s": round(n / max(seconds, 1e-9), 1),
        "decode_seconds": round(t_decode, 3), "decode_images_per_s": round(n_decoded / max(t_decode, 1e-9), 1),
        "resumed_images": n - n_decoded,
        **(aligner.detect_meta(options, faces, keep) if detect else _source_framing(selected.layout,
                                                                                    source_size, s, box)),
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "complete": True,
    }
    shutil.rmtree(partial / "chunks", ignore_errors=True)
    (partial / _STATE).unlink(missing_ok=True)
    if not _intact(partial, meta):  # never mark complete a cache whose images are not all there
        raise DataError(f"{partial / IMAGES_FILE} is missing or the wrong size after decoding", path=partial,
                        fix="run the same command again (finished chunks are kept)")
    atomic_write(partial / META_FILE, json.dumps(meta, indent=1))
    if out.exists():
        check_folder(out, what="cache folder", recognise=_is_cache)
        trash = out.with_name(out.name + f".old-{os.getpid()}")
        os.replace(out, trash)
        shutil.rmtree(trash, ignore_errors=True)
    os.replace(partial, out)
    say(f"prepared {len(kept)} images into {out} in {seconds:.1f} s"
        + (f"; skipped {_fmt(meta['skipped'])}" if failures else ""))
    return PreparedDataset.open(out)


def _same_state(partial: Path, state: dict) -> bool:
    try:
        return json.loads((partial / _STATE).read_text()) == state
    except (OSError, ValueError):
        return False


def _count(failures: list) -> dict[str, int]:
    out: dict[str, int] = {}
    for f in failures:
        out[f[1]] = out.get(f[1], 0) + 1
    return out


def _fmt(counts: dict[str, int]) -> str:
    return ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in sorted(counts.items()))


def _jobs(table, partial: Path, images: Path, n: int, s: int, c: int, box, grey: bool):
    """Split rows into chunks; return (pending jobs, failures of chunks already done).

    Image rows: chunks of CHUNK consecutive rows. csv rows: one chunk per CHUNK-row block of the
    csv file, so that the csv is read block by block, in one pass."""
    paths = table["path"].astype(str).to_numpy()
    is_csv = csv_rows(table)
    base = {"images": str(images), "n": n, "size": s, "channels": c, "grey": grey,
            "box": None if box is None else list(box)}
    groups = []
    rows = np.flatnonzero(~is_csv)
    for start in range(0, len(rows), CHUNK):
        part = rows[start:start + CHUNK]
        groups.append((f"img-{int(part[0]):08d}", "img", part))
    rows = np.flatnonzero(is_csv)
    if len(rows):
        csv_row = table["row"].to_numpy()[rows].astype(np.int64)
        csv_id = pd.factorize(paths[rows])[0]
        key = csv_id * (1 << 40) + csv_row // CHUNK
        for k in np.unique(key):
            part = rows[key == k]
            groups.append((f"csv-{int(k >> 40)}-{int(k & ((1 << 40) - 1)):08d}", "csv", part))
    jobs, done = [], []
    for name, kind, part in groups:
        marker = partial / "chunks" / f"{name}.json"
        if marker.is_file():
            try:
                done.extend(json.loads(marker.read_text()))
                continue
            except ValueError:
                pass  # a marker cut short: redo the chunk
        job = dict(base, k=int(part[0]), kind=kind, rows=part.tolist(), paths=paths[part].tolist(),
                   done=str(marker))
        if kind == "csv":
            job["csv_rows"] = table["row"].to_numpy()[part].astype(int).tolist()
        jobs.append(job)
    return jobs, done


def _run(jobs: list[dict], done: list, n: int, workers: int | None, progress: bool, procs=None) -> list:
    from tqdm.auto import tqdm

    failures = list(done)
    finished = n - sum(len(j["rows"]) for j in jobs)
    bar = tqdm(total=n, initial=finished, unit="img", desc="prepare", disable=None if progress else True,
               dynamic_ncols=True, smoothing=0.1)
    img_jobs = [j for j in jobs if j["kind"] == "img"]
    try:
        for job, pixels in _csv_blocks([j for j in jobs if j["kind"] == "csv"]):
            failures.extend(_csv_chunk(job, pixels))
            bar.update(len(job["rows"]))
        workers = max(1, int(workers or os.cpu_count() or 1))
        if workers == 1 or len(img_jobs) <= 1 or sum(len(j["rows"]) for j in img_jobs) < POOL_MIN:
            import cv2

            threads = cv2.getNumThreads()
            cv2.setNumThreads(1)  # tiny images: OpenCV's own threads cost more than they give
            try:
                for job in img_jobs:
                    failures.extend(_decode_chunk(job)[1])
                    bar.update(len(job["rows"]))
            finally:
                cv2.setNumThreads(threads)  # the caller's setting
        else:
            def done(job: dict, chunk_failures: list) -> None:
                failures.extend(chunk_failures)
                bar.update(len(job["rows"]))

            run_pool(img_jobs, workers, done, procs)
    except WorkerError as e:
        raise DataError(f"{e} (out of memory, or killed?)",
                        fix="run the same command again (finished chunks are kept); add --workers 1 "
                            "if it happens again") from None
    except KeyboardInterrupt:
        if progress:
            log.warning("interrupted after %d of %d images: run the same command again to resume", bar.n, n)
        raise
    finally:
        bar.close()
    return failures


def decode_csv_jobs(jobs: list[dict]) -> list:
    """Decode the CSV-pixel jobs here (they are cheap: parsing, no image decoding); the failures."""
    failures = []
    for job, pixels in _csv_blocks([j for j in jobs if j["kind"] == "csv"]):
        failures.extend(_csv_chunk(job, pixels))
    return failures


def _csv_blocks(jobs: list[dict]):
    """Yield (job, pixels strings of its rows), reading each csv once, CHUNK rows at a time."""
    by_file: dict[str, dict[int, dict]] = {}
    for j in jobs:
        by_file.setdefault(j["paths"][0], {})[j["csv_rows"][0] // CHUNK] = j
    for path, blocks in by_file.items():
        try:
            reader = pd.read_csv(path, usecols=["pixels"], dtype={"pixels": str}, chunksize=CHUNK)
            seen = set()
            for b, df in enumerate(reader):
                if b in blocks:
                    col = df["pixels"].to_numpy()
                    job = blocks[b]
                    seen.add(b)
                    yield job, [col[r - b * CHUNK] if r - b * CHUNK < len(col) else None
                                for r in job["csv_rows"]]
        except (OSError, ValueError) as e:
            raise DataError(f"cannot read the pixels column of {path}: {e}", path=path,
                            fix="check that it is the FER2013 csv (emotion,pixels,Usage)") from None
        for b in sorted(set(blocks) - seen):  # rows past the end of the file
            yield blocks[b], [None] * len(blocks[b]["rows"])


def _compact(images: Path, n: int, s: int, c: int, bad: list[int]) -> np.ndarray:
    """Drop failed rows, keeping order; returns the kept row indices. Idempotent on resume:
    a file already the compacted size is left alone."""
    keep = np.setdiff1d(np.arange(n), np.asarray(bad, dtype=np.int64))
    if not bad:
        return keep
    row = s * s * c
    if images.stat().st_size == len(keep) * row:
        return keep  # compacted before an interruption
    tmp = images.with_name(images.name + ".compact")
    src = np.memmap(images, dtype=np.uint8, mode="r", shape=(n, row))
    with open(tmp, "wb") as f:
        f.truncate(len(keep) * row)
    dst = np.memmap(tmp, dtype=np.uint8, mode="r+", shape=(len(keep), row))
    for a in range(0, len(keep), 4096):  # bounded memory: one slice at a time
        dst[a:a + 4096] = src[keep[a:a + 4096]]
    dst.flush()
    del src, dst
    os.replace(tmp, images)
    return keep
