"""Photos → faces → 128-D identity descriptors (dlib's ResNet), batched and across processes.

A descriptor is computed on dlib's own 150×150 face chip — the framing the network was trained on:
the detector's box, dlib's 5-point landmarks (the detector's own points when it is dlib's, else
dlib's shape predictor run on the box), ``dlib.get_face_chip``. With ``mirror=True`` (the default)
the chip and its mirror image are both embedded and their descriptors averaged. Every descriptor is
scaled to unit length, so distances lie in 0–2 whatever the options.

The network is dlib's, run by default as converted by :mod:`facelab.faces.dlibnet` (ONNX Runtime or
torch, ~10x faster than dlib's CPU build, same descriptors to 1e-6), else by dlib itself; which one
ran does not change the descriptor, so it is not part of the framing.

How a descriptor was made is its :class:`Framing` (model, detector, chip, mirror): descriptors of
different framings are not comparable, and a gallery refuses faces embedded otherwise.

Example:
    >>> Framing("haar").to_dict()["chip"]
    'dlib-5pt-150'
    >>> emb = Embedder(detector="haar")
    >>> emb.framing.describe()
    'dlib ResNet on dlib-5pt-150 chips, haar detector, mirror-averaged'
    >>> emb.descriptors([np.zeros((150, 150, 3), np.uint8)]).shape
    (1, 128)
"""
from __future__ import annotations

import logging
import multiprocessing as mp
import os
import sys
import threading
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Callable, Iterable, Sequence

import numpy as np

from ..errors import ConfigError, FacelabError
from ..faces.detect import DEFAULT_DETECTOR, FaceBox

log = logging.getLogger(__name__)

MODEL = "dlib_face_recognition_resnet_model_v1"
#: dlib's chip placed by dlib's 5-point shape predictor run on the detector's box.
CHIP = "dlib-5pt-150"
#: dlib's chip framing placed by the detector's own five landmarks (MTCNN's), without the shape
#: predictor (:func:`facelab.faces.dlibface.landmark_chip`).
LANDMARK_CHIP = "landmark-5pt-150"
#: Both chips of a face, their descriptors averaged (twice the network work of one chip): the default
#: for detectors that give five landmarks. On lfw_more's validation people (mirror-averaged) it
#: scored 99.32% 10-fold accuracy, EER 0.72%, against 99.17% / 0.87% for :data:`CHIP` alone and
#: 99.10% / 0.78% for :data:`LANDMARK_CHIP` alone (bench/identity_chips.py compare).
BOTH_CHIPS = "dlib-5pt+landmark-5pt-150"
CHIPS = (CHIP, LANDMARK_CHIP, BOTH_CHIPS)
DIM = 128
#: Photos per task of the process pool (one batched network call per task).
CHUNK = 16
#: Below this many photos the pool costs more (spawn + imports) than it saves.
POOL_MIN = 24
#: Who runs dlib's network (:class:`Embedder` ``network=``).
NETWORKS = ("auto", "converted", "dlib")


def default_chip(detector: str) -> str:
    """:data:`BOTH_CHIPS` for a detector that gives five landmarks (``mtcnn``), else :data:`CHIP`.

    Example:
        >>> default_chip("haar")
        'dlib-5pt-150'
    """
    from ..faces.detect import DETECTORS

    try:
        cls = DETECTORS.get(detector)
    except Exception:  # an unknown name: the detector's own error comes when it is built
        return CHIP
    return BOTH_CHIPS if getattr(cls, "five_landmarks", False) else CHIP


@dataclass(frozen=True)
class Framing:
    """How a descriptor was made: network, detector, chip and mirror averaging (``chip`` left out:
    :func:`default_chip` of the detector).

    Example:
        >>> Framing("haar") == Framing.from_dict(Framing("haar").to_dict())
        True
    """

    detector: str
    mirror: bool = True
    model: str = MODEL
    chip: str | None = None

    def __post_init__(self):
        if self.chip is None:
            object.__setattr__(self, "chip", default_chip(self.detector))

    def to_dict(self) -> dict:
        return {"model": self.model, "detector": self.detector, "chip": self.chip, "mirror": self.mirror}

    @classmethod
    def from_dict(cls, d: dict) -> "Framing":
        return cls(detector=str(d["detector"]), mirror=bool(d["mirror"]), model=str(d["model"]),
                   chip=str(d["chip"]))

    def describe(self) -> str:
        """One line: ``dlib ResNet on dlib-5pt-150 chips, haar detector, mirror-averaged``."""
        return (f"dlib ResNet on {self.chip} chips, {self.detector} detector"
                + (", mirror-averaged" if self.mirror else ""))


