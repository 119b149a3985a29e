"""The Predictor: photo → faces → aligned crops → the run's model → typed results.

Two backends with the same results: ``torch`` (the run's own model through
:meth:`facelab.runs.Run.predict_proba`) and ``onnx`` (the run's ``model.onnx`` written by
:func:`facelab.predict.export.export_onnx`, run by ONNX Runtime; that path never imports torch, so
a service that only predicts can ship without it).

Example:
    >>> import numpy as np
    >>> from facelab.predict import Predictor
    >>> p = Predictor.from_run("fer-emotions")       # a run name or folder, or a shipped model
    >>> r = p.predict(np.zeros((48, 48, 1), np.uint8), aligned=True)   # a face already framed
    >>> len(r.faces), sorted(r.faces[0].probabilities)[:3]
    (1, ['angry', 'disgust', 'fear'])
"""
from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, Iterator, Literal

import numpy as np

from ..errors import ConfigError, FacelabError, RunError
from ..faces.align import align, crop_aligned
from ..faces.detect import FaceBox, get_detector
from .pending import Pending, check_array
from .results import FaceResult, PhotoResult, verdict
from ..runs.layout import INPUT, TASK, read_json  # one error message for a broken run

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from .video_predict import VideoPrediction

Backend = Literal["torch", "onnx", "auto"]


