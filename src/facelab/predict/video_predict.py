"""Faces through a video: decode → detect → classify in batches → track → smooth, streamed.

:class:`VideoPrediction` is what :meth:`Predictor.predict_video
<facelab.predict.predictor.Predictor.predict_video>` (and the combined predictor's) returns:
iterate it for one :class:`~facelab.predict.video_results.FrameResult` per analysed frame, then
call :meth:`VideoPrediction.summary` for the face tracks. The CLI, the REST API and the dashboard
all go through it. A thread decodes ahead (a few frames at most), ``workers`` threads detect, and
the faces of ``batch_frames`` frames are classified in one call; tracking and smoothing run in
frame order. At most a few frames are held at a time (:data:`BATCH_BYTES`), whatever the video's
length or resolution.

Example (a clip of plain grey frames, so no face; a model that always answers 0.9):
    >>> import tempfile, pathlib
    >>> from facelab.predict.predictor import Predictor
    >>> from facelab.predict.video import write_test_clip
    >>> clip = pathlib.Path(tempfile.mkdtemp()) / "grey.mp4"
    >>> write_test_clip(clip, [np.full((120, 160, 3), 90, np.uint8)] * 4, fps=10)
    >>> predictor = Predictor(input_spec={"size": 32}, kind="binary", classes=["Smiling"],
    ...                       classify=lambda x: np.full((len(x), 1), 0.9), name="smile")
    >>> video = predictor.predict_video(clip, every=2, smooth=0.5)
    >>> [(frame.index, frame.time, frame.faces) for frame in video]
    [(0, 0.0, []), (2, 0.2, [])]
    >>> summary = video.summary()
    >>> summary.frames_decoded, summary.frames_analysed, summary.tracks
    (4, 2, [])
"""
from __future__ import annotations

import logging
import queue
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Iterator

import numpy as np

from .track import FaceTracker, TrackSmoother
from .video import Frame, VideoReader, require_video
from .video_results import FrameResult, LabelGroup, TrackBook, TrackedFace, TrackLabels, VideoSummary

log = logging.getLogger(__name__)

_END = object()
#: the most frame pixels classified together (8 frames of 1080p; 4K frames go two at a time)
BATCH_BYTES = 8 * 1920 * 1080 * 3
#: the default label hysteresis (a probability margin), chosen on validation clips (docs/video.md)
HOLD = 0.15


def label_groups(predictor) -> list[LabelGroup]:
    """One :class:`LabelGroup` per model of a :class:`Predictor` or a combined predictor."""
    parts = getattr(predictor, "predictors", [predictor])
    return [LabelGroup(p.name, p.kind, list(p.classes), tuple(float(t) for t in np.ravel(p.thresholds)))
            for p in parts]


def _detector(predictor):
    return getattr(predictor, "predictors", [predictor])[0].detector