@dataclass
class FaceEmbedding:
    """One face of a photo: its index (0 = largest), box and unit-length descriptor."""

    index: int
    box: FaceBox
    vector: np.ndarray
    thumb: bytes | None = field(default=None, repr=False)  # the chip as a small JPEG (galleries show it)

    def to_dict(self, vector: bool = False) -> dict:
        d = {"face": self.index, "box": [round(float(v), 1) for v in (self.box.x, self.box.y, self.box.w, self.box.h)],
             "score": round(float(self.box.score), 4)}
        if vector:
            d["embedding"] = [round(float(v), 6) for v in self.vector]
        return d


@dataclass
class PhotoFaces:
    """The faces of one photo, or why there are none (``error``: unreadable; no faces: no face found)."""

    path: str
    faces: list[FaceEmbedding] = field(default_factory=list)
    error: str | None = None
    too_small: int = 0

    @property
    def status(self) -> str:
        """``ok``, ``several`` (more than one face), ``no_face`` or ``error``."""
        if self.error:
            return "error"
        if not self.faces:
            return "no_face"
        return "several" if len(self.faces) > 1 else "ok"

    def to_dict(self) -> dict:
        return {"file": self.path, "status": self.status, "error": self.error, "too_small": self.too_small,
                "faces": [f.to_dict() for f in self.faces]}


THUMB = 80  # side of the face thumbnails kept in galleries (pixels)


def thumbnail(chip: np.ndarray, side: int = THUMB) -> bytes:
    """A face chip as a small JPEG (a few kB).

    Example:
        >>> thumbnail(np.zeros((150, 150, 3), np.uint8))[:2]
        b'\\xff\\xd8'
    """
    import cv2

    small = cv2.resize(np.ascontiguousarray(chip), (side, side), interpolation=cv2.INTER_AREA)
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(small, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 85])
    return buf.tobytes()