class Predictor:
    """Classify every face in photos with a trained run.

    Build with :meth:`from_run`. ``predict`` handles one photo (path, bytes or array);
    ``predict_batch`` many, decoding and detecting in parallel threads and classifying in batches.

    Args:
        input_spec: the run's ``input.json``.
        kind: the task kind (``binary``, ``multilabel``, ``multiclass``).
        classes: output names.
        classify: uint8 NHWC crops → (N, outputs) probabilities.
        detector: registered detector name (each thread builds its own: cascades are not shared).
        thresholds: per-output thresholds for binary/multilabel.
        min_face: faces whose box side is below this many pixels are reported, not classified.
        name, backend: for display.
    """

    def __init__(self, *, input_spec: dict, kind: str, classes: list[str],
                 classify: Callable[[np.ndarray], np.ndarray], detector: str = "haar",
                 thresholds: np.ndarray | None = None, min_face: int = 24, name: str = "",
                 backend: str = "torch", detector_params: dict | None = None, fast: bool = False,
                 face_input: Callable[[np.ndarray, FaceBox], np.ndarray] | None = None):
        self.input_spec = dict(input_spec)
        # fast: the coarse-to-fine detector and reduced-size JPEG decoding (predict/fastpath.py)
        self.fast = bool(fast)
        if self.fast:
            from .fastpath import FAST_DETECTORS

            detector = FAST_DETECTORS.get(detector, detector)
        self.kind = kind
        self.classes = list(classes)
        self.classify = classify
        self.detector_name = detector
        self.detector_params = dict(detector_params or {})
        found = get_detector(detector, **self.detector_params)  # fail early on an unknown name
        from ..faces.template import template_framing

        if template_framing(self.input_spec) and not getattr(found, "five_landmarks", False):
            raise ConfigError(f"{name or 'this model'} aligns faces by their five landmarks (the face template); "
                              f"the {detector} detector gives none",
                              fix="leave the detector to the run (mtcnn), or use a run framed by face boxes")
        self.thresholds = thresholds if thresholds is not None else np.full(len(classes), 0.5, np.float32)
        self.min_face = int(min_face)
        self.name = name
        self.backend = backend
        # what the model is given for a detected face: the aligned crop, or (embed models) the
        # face's dlib descriptor computed from the photo itself
        self.face_input = face_input or (lambda img, box: align(img, box, self.input_spec))
        self._local = threading.local()
        #: the loaded run (torch backend): what explanations need (facelab.explain)
        self.run = None

    # -- construction ------------------------------------------------------------------------
    @classmethod
    def from_run(cls, run_or_path, *, backend: Backend = "torch", detector: str | None = None,
                 min_face: int = 24, threads: int | None = None, fast: bool = False,
                 runs_dir: str | Path | None = None, **detector_params) -> "Predictor":
        """Load a run (a :class:`~facelab.runs.Run`, its folder or its name).

        Args:
            run_or_path: the run.
            backend: ``torch``, ``onnx`` (needs ``facelab export RUN --format onnx`` first;
                imports only onnxruntime), or ``auto``: ONNX Runtime when it is installed and the
                run has an export of its current weights (the shipped models carry one), else
                torch. ``auto`` never exports; explanations need ``torch``.
            detector: a name registered in :data:`facelab.faces.detect.DETECTORS` (default: the
                detector the run's cache was aligned with, ``input.json``'s ``detector``, else haar).
            min_face: smallest face side (pixels) that is classified.
            threads: intra-op threads of the backend (default: torch's / ORT's own choice).
            fast: the fast path for photos (:mod:`facelab.predict.fastpath`): coarse-to-fine
                detection, large JPEGs decoded at reduced size; the same faces and probabilities
                within 0.01 on the LFW photos (``bench/predict.py --only fastpath``).

        Example:
            >>> p = Predictor.from_run("fer-emotions", backend="torch")
            >>> p.backend, p.kind, len(p.classes)
            ('torch', 'multiclass', 7)
        """
        from ..runs import Run, resolve_run  # no torch import: Run builds its model lazily

        if not isinstance(run_or_path, Run):  # a name is looked up in runs_dir
            run_or_path = resolve_run(run_or_path, runs_dir)
        if backend not in ("torch", "onnx", "auto"):
            raise ConfigError(f"unknown backend {backend!r}", fix="use --backend auto, torch or onnx")
        exported = _exported(run_or_path) if backend == "auto" else None
        auto = backend == "auto"
        if auto:
            backend = "onnx" if exported is not None else "torch"
        from .source_input import run_detector, source_face_input  # dlib-aware hooks (models/embed.py)

        if backend == "onnx":
            path = run_or_path.path if isinstance(run_or_path, Run) else resolve_run(run_or_path)
            task = read_json(path / TASK)
            input_spec = read_json(path / INPUT)
            from ..runs.derived import onnx_places

            places = onnx_places(path)  # a shipped model carries its own; an export of it lives under $FACELAB_HOME
            from .export import fresh_onnx

            found = exported or fresh_onnx(path) or next((p for p in places if p.is_file()), places[0])
            try:
                classify = onnx_classifier(found, threads)
            except RunError as e:
                if not auto:
                    raise
                # auto never fails where torch works
                log.warning("%s (%s); predicting with torch instead", e.message, e.fix)
                return cls.from_run(run_or_path, backend="torch", detector=detector, min_face=min_face,
                                    threads=threads, fast=fast, **detector_params)
            detector = detector or run_detector(input_spec)
            return cls(input_spec=input_spec, kind=task["kind"], classes=task["classes"], classify=classify,
                       detector=detector, min_face=min_face, name=path.name, backend="onnx",
                       detector_params=detector_params, fast=fast)
        run = Run.load(run_or_path)
        if threads:
            import torch

            torch.set_num_threads(int(threads))
        run.model()  # load the weights now: a broken run fails here, not on the first photo
        detector = detector or run_detector(run.input)
        pred = cls(input_spec=run.input, kind=run.task.kind, classes=run.task.classes, classify=run.predict_proba,
                   detector=detector, min_face=min_face, name=run.name, backend="torch",
                   detector_params=detector_params, fast=fast,
                   face_input=source_face_input(run.estimator(), min_face))
        pred.run = run
        return pred

    # -- one photo -----------------------------------------------------------------------------
    @property
    def detector(self):
        d = getattr(self._local, "detector", None)
        if d is None:
            d = self._local.detector = get_detector(self.detector_name, **self.detector_params)
        return d

    def _source_name(self, src) -> str:
        if isinstance(src, np.ndarray):
            return "<array>"
        if isinstance(src, (bytes, bytearray, memoryview)):
            return "<bytes>"
        return str(src)

    def _prepare(self, src, aligned: bool) -> Pending:
        """Decode, detect and align one photo (thread-safe; no classification)."""
        from .fastpath import prepare_photo

        name = self._source_name(src)
        if aligned and not isinstance(src, np.ndarray):
            return self._prepare_aligned_file(src, name)
        if not aligned:
            return prepare_photo(src, name, [self]).pending[0]
        try:
            img = check_array(src)
        except FacelabError as e:
            return Pending(PhotoResult(name, 0, 0, error=e.message), [], [])
        h, w = img.shape[:2]
        res = PhotoResult(name, w, h, [FaceResult(0, FaceBox(0.0, 0.0, float(w), float(h), 1.0), note="aligned input")])
        return Pending(res, [crop_aligned(img, self.input_spec)], [0])

    def frame_faces(self, img: np.ndarray, boxes: list[FaceBox], res: PhotoResult, *,
                    to_photo: float = 1.0) -> Pending:
        """The faces ``boxes`` of ``img`` framed for this model — the aligned crop, or an embed
        run's descriptor — into ``res`` (too small ones noted, not framed). ``to_photo`` maps a
        box of ``img`` to the photo's own pixels (the fast path decodes large photos smaller)."""
        if not boxes:
            res.note = "no face found"
            return Pending(res, [], [])
        crops, slots = [], []
        for i, b in enumerate(boxes):
            box = b.scaled(to_photo) if to_photo != 1.0 else b
            if box.size < self.min_face:
                res.faces.append(FaceResult(i, box, note=f"face too small to classify ({box.size:.0f} px < "
                                                         f"{self.min_face} px)"))
                continue
            try:
                crops.append(self.face_input(img, b))  # from the decoded image, its own box
            except FacelabError as e:  # e.g. no usable landmarks: this face only
                res.faces.append(FaceResult(i, box, note=e.message))
                continue
            res.faces.append(FaceResult(i, box))
            slots.append(i)
        if not crops:
            res.note = "faces found, all too small to classify"
        return Pending(res, crops, slots)

    def _prepare_aligned_file(self, src, name: str) -> Pending:
        """An already-framed image file: decoded exactly as the cache decodes (JPEG DCT-scaled
        decoding, crop_box, resize), so ``--aligned`` reproduces the training inputs bit for bit."""
        from ..data.image import decode_crop_resize, image_size, read_bytes
        from ..faces.align import crop_geometry

        size, grey, box = crop_geometry(self.input_spec)
        try:
            data = read_bytes(src)  # read once (a missing or empty file is named here)
            try:
                crop = decode_crop_resize(data, size=size, crop_box=box, grey=grey)
            except FacelabError:  # decode again from the path, so that the message names the file
                crop = decode_crop_resize(src, size=size, crop_box=box, grey=grey)
            w, h = image_size(data)  # header only
        except FacelabError as e:
            return Pending(PhotoResult(name, 0, 0, error=e.message), [], [])
        res = PhotoResult(name, w, h, [FaceResult(0, FaceBox(0.0, 0.0, float(w), float(h), 1.0), note="aligned input")])
        return Pending(res, [crop], [0])

    def explain_outputs(self, explain) -> list[str]:
        """The outputs ``explain`` names (``all``, ``top``, names), checked; [] for None.

        Raises:
            ConfigError: an output the run lacks (with a close match), or an ONNX-only predictor.
        """
        if not explain:
            return []
        from ..explain.faces import check_explainable

        return check_explainable(self, explain)

    def _finish(self, pending: list[Pending], keep_crops: bool = False, explain: list[str] | None = None) -> None:
        """Classify the crops of several photos in one batch and fill in their results (and
        their saliency maps when ``explain`` names outputs: :mod:`facelab.explain.faces`)."""
        crops = [c for p in pending for c in p.crops]
        if not crops:
            return
        if keep_crops:
            for p in pending:
                for slot, c in zip(p.slots, p.crops):
                    p.result.faces[slot].crop = c if c.ndim == 3 else None  # a descriptor is no crop
        proba = np.asarray(self.classify(np.stack(crops)), np.float32).reshape(len(crops), -1)
        k = 0
        for p in pending:
            for slot in p.slots:
                f = p.result.faces[slot]
                f.probabilities = {c: float(v) for c, v in zip(self.classes, proba[k])}
                f.labels = self._labels(proba[k])
                f.verdict = verdict(f.probabilities, self.kind, self.thresholds)
                k += 1
        if explain:
            from ..explain.faces import explain_pending

            explain_pending(self, pending, explain)

    def _labels(self, p: np.ndarray) -> list[str]:
        if self.kind == "multiclass":
            return [self.classes[int(np.argmax(p))]]
        return [c for c, v, t in zip(self.classes, p, self.thresholds) if v >= t]

    def predict(self, image_or_path, *, aligned: bool = False, keep_crops: bool = False,
                explain=None) -> PhotoResult:
        """Find and classify every face in one photo.

        Args:
            image_or_path: a path, the file's bytes, or a uint8 array (HxWx3 RGB / HxWx1 / HxW).
            aligned: the image is already framed like the dataset (e.g. a CelebA aligned crop):
                skip detection, apply the cache's crop and resize.
            keep_crops: keep each face's aligned crop in ``FaceResult.crop``.
            explain: outputs to explain (a name, a list, ``"all"`` or ``"top"``): each face gets
                a saliency map per output in ``FaceResult.explain`` (torch backend only).

        Returns:
            a :class:`PhotoResult`; an unreadable file gives ``error`` (no exception), a photo
            without a face gives no faces and ``note="no face found"``.

        Example:
            >>> predictor = Predictor.from_run("fer-emotions")
            >>> r = predictor.predict(np.zeros((480, 640, 3), np.uint8))   # a photo without a face
            >>> r.faces, r.note
            ([], 'no face found')
        """
        wanted = self.explain_outputs(explain)
        p = self._prepare(image_or_path, aligned)
        self._finish([p], keep_crops, wanted)
        return p.result

    def predict_faces(self, image: np.ndarray, boxes: list[FaceBox], *, name: str = "<array>",
                      keep_crops: bool = False, explain=None) -> PhotoResult:
        """Classify faces found elsewhere: ``boxes`` from a detector run on the same ``image``
        (uint8 RGB, HxWx1 or HxW). Several models on one photo detect once this way
        (:class:`~facelab.predict.combined.CombinedPredictor`).

        Example:
            >>> predictor = Predictor.from_run("fer-emotions")
            >>> rgb = np.full((480, 640, 3), 128, np.uint8)
            >>> marks = {"left_eye": (245, 180), "right_eye": (305, 180), "nose": (275, 215),
            ...          "mouth_left": (250, 240), "mouth_right": (300, 240)}   # five landmarks
            >>> boxes = [FaceBox(x=200, y=120, w=150, h=150, score=1.0, landmarks=marks)]
            >>> result = predictor.predict_faces(rgb, boxes)
            >>> len(result.faces), len(result.faces[0].probabilities)
            (1, 7)
        """
        wanted = self.explain_outputs(explain)
        img = check_array(image)
        h, w = img.shape[:2]
        p = self.frame_faces(img, list(boxes), PhotoResult(name, w, h))
        self._finish([p], keep_crops, wanted)
        return p.result

    def predict_faces_many(self, items: list[tuple[np.ndarray, list[FaceBox]]], *,
                           name: str = "<frame>") -> list[PhotoResult]:
        """:meth:`predict_faces` for several images (e.g. video frames) with one classification
        call for all their faces.

        Example:
            >>> p = Predictor(input_spec={"size": 32}, kind="binary", classes=["Smiling"],
            ...               classify=lambda x: np.full((len(x), 1), 0.9))
            >>> [r.note for r in p.predict_faces_many([(np.zeros((64, 64, 3), np.uint8), [])] * 2)]
            ['no face found', 'no face found']
        """
        pending = []
        for image, boxes in items:
            img = check_array(image)
            pending.append(self.frame_faces(img, list(boxes), PhotoResult(name, img.shape[1], img.shape[0])))
        self._finish(pending)
        return [p.result for p in pending]

    def predict_video(self, source, **kw) -> "VideoPrediction":
        """Faces through a video file, URL or camera, tracked and smoothed: iterate the answer for
        one frame result per analysed frame, then call its ``summary()`` for the face tracks.
        Keywords: ``every``, ``fps``, ``smooth``, ``timeout``, ``seconds``, ``batch_frames``,
        ``workers``, ``keep_images``, ``progress`` (:class:`~facelab.predict.video_predict.VideoPrediction`).

        Example: :mod:`facelab.predict.video_predict` (its module example runs a clip).
        """
        from .video_predict import VideoPrediction

        return VideoPrediction(self, source, **kw)

    def predict_batch(self, sources: Iterable, *, aligned: bool = False, workers: int | None = None,
                      batch_size: int = 64, progress: bool = False,
                      keep_crops: bool = False, explain=None) -> Iterator[PhotoResult]:
        """Predict many photos, in order: decoding/detecting in ``workers`` threads (OpenCV and
        Pillow release the GIL), classifying ``batch_size`` faces at a time.

        Example:
            >>> predictor = Predictor.from_run("fer-emotions")
            >>> crops = [np.zeros((48, 48, 1), np.uint8), np.full((48, 48, 1), 255, np.uint8)]
            >>> results = list(predictor.predict_batch(crops, aligned=True, workers=2))
            >>> [len(r.faces) for r in results]
            [1, 1]
        """
        from concurrent.futures import ThreadPoolExecutor

        sources = list(sources)
        wanted = self.explain_outputs(explain)
        workers = workers or min(4, os.cpu_count() or 1)
        bar = None
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=len(sources), unit="photo", desc="predict", disable=None)
        try:
            with ThreadPoolExecutor(max_workers=workers) as pool:
                # bounded look-ahead: decoded crops wait in memory only for a few batches
                window = max(batch_size * 2, workers * 4)
                futures = [pool.submit(self._prepare, s, aligned) for s in sources[:window]]
                nxt = len(futures)
                buf: list[Pending] = []
                nfaces = 0
                for i in range(len(sources)):
                    p = futures[i].result()
                    futures[i] = None  # type: ignore[call-overload]
                    if nxt < len(sources):
                        futures.append(pool.submit(self._prepare, sources[nxt], aligned))
                        nxt += 1
                    buf.append(p)
                    nfaces += len(p.crops)
                    if nfaces >= batch_size:
                        self._finish(buf, keep_crops, wanted)
                        yield from (b.result for b in buf)
                        if bar is not None:
                            bar.update(len(buf))
                        buf, nfaces = [], 0
                if buf:
                    self._finish(buf, keep_crops, wanted)
                    yield from (b.result for b in buf)
                    if bar is not None:
                        bar.update(len(buf))
        finally:
            if bar is not None:
                bar.close()

    def __repr__(self) -> str:
        return (f"Predictor({self.name!r}, backend={self.backend!r}, kind={self.kind!r}, "
                f"outputs={len(self.classes)}, detector={self.detector_name!r})")


