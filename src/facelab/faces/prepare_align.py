"""Photos aligned at prepare (``facelab data prepare PHOTOS --crop detect``).

A folder of photos (a face ~40% of the frame, sometimes with other people) is cached as faces
framed exactly as ``predict`` frames them: each photo → faces detected (the default detector,
MTCNN) → the chosen face (the largest) → :func:`facelab.faces.align.align` with the geometry
recorded in the cache's meta (:func:`detect_geometry`: the five-point template's frame and its
``framing`` record). A run trained on the cache copies that geometry and record into its
``input.json``, so ``predict`` crops new photos the same way.

Photos with no face are skipped (``--no-face skip``, default; listed as ``no_face`` problems of
the manifest) or kept as their centred square (``--no-face keep``); photos with several faces keep
the largest (``--several largest``, default) or are skipped (``--several skip``). Every kept row
records ``n_faces`` and the chosen box (``face_x``, ``face_y``, ``face_w``, ``face_angle``) in the
manifest.

:func:`looks_like_photos` is the cheap check behind ``--crop auto``: a few images through the
default detector; photos whose faces fill well under the frame are photos, not face crops.

Example:
    >>> g = detect_geometry(64, False)
    >>> g["source_size"], [round(v, 3) for v in g["crop_box"]]
    ([250, 250], [0.154, 0.15, 0.852, 0.847])
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from ..data import cache
from ..errors import DataError
from .align import LFW, align

#: The cached face's side, in Haar-box sides (the face box is 1/1.6 of the crop: some hair and
#: chin, as the CelebA "square" crop has 1/1.76).
CROP_SIDES = 1.6
NO_FACE = ("skip", "keep")
SEVERAL = ("largest", "skip")


def detect_geometry(size: int, grey: bool, detector: str = "haar") -> dict:
    """The cache geometry of a ``--crop detect`` cache (what ``align`` reproduces at predict time).

    With the template's detector (``mtcnn``): the CelebA frame placed by the five landmarks
    (:mod:`facelab.faces.template`, frame ``photo``) and its centred square — a photo prepared
    this way is framed like a CelebA ``square`` crop; the record is the geometry's ``framing``.
    With another detector: the LFW framing's 250×250 frame and the face's square in it.
    """
    from .template import FRAMES, TEMPLATE_DETECTOR, framing_record

    if detector == TEMPLATE_DETECTOR:
        w, h = FRAMES["photo"].source_size
        box = [0.0, round((h - w) / 2 / h, 6), 1.0, round((h + w) / 2 / h, 6)]
        return {"size": int(size), "grey": bool(grey), "channels": 1 if grey else 3, "crop_box": box,
                "source_size": [w, h], "layout": "folder",
                "framing": framing_record("photo", size=size, crop_box=box, detector=detector)}
    half = CROP_SIDES / LFW.width / 2
    cx, cy = 0.5 - LFW.dx / LFW.width, 0.5 - LFW.dy / LFW.width  # the face centre in the frame
    box = [cx - half, cy - half, cx + half, cy + half]
    return {"size": int(size), "grey": bool(grey), "channels": 1 if grey else 3,
            "crop_box": [round(v, 6) for v in box], "source_size": list(LFW.source_size), "layout": "folder"}


def faces_file(marker: str | Path) -> Path:
    m = Path(marker)
    return m.with_name(m.stem + ".faces.json")


def detect_chunk(job: dict) -> tuple[int, list]:
    """The ``--crop detect`` twin of :func:`facelab.data.cache_worker.decode_chunk`.

    Writes the aligned faces into the images file, the per-row face records beside the chunk's
    marker, then the marker (failures: unreadable photos, and photos skipped for their faces).
    """
    from ..data.cache_worker import atomic_write, write_rows
    from ..data.image import ImageError, crop_box, decode_crop_resize, load_image
    from .detect import get_detector

    s, c = job["size"], job["channels"]
    spec = job["detect"]["geometry"]
    det = get_detector(job["detect"]["detector"], **job["detect"].get("params", {}))
    no_face, several = job["detect"]["no_face"], job["detect"]["several"]
    rows = np.asarray(job["rows"], dtype=np.int64)
    buf = np.zeros((len(rows), s, s, c), np.uint8)
    failures, faces = [], []
    for j, path in enumerate(job["paths"]):
        rec = {"n_faces": 0, "face_x": None, "face_y": None, "face_w": None, "face_angle": None}
        try:
            img = load_image(path)
            boxes = det.detect(img)
            rec["n_faces"] = len(boxes)
            if not boxes:
                if no_face == "skip":
                    failures.append([int(rows[j]), "no_face", path, "no face found (--no-face keep keeps it)"])
                else:
                    buf[j] = decode_crop_resize(path, size=s, crop_box=crop_box("square", img.shape[1::-1]),
                                                grey=job["grey"])
            elif len(boxes) > 1 and several == "skip":
                failures.append([int(rows[j]), "several_faces", path,
                                 f"{len(boxes)} faces (--several largest keeps the largest)"])
            else:
                b = boxes[0]  # largest first
                rec.update(face_x=round(b.x, 2), face_y=round(b.y, 2), face_w=round(b.size, 2),
                           face_angle=round(b.angle, 2))
                buf[j] = align(img, b, spec)
        except ImageError as e:
            failures.append([int(rows[j]), e.reason, path, e.message])
        except Exception as e:  # a worker: a detector or decoder bug costs one photo, not the whole prepare
            failures.append([int(rows[j]), "corrupt_image", path, f"{type(e).__name__}: {e}"])
        faces.append(rec)
    write_rows(job["images"], rows, buf)
    atomic_write(faces_file(job["done"]), json.dumps(faces))
    atomic_write(Path(job["done"]), json.dumps(failures))
    return job["k"], failures


def collect_faces(chunks: Path, n: int) -> dict[str, np.ndarray]:
    """The per-row face records of all chunks (rows in cache order before compaction)."""
    cols = {k: np.full(n, np.nan) for k in ("n_faces", "face_x", "face_y", "face_w", "face_angle")}
    for f in sorted(chunks.glob("*.faces.json")):
        start = int(f.name.split(".")[0].split("-")[-1])
        for i, rec in enumerate(json.loads(f.read_text())):
            for k, v in rec.items():
                cols[k][start + i] = np.nan if v is None else float(v)
    return cols


def looks_like_photos(paths: list[str], sample: int = 12, seed: int = 0) -> tuple[bool, str]:
    """The cheap check behind ``--crop auto``: True when the images are photos with a face in them
    (faces found, filling under 60% of the shorter side), False for face crops or no faces.

    Returns (photos?, the reason, said to the user).
    """
    from ..data.image import load_image
    from .detect import get_detector

    rng = np.random.default_rng(seed)
    pick = [paths[i] for i in rng.choice(len(paths), min(sample, len(paths)), replace=False)]
    det = get_detector()
    fills, none = [], 0
    for p in pick:
        try:
            img = load_image(p)
        except DataError:  # unreadable: prepare reports it
            continue
        if min(img.shape[:2]) < 96:  # FER-like crops: too small to be photos of people
            return False, f"images of {img.shape[1]}x{img.shape[0]} px are face crops"
        boxes = det.detect(img)
        if not boxes:
            none += 1
            continue
        fills.append(boxes[0].size / min(img.shape[:2]))
    if not fills:
        return False, f"no face found in {len(pick)} sampled images"
    fill = float(np.median(fills))
    if fill >= 0.6:
        return False, f"faces fill {fill:.0%} of the sampled images: already face crops"
    return True, (f"faces fill {fill:.0%} of the sampled images ({none} of {len(pick)} without a face): "
                  "photos, so faces are detected and aligned")


def detect_options(detector: str | None, no_face: str, several: str) -> dict:
    """The options that key a ``--crop detect`` cache (checked here: bad ones fail before work;
    no detector: :data:`~facelab.faces.detect.DEFAULT_DETECTOR`)."""
    from ..errors import ConfigError
    from .detect import DEFAULT_DETECTOR, get_detector

    detector = detector or DEFAULT_DETECTOR

    if no_face not in NO_FACE:
        raise ConfigError(f"unknown --no-face {no_face!r}", fix="use --no-face skip or --no-face keep")
    if several not in SEVERAL:
        raise ConfigError(f"unknown --several {several!r}", fix="use --several largest or --several skip")
    get_detector(detector)  # an unknown name, or dlib without the extra, fails now
    return {"detector": detector, "no_face": no_face, "several": several}


def _sample_paths(root: Path, limit: int = 400) -> list[str]:
    from ..data.readers._common import is_image_name

    out = []
    for p in sorted(root.rglob("*")):
        if p.is_file() and is_image_name(p.name):
            out.append(str(p))
            if len(out) >= limit:
                break
    return out


def resolve_crop(data, crop: str, say) -> str:
    """``detect`` stays; ``auto`` becomes ``detect`` for a folder of photos (the cheap check of
    :func:`looks_like_photos`), else ``square`` — and says which was chosen and why."""
    if crop == "detect":
        return crop
    from ..data.manifest import Manifest

    if isinstance(data, Manifest):
        layout, paths = data.layout, data.table["path"].astype(str).tolist()[:400]
    else:
        from ..data.readers import detect_layout

        root = Path(data).expanduser()
        try:
            layout = detect_layout(root)
        except DataError:
            return "square"  # prepare itself says what is wrong with the source
        paths = _sample_paths(root) if layout == "folder" else []
    if layout != "folder" or not paths:
        say(f"crop: square ({layout} layout: images are already framed)")
        return "square"
    photos, why = looks_like_photos(paths)
    chosen = "detect" if photos else "square"
    say(f"crop: {chosen} ({why}; --crop square or --crop detect overrides)")
    return chosen


def check_faces(faces: dict, failures: list, n: int, root, say) -> None:
    """Say how many photos had no face or several; when most had none, say so and suggest
    ``--crop full`` (raise when none had one)."""
    from ..errors import DataError

    nf = faces["n_faces"]
    none, several = int(np.sum(nf == 0)), int(np.sum(nf >= 2))
    if none == n:
        raise DataError(f"no face was found in any of the {n} images of {root}", path=root,
                        fix="these are not photos of faces the detector can find: prepare with --crop full "
                            "(or --crop square)")
    if none > n / 2:
        say(f"warning: no face found in {none} of {n} photos (most of them): if the images are not photos of "
            "people, prepare with --crop full")
    elif none or several:
        say(f"faces: {none} photos without a face, {several} with several (listed in the manifest: "
            "`facelab data info CACHE`)")


def detect_meta(options: dict, faces: dict, keep) -> dict:
    """What a ``--crop detect`` cache's meta.json records: the detector, the geometry and the counts."""
    nf = faces["n_faces"]
    geometry = detect_geometry(options["size"], options["grey"], options["detector"])
    framing = geometry.get("framing") or {
        "dx": LFW.dx, "dy": LFW.dy, "width": LFW.width, "source_size": list(LFW.source_size), "crop_sides": CROP_SIDES}
    return {"detector": options["detector"], "layout_framing": "template" if "framing" in geometry else "lfw",
            "framing": framing,
            "faces": {"photos": int(len(nf)), "one": int(np.sum(nf == 1)), "none": int(np.sum(nf == 0)),
                      "several": int(np.sum(nf >= 2)), "kept": int(len(keep)),
                      "no_face": options["no_face"], "several_policy": options["several"]}}


#: what a decoding worker calls with a ``--crop detect`` chunk job (workers take JSON jobs)
WORKER = f"{__name__}:detect_chunk"


def prepare(data, **options):
    """:func:`facelab.data.cache.prepare` with this module as its face aligner, so that
    ``crop="detect"`` / ``"auto"`` work (the data layer imports nothing above it).

    Example:
        >>> import inspect
        >>> "aligner" in inspect.signature(cache.prepare).parameters
        True
    """
    options.setdefault("aligner", sys.modules[__name__])
    return cache.prepare(data, **options)


__all__ = ["CROP_SIDES", "NO_FACE", "SEVERAL", "WORKER", "check_faces", "collect_faces", "detect_chunk",
           "detect_geometry", "detect_meta", "detect_options", "faces_file", "looks_like_photos", "prepare",
           "resolve_crop"]
