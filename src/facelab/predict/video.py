"""Video frames, one at a time: a file, an HTTP/RTSP URL or a camera index → RGB frames with their
own timestamps.

Files and URLs are decoded by PyAV (FFmpeg); a camera index goes through OpenCV. Frames are
streamed — decoded one by one, never all held — so a 4K hour costs the memory of a few frames.
Each frame keeps the time its container gives it (variable frame rate clips keep their real
timing) and is turned upright as its display matrix says (phone clips). ``every=N`` keeps one
decoded frame in N; ``fps=F`` keeps frames at most F per second of video time.

Bad input is a :class:`~facelab.errors.DataError` naming the file: a missing, corrupt or
truncated file, one with no video stream (audio only), zero frames, a codec FFmpeg cannot decode,
or a stream that sends no frame within ``timeout`` seconds.

Example:
    >>> import numpy as np, tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "grey.mp4"
    >>> write_test_clip(path, [np.full((48, 64, 3), 128, np.uint8)] * 5, fps=10)
    >>> reader = VideoReader(path, every=2)
    >>> [(f.index, round(f.time, 1)) for f in reader]
    [(0, 0.0), (2, 0.2), (4, 0.4)]
    >>> reader.info.width, reader.info.height, reader.info.frames
    (64, 48, 5)
"""
from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from ..errors import ConfigError, DataError

log = logging.getLogger(__name__)

#: file name endings read as video by ``facelab predict`` (any other file is tried as a photo)
VIDEO_SUFFIXES = (".mp4", ".m4v", ".mov", ".avi", ".mkv", ".webm", ".mpg", ".mpeg", ".wmv", ".flv", ".3gp",
                  ".ts", ".mts", ".ogv", ".gif", ".mjpeg", ".mjpg")
STREAM_PREFIXES = ("http://", "https://", "rtsp://", "rtsps://", "rtmp://", "udp://", "tcp://")


@dataclass(frozen=True)
class Frame:
    """One decoded frame: its index among all decoded frames, its time in seconds from the
    first frame, and its pixels (uint8 HxWx3 RGB)."""

    index: int
    time: float
    image: np.ndarray


@dataclass
class VideoInfo:
    """What the container says about the video (``frames`` and ``fps`` are None when unknown,
    as for a live stream)."""

    source: str
    width: int
    height: int
    fps: float | None
    frames: int | None
    codec: str
    duration: float | None

    def to_dict(self) -> dict:
        return asdict(self)


def require_video() -> None:
    """PyAV and supervision (the ``video`` extra) are importable, or a ConfigError says how to get them."""
    try:
        import av  # noqa: F401
        import supervision  # noqa: F401
    except ImportError as e:
        raise ConfigError(f"video needs PyAV and supervision ({e.name} is not installed)",
                          fix="pip install 'facelab[video]'") from None


def is_stream(source) -> bool:
    """A camera index (``0``, ``"1"``) or a network URL rather than a file."""
    if isinstance(source, int):
        return True
    s = str(source)
    return s.isdigit() or s.lower().startswith(STREAM_PREFIXES)