def unit(v: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero).

    Example:
        >>> [round(float(v), 3) for v in unit(np.array([[3.0, 4.0]]))[0]]
        [0.6, 0.8]
    """
    v = np.asarray(v, np.float32)
    n = np.linalg.norm(v, axis=-1, keepdims=True)
    return (v / np.where(n > 0, n, 1)).astype(np.float32)


class Embedder:
    """Photos → faces → descriptors with one :class:`Framing`.

    Args:
        detector: face detector name (default :data:`facelab.faces.detect.DEFAULT_DETECTOR`).
        mirror: average the descriptors of the chip and its mirror image.
        chip: :data:`CHIP`, :data:`LANDMARK_CHIP` or :data:`BOTH_CHIPS` (default: :func:`default_chip`
            of the detector).
        min_face: faces whose box side is below this many pixels are not embedded (counted).
        workers: processes for :meth:`embed_paths` (1: in this process).
        thumbs: keep a small JPEG of each face chip (:attr:`FaceEmbedding.thumb`).
        network: who runs dlib's network: ``auto`` (the converted network when torch is installed,
            else dlib), ``converted`` or ``dlib``.
        home: facelab's home folder, where the converted network is cached (default ``$FACELAB_HOME``).
        threads: CPU threads of the converted network (default: all; :meth:`embed_paths`'s worker
            processes use one each).
        detector_params: keyword arguments of the detector (``upsample=1`` ...).

    Raises:
        ConfigError: dlib is not installed, the detector is unknown, ``network`` is unknown, or the
            chip is unknown or needs landmarks the detector does not give.
        DataError: dlib's network file cannot be converted (when first used).
    """

    def __init__(self, detector: str | None = None, *, mirror: bool = True, chip: str | None = None,
                 min_face: int = 24, workers: int = 1, thumbs: bool = False, network: str = "auto",
                 home: str | None = None, threads: int | None = None, **detector_params):
        from ..faces.dlibface import require_dlib
        from ..faces.detect import get_detector

        require_dlib()
        self.framing = Framing(detector or DEFAULT_DETECTOR, bool(mirror), chip=chip)
        _check_chip(self.framing)
        self.min_face, self.workers, self.thumbs = int(min_face), max(1, int(workers)), bool(thumbs)
        self.detector_params = dict(detector_params)
        self.detector = get_detector(self.framing.detector, **self.detector_params)
        if network not in NETWORKS:
            raise ConfigError(f"unknown network runner {network!r}", fix=f"use one of {', '.join(NETWORKS)}")
        self.network, self.home, self.threads = network, home, threads
        # one photo at a time per embedder: detectors and dlib's network keep per-call buffers
        self._lock = threading.Lock()

    @classmethod
    def for_framing(cls, framing: Framing, **kwargs) -> "Embedder":
        """An embedder that makes descriptors of ``framing`` (a gallery's)."""
        return cls(framing.detector, mirror=framing.mirror, chip=framing.chip, **kwargs)

    # -- one photo -------------------------------------------------------------------------------
    def faces_of(self, image: np.ndarray) -> tuple[list[tuple[int, FaceBox, tuple[np.ndarray, ...]]], int]:
        """``([(index, box, chips), ...], too_small)`` for every face of an RGB photo: one chip, or
        two with :data:`BOTH_CHIPS` (the landmark chip first)."""
        from ..faces.dlibface import face_chip, has_five_landmarks, landmark_chip

        boxes = self.detector.detect(image)
        chip = self.framing.chip
        out, small = [], 0
        for i, b in enumerate(boxes):
            if b.size < self.min_face:
                small += 1
                continue
            if chip == CHIP or not has_five_landmarks(b):  # no landmarks: dlib's own points place it
                out.append((i, b, (face_chip(image, b),)))
            elif chip == LANDMARK_CHIP:
                out.append((i, b, (landmark_chip(image, b),)))
            else:
                out.append((i, b, (landmark_chip(image, b), face_chip(image, b))))
        return out, small

    def converted(self):
        """The converted network (:class:`facelab.faces.dlibnet.FastNet`), or None where dlib runs it."""
        if self.network == "dlib":
            return None
        from ..faces.dlibface import model_path
        from ..faces.dlibnet import FILE, shared_net

        try:
            return shared_net(model_path(FILE), self.home, self.threads)
        except ImportError:  # no torch (nor a converted graph with onnxruntime), or no safetensors
            if self.network == "converted":
                raise ConfigError("the converted network needs torch and safetensors",
                                  fix='pip install torch safetensors, or use network="dlib"') from None
            log.info("torch is not installed: dlib runs its face-recognition network (slower)")
            self.network = "dlib"
            return None

    def descriptors(self, chips: Sequence[np.ndarray | tuple[np.ndarray, ...]]) -> np.ndarray:
        """(N, 128) unit descriptors of 150×150 RGB chips, in one batched network call. An item may
        be a tuple of chips of one face: their descriptors (and their mirrors') are averaged."""
        from ..faces.dlibface import resnet

        if not len(chips):
            return np.zeros((0, DIM), np.float32)
        batch, owner = [], []
        for k, face in enumerate(chips):
            for c in (face if isinstance(face, (tuple, list)) else (face,)):
                batch.append(np.ascontiguousarray(c))
                if self.framing.mirror:
                    batch.append(np.ascontiguousarray(c[:, ::-1]))
                owner += [k] * (1 + self.framing.mirror)
        net = self.converted()
        if net is not None:
            v = net(np.stack(batch))
        else:
            v = np.asarray(resnet().compute_face_descriptor(batch), np.float32).reshape(len(batch), DIM)
        out = np.zeros((len(chips), DIM), np.float32)
        np.add.at(out, np.asarray(owner), unit(v))
        return unit(out)

    def embed_image(self, image: np.ndarray) -> list[FaceEmbedding]:
        """Every face of an RGB photo with its descriptor, largest first.

        Example:
            >>> Embedder("haar").embed_image(np.zeros((100, 100, 3), np.uint8))
            []
        """
        return self.embed_images([image])[0][0]

    def embed_images(self, images: Sequence[np.ndarray]) -> list[tuple[list[FaceEmbedding], int]]:
        """``[(faces, too_small), ...]`` per photo; all chips go through the network in one batch."""
        with self._lock:
            found = [self.faces_of(img) for img in images]
            chips = [c for faces, _ in found for _, _, c in faces]
            vecs = self.descriptors(chips)
        out, k = [], 0
        for faces, small in found:
            row = [FaceEmbedding(i, b, vecs[k + j], thumbnail(c[0]) if self.thumbs else None)
                   for j, (i, b, c) in enumerate(faces)]
            k += len(faces)
            out.append((row, small))
        return out

    # -- many photos -----------------------------------------------------------------------------
    def embed_paths(self, paths: Sequence[str], *, progress: bool = False,
                    on_progress: Callable[[int], None] | None = None) -> list[PhotoFaces]:
        """Every face of every photo (in the order given); an unreadable photo is a row with its error.

        Runs in :attr:`workers` processes (chunks of :data:`CHUNK` photos, one network batch each)
        when there are at least :data:`POOL_MIN` photos.
        """
        from tqdm.auto import tqdm

        paths = [str(p) for p in paths]
        chunks = [paths[i:i + CHUNK] for i in range(0, len(paths), CHUNK)]
        bar = tqdm(total=len(paths), unit="photo", desc="embedding faces", disable=not progress, dynamic_ncols=True)
        out: list[PhotoFaces] = []

        def done(part: list[PhotoFaces]) -> None:
            out.extend(part)
            bar.update(len(part))
            if on_progress:
                on_progress(len(out))

        try:
            if self.workers > 1 and len(paths) >= POOL_MIN and _spawn_safe():
                self.converted()  # converted once here, not once per worker
                ctx = mp.get_context("spawn")  # fork after torch/OpenMP threads can deadlock
                args = (self.framing, self.min_face, self.thumbs, self.network, self.home, self.detector_params)
                with ProcessPoolExecutor(self.workers, mp_context=ctx, initializer=_worker_init,
                                         initargs=args) as pool:
                    for part in pool.map(_worker_chunk, chunks):
                        done(part)
            else:
                for c in chunks:
                    done(embed_chunk(self, c))
        finally:
            bar.close()
        return out


_shared: dict[tuple, Embedder] = {}
_shared_lock = threading.Lock()


def shared_embedder(framing: Framing) -> Embedder:
    """One :class:`Embedder` per framing for this process (servers and dashboards reuse it)."""
    key = (framing.detector, framing.mirror, framing.chip)
    with _shared_lock:
        if key not in _shared:
            _shared[key] = Embedder.for_framing(framing, thumbs=True)
        return _shared[key]


def embed_chunk(embedder: Embedder, paths: Iterable[str]) -> list[PhotoFaces]:
    """Decode, detect and embed a few photos (the per-chunk step of the local and Spark paths)."""
    from ..data.image import load_image

    rows, images = [], []
    for p in paths:
        try:
            images.append(load_image(p))
            rows.append(PhotoFaces(p))
        except FacelabError as e:
            rows.append(PhotoFaces(p, error=e.message))
    ok = [r for r in rows if r.error is None]
    for r, (faces, small) in zip(ok, embedder.embed_images(images)):
        r.faces, r.too_small = faces, small
    return rows


_worker: Embedder | None = None


def _worker_init(framing: Framing, min_face: int, thumbs: bool, network: str, home: str | None,
                 params: dict) -> None:
    global _worker
    import cv2

    cv2.setNumThreads(1)  # one process per core already
    _worker = Embedder.for_framing(framing, min_face=min_face, thumbs=thumbs, network=network, home=home,
                                   threads=1, **params)


def _worker_chunk(paths: list[str]) -> list[PhotoFaces]:
    assert _worker is not None
    return embed_chunk(_worker, paths)


def _spawn_safe() -> bool:
    """Whether spawned workers can re-import ``__main__`` (not so for code piped into python)."""
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    return path is None or os.path.isfile(path)


def _check_chip(framing: Framing) -> None:
    """Refuse an unknown chip, or the landmark chip with a detector that gives no five landmarks."""
    if framing.chip not in CHIPS:
        raise ConfigError(f"unknown face chip {framing.chip!r}", fix=f"use one of: {', '.join(CHIPS)}")
    if framing.chip == LANDMARK_CHIP and default_chip(framing.detector) != LANDMARK_CHIP:
        raise ConfigError(f"the {LANDMARK_CHIP} chip needs five landmarks, which the {framing.detector} "
                          "detector does not give", fix=f"use detector='mtcnn', or chip={CHIP!r}")


def pick_face(photo: PhotoFaces, face: int | None = None) -> FaceEmbedding:
    """The face a one-face question uses: ``face`` (0 = largest) or the largest; refused when absent.

    Raises:
        DataError: the photo could not be read, has no face, or fewer faces than ``face + 1``.
    """
    from ..errors import DataError

    if photo.error:
        raise DataError(photo.error, path=photo.path, fix="give a JPEG or PNG photo")
    if not photo.faces:
        raise DataError(f"no face found in {photo.path}", path=photo.path,
                        fix="give a photo where the face is visible and at least ~40 px wide")
    if face is None:
        return photo.faces[0]
    if not 0 <= face < len(photo.faces):
        raise DataError(f"{photo.path} has {len(photo.faces)} face(s); there is no face {face}", path=photo.path,
                        fix=f"use --face between 0 and {len(photo.faces) - 1} (0 = the largest)")
    return photo.faces[face]


def check_framing(have: Framing, want: Framing, where: str) -> None:
    """Refuse descriptors made with another framing than ``want`` (``where`` names the gallery)."""
    if have != want:
        raise ConfigError(f"{where} holds faces embedded as {want.describe()}; these were embedded as "
                          f"{have.describe()} — distances between the two mean nothing", path=where,
                          fix=f"embed with detector={want.detector!r}, mirror={want.mirror}, chip={want.chip!r} (the default when "
                              "a gallery is given), or make a new gallery")