def _exported(run) -> Path | None:
    """The run's up-to-date ``model.onnx`` when ONNX Runtime can run it, else None."""
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return None
    from ..runs import Run
    from .export import fresh_onnx

    return fresh_onnx(run.path if isinstance(run, Run) else Path(run))


def onnx_classifier(path: Path, threads: int | None) -> Callable[[np.ndarray], np.ndarray]:
    """An ONNX Runtime session taking uint8 NHWC and returning probabilities (the exported graph
    holds the normalisation and the sigmoid/softmax)."""
    if not path.is_file():
        raise RunError(f"{path.parent} has no ONNX model ({path.name})", path=path.parent,
                       fix=f"run `facelab export {path.parent} --format onnx` first")
    try:
        import onnxruntime as ort
    except ImportError:
        raise ConfigError("the onnx backend needs onnxruntime", fix="pip install 'facelab[onnx]'") from None
    opts = ort.SessionOptions()
    if threads:
        opts.intra_op_num_threads = int(threads)
        opts.inter_op_num_threads = 1
    try:
        sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    except Exception as e:  # a damaged or foreign file
        raise RunError(f"ONNX Runtime cannot load {path}: {e}", path=path,
                       fix=f"export it again: `facelab export {path.parent} --format onnx`") from None
    name = sess.get_inputs()[0].name
    lock = threading.Lock()  # run() is thread-safe, but one batch at a time uses the cores best

    def classify(x: np.ndarray) -> np.ndarray:
        with lock:
            return sess.run(None, {name: np.ascontiguousarray(x, dtype=np.uint8)})[0]

    return classify