def looks_like_video(path) -> bool:
    """A video by its name, or — for a file with another ending — by FFmpeg finding a video
    stream of more than one frame in it (an image is not a video)."""
    p = Path(str(path))
    if p.suffix.lower() in VIDEO_SUFFIXES:
        return True
    if not p.is_file() or p.suffix.lower() in (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"):
        return False
    try:
        import av

        with av.open(str(p)) as c:
            return any(s.frames != 1 for s in c.streams.video) and bool(c.streams.video)
    except Exception:  # not something FFmpeg reads: leave it to the photo path
        return False


class VideoReader:
    """Iterate over the frames of a video file, URL or camera, keeping ``every``-th frame or at
    most ``fps`` per second.

    Args:
        source: a file path, an ``http(s)://``/``rtsp://`` URL, or a camera index (int or digits).
        every: keep one decoded frame in ``every``.
        fps: keep at most this many frames per second of video time (by the frames' own times).
        timeout: seconds to wait for a stream to open and for each next frame.
        seconds: stop after this much video time (a live stream otherwise runs until stopped).
        name: what messages call the source (default: the path or URL itself; an upload saved
            to a temporary file is named by its upload name).

    ``info`` is set once iteration starts; ``decoded`` counts decoded frames, ``note`` says why
    reading stopped early (a damaged tail, a stream that stopped).
    """

    def __init__(self, source, *, every: int = 1, fps: float | None = None, timeout: float = 10.0,
                 seconds: float | None = None, name: str | None = None):
        if int(every) < 1:
            raise ConfigError(f"every must be 1 or more, got {every}", fix="use --every 1 (each frame) or more")
        if fps is not None and fps <= 0:
            raise ConfigError(f"fps must be positive, got {fps}", fix="drop --fps, or give e.g. --fps 5")
        if seconds is not None and seconds <= 0:
            raise ConfigError(f"seconds must be positive, got {seconds}", fix="give e.g. --seconds 30")
        self.source = source
        self.name = name or str(source)
        self.every, self.fps, self.timeout, self.seconds = int(every), fps, float(timeout), seconds
        self.info: VideoInfo | None = None
        self.decoded = 0
        self.note: str | None = None

    def __iter__(self) -> Iterator[Frame]:
        camera = isinstance(self.source, int) or str(self.source).isdigit()
        frames = self._camera() if camera else self._ffmpeg()
        next_time = 0.0
        kept = 0
        for i, t, img in frames:
            self.decoded = i + 1
            if self.seconds is not None and t > self.seconds:
                break
            if i % self.every:
                continue
            if self.fps is not None:
                if t + 1e-6 < next_time:
                    continue
                next_time = max(next_time + 1.0 / self.fps, t)  # a gap resets the grid
            kept += 1
            yield Frame(i, t, img)
        if self.decoded == 0:
            raise DataError(f"{self.name} holds no video frames", path=self.name,
                            fix="check that the file plays in a video player; it may be empty or cut short")

    # -- files and URLs (PyAV) --------------------------------------------------------------------
    def _open(self):
        import av

        stream = is_stream(self.source)
        if not stream and not Path(str(self.source)).is_file():
            raise DataError(f"{self.name} does not exist or is not a file", path=self.name,
                            fix="check the path (a camera is given by its index, a stream by its URL)")
        opts = {"timeout": (self.timeout, self.timeout)} if stream else {}
        try:
            return av.open(str(self.source), **opts)
        except av.error.ExitError as e:  # ETIMEDOUT and friends
            raise DataError(f"no answer from {self.name} within {self.timeout:g} s ({e.strerror})", path=self.name,
                            fix="check that the stream is running and reachable, or raise --timeout") from None
        except av.error.FFmpegError as e:
            if stream:
                raise DataError(f"{self.name} cannot be opened as a video stream ({e.strerror})", path=self.name,
                                fix="check that the stream is running and the URL is right") from None
            raise DataError(f"{self.name} cannot be read as a video ({e.strerror}); the file may be corrupt, "
                            "cut short or not a video", path=self.name,
                            fix="check that it plays in a video player; re-encode it, e.g. "
                                "`ffmpeg -i in.mov -c:v libx264 out.mp4`") from None

    def _ffmpeg(self) -> Iterator[tuple[int, float, np.ndarray]]:
        import av

        container = self._open()
        try:
            if not container.streams.video:
                kinds = ", ".join(sorted({s.type for s in container.streams})) or "no stream at all"
                raise DataError(f"{self.name} has no video stream (it holds {kinds})", path=self.name,
                                fix="give a file with video in it; an audio-only file has no faces to find")
            vs = container.streams.video[0]
            if vs.codec_context is None:  # FFmpeg knows no decoder for the stream's codec tag
                raise DataError(f"{self.name}: its video codec is not one FFmpeg can decode (unknown codec tag)",
                                path=self.name, fix="re-encode it with a common codec, e.g. "
                                                    "`ffmpeg -i in.avi -c:v libx264 out.mp4`")
            vs.thread_type = "AUTO"  # FFmpeg's own decoding threads
            codec = vs.codec_context.name
            rate = float(vs.average_rate) if vs.average_rate else None
            duration = float(vs.duration * vs.time_base) if vs.duration and vs.time_base else (
                container.duration / 1e6 if container.duration else None)
            self.info = VideoInfo(self.name, vs.codec_context.width, vs.codec_context.height, rate,
                                  vs.frames or None, codec, duration)
            yield from self._decode(container, vs)
        finally:
            container.close()

    def _decode(self, container, vs) -> Iterator[tuple[int, float, np.ndarray]]:
        import av

        t0, i = None, 0
        stream = is_stream(self.source)
        # an MJPEG stream over HTTP carries no times: its frames are timed as they arrive
        wall = stream and container.format.name in ("mpjpeg", "mjpeg")
        packets = container.demux(vs)
        while True:
            try:
                packet = next(packets)
                frames = packet.decode()
            except StopIteration:
                return
            except av.error.ExitError as e:  # a stream that stopped sending
                if i == 0:
                    raise DataError(f"no frame from {self.name} within {self.timeout:g} s ({e.strerror})",
                                    path=self.name,
                                    fix="check that the stream is running, or raise --timeout") from None
                self.note = f"the stream stopped after {i} frames ({e.strerror})"
                log.warning("%s: %s", self.name, self.note)
                return
            except av.error.FFmpegError as e:
                if stream and i:
                    self.note = f"the stream ended after {i} frames ({e.strerror})"
                    log.warning("%s: %s", self.name, self.note)
                    return
                if i == 0:
                    codec = self.info.codec if self.info else "unknown"
                    raise DataError(f"{self.name}: the video cannot be decoded (codec {codec!r}: {e.strerror})",
                                    path=self.name, fix="re-encode it, e.g. `ffmpeg -i in.avi -c:v libx264 out.mp4`"
                                    ) from None
                self.note = f"decoding stopped after {i} frames: the file is damaged or cut short ({e.strerror})"
                log.warning("%s: %s", self.name, self.note)
                return
            for f in frames:
                if wall:
                    t = time.monotonic()
                else:
                    t = float(f.time) if f.time is not None else i / (self.info.fps or 25.0)
                if t0 is None:
                    t0 = t
                yield i, t - t0, upright(f)
                i += 1

    # -- cameras (OpenCV) --------------------------------------------------------------------------
    def _camera(self) -> Iterator[tuple[int, float, np.ndarray]]:
        import cv2

        index = int(self.source)
        cap = cv2.VideoCapture(index)
        try:
            if not cap.isOpened():
                raise DataError(f"camera {index} cannot be opened", path=f"camera {index}",
                                fix="check that a camera is connected (`ls /dev/video*`) and not in use")
            w, h = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
            self.info = VideoInfo(self.name, w, h, cap.get(cv2.CAP_PROP_FPS) or None, None, "camera", None)
            t0, i = time.monotonic(), 0
            while True:
                ok, bgr = cap.read()
                if not ok:
                    if i == 0:
                        raise DataError(f"camera {index} sent no frame", path=f"camera {index}",
                                        fix="check the camera, or try another index")
                    self.note = f"camera {index} stopped after {i} frames"
                    return
                yield i, time.monotonic() - t0, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
                i += 1
        finally:
            cap.release()


def upright(frame) -> np.ndarray:
    """A decoded frame as RGB pixels, turned as its display matrix says (a phone's portrait clip
    is stored landscape with a rotation of 90°)."""
    img = frame.to_ndarray(format="rgb24")
    k = int(round((getattr(frame, "rotation", 0) or 0) / 90)) % 4
    return np.ascontiguousarray(np.rot90(img, k)) if k else img


def write_test_clip(path, frames: list[np.ndarray], *, fps: float = 25.0, codec: str = "mpeg4") -> None:
    """Write RGB frames as a small video with PyAV (tests, docs and benchmarks make clips with it)."""
    import av

    with av.open(str(path), "w") as out:
        s = out.add_stream(codec, rate=round(fps))
        s.height, s.width = frames[0].shape[:2]
        s.pix_fmt = "yuv420p"
        for img in frames:
            for packet in s.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(img), format="rgb24")):
                out.mux(packet)
        for packet in s.encode():
            out.mux(packet)