class VideoPrediction:
    """A video being predicted: iterate for frames, then :meth:`summary`.

    Args:
        predictor: a :class:`~facelab.predict.predictor.Predictor` or
            :class:`~facelab.predict.combined.CombinedPredictor`.
        source: a video file, an ``http(s)://``/``rtsp://`` URL or a camera index.
        every, fps, timeout, seconds: which frames are read (:class:`~facelab.predict.video.VideoReader`).
        smooth: the time constant (seconds) of each track's exponential average; ``0``: off.
        hold: label hysteresis: a track's label changes only once its (smoothed) probability
            crosses the threshold by more than ``hold`` (:meth:`LabelGroup.label
            <facelab.predict.video_results.LabelGroup.label>`); ``0``: off.
        batch_frames: frames whose faces are classified in one call.
        workers: detection threads.
        keep_images: keep each frame's pixels in ``FrameResult.image`` (for ``--annotate``).
        progress: a progress bar (frames per second, time left); ``None``: only on a terminal.
        tracker: a :class:`~facelab.predict.track.FaceTracker` (its settings); a new one by default.
        name: what messages and the summary call the source (e.g. an upload's file name).
    """

    def __init__(self, predictor, source, *, every: int = 1, fps: float | None = None, smooth: float = 1.0,
                 hold: float = HOLD, timeout: float = 10.0, seconds: float | None = None, batch_frames: int = 8,
                 workers: int | None = None, keep_images: bool = False, progress: bool | None = False,
                 tracker: FaceTracker | None = None, name: str | None = None):
        from ..errors import ConfigError

        require_video()
        if smooth < 0:
            raise ConfigError(f"smooth must be 0 (off) or a time in seconds, got {smooth}", fix="use e.g. --smooth 0.5")
        if not 0 <= hold < 0.5:
            raise ConfigError(f"hold must be a probability margin in [0, 0.5), got {hold}", fix="use e.g. --hold 0.1 (0: off)")
        self.predictor = predictor
        self.reader = VideoReader(source, every=every, fps=fps, timeout=timeout, seconds=seconds, name=name)
        self.smooth = float(smooth)
        self.hold = float(hold)
        self.batch_frames = max(1, int(batch_frames))
        self.workers = workers or 2
        self.keep_images = keep_images
        self.progress = progress
        self.tracker = tracker or FaceTracker()
        self.smoother = TrackSmoother(self.smooth)
        self.groups = label_groups(predictor)
        self.labels = TrackLabels(self.groups, self.hold)
        self.classes = [c for g in self.groups for c in g.classes]
        self.book = TrackBook(self.groups)
        self.analysed = self.faces = 0
        self.started = time.perf_counter()
        self.elapsed = 0.0
        self._frames = self._run()

    @property
    def info(self):
        """The :class:`~facelab.predict.video.VideoInfo` (set once the first frame is read)."""
        return self.reader.info

    def __iter__(self) -> Iterator[FrameResult]:
        return self._frames

    @property
    def frames(self) -> Iterator[FrameResult]:
        return self._frames

    def summary(self) -> VideoSummary:
        """The per-track summary; reads any frames not iterated yet first."""
        for _ in self._frames:
            pass
        info = self.reader.info.to_dict() if self.reader.info else {}
        return VideoSummary(self.reader.name, info, self.reader.decoded, self.analysed, self.faces,
                            self.book.tracks(), self.classes, self.groups, self.smooth, self.reader.every,
                            self.reader.fps, self.elapsed, self.reader.note, self.hold)

    def close(self) -> None:
        """Stop reading (a live stream, an early ``break``)."""
        self._frames.close()

    # -- the pipeline ------------------------------------------------------------------------------
    def _run(self) -> Iterator[FrameResult]:
        import cv2  # noqa: F401  (OpenCV imported here first: its first import is not safe from two threads)

        self.started = time.perf_counter()
        q: queue.Queue = queue.Queue(maxsize=4)  # the reader decodes a few frames ahead, no more
        stop = threading.Event()
        reader = threading.Thread(target=self._read, args=(q, stop), daemon=True, name="facelab-video-reader")
        reader.start()
        bar = None
        try:
            with ThreadPoolExecutor(self.workers) as pool:
                while True:
                    batch, done = self._take(q)
                    if batch:
                        if bar is None:
                            bar = self._bar()
                        yield from self._analyse(batch, pool, bar)
                    if done:
                        break
        finally:
            stop.set()
            self.elapsed = time.perf_counter() - self.started
            if bar is not None:
                bar.close()

    def _read(self, q: queue.Queue, stop: threading.Event) -> None:
        try:
            for frame in self.reader:
                while not stop.is_set():
                    try:
                        q.put(frame, timeout=0.2)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            q.put(_END)
        except BaseException as e:  # handed to the consumer, raised there
            q.put(e)

    def _take(self, q: queue.Queue) -> tuple[list[Frame], bool]:
        """Up to ``batch_frames`` frames (fewer when the source is slow, as a live stream is, or
        when they hold more than :data:`BATCH_BYTES`: a 4K batch stays small)."""
        batch: list[Frame] = []
        size = 0
        while len(batch) < self.batch_frames and size < BATCH_BYTES:
            try:
                item = q.get(timeout=0.05) if batch else q.get()
            except queue.Empty:
                return batch, False
            if item is _END:
                return batch, True
            if isinstance(item, BaseException):
                raise item
            batch.append(item)
            size += item.image.nbytes
        return batch, False

    def _bar(self):
        from tqdm.auto import tqdm

        info = self.reader.info
        total = None
        if info is not None and info.frames:
            total = -(-info.frames // self.reader.every)
            if self.reader.fps and info.fps:
                total = min(total, int(info.frames * self.reader.fps / info.fps) + 1)
        return tqdm(total=total, unit="frame", desc="video", disable=None if self.progress is None
                    else not self.progress)

    def _analyse(self, batch: list[Frame], pool: ThreadPoolExecutor, bar) -> Iterator[FrameResult]:
        boxes = list(pool.map(lambda f: _detector(self.predictor).detect(f.image), batch))
        photos = self.predictor.predict_faces_many([(f.image, b) for f, b in zip(batch, boxes)])
        for frame, found, photo in zip(batch, boxes, photos):
            ids = self.tracker.update(found, frame.time)
            faces = []
            for face, track in zip(photo.faces, [ids[f.index] for f in photo.faces]):
                smoothed = self.smoother.update(track, face.probabilities, frame.time)
                labels = self.labels(track, smoothed)
                faces.append(TrackedFace(track, face.box, dict(face.probabilities), smoothed, labels, face.note))
            result = FrameResult(frame.index, frame.time, faces)
            if self.keep_images:
                result.image = frame.image
            self.book.add(result)
            self.analysed += 1
            self.faces += len(faces)
            bar.update(1)
            yield result
