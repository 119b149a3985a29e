"""A video through a predictor into files: the per-frame table (``--out``), the annotated MP4
(``--annotate``) and the timeline PNGs (``--timeline``) — what ``facelab predict clip.mp4`` and
``--live`` do, written through the write guard (:mod:`facelab.outputs`): an existing file that
facelab did not write is refused before the first frame is read.

Example (a grey clip: no face, so an empty table and no track):
    >>> import tempfile, pathlib, numpy as np
    >>> from facelab.predict.predictor import Predictor
    >>> from facelab.predict.video import write_test_clip
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> write_test_clip(folder / "grey.mp4", [np.full((120, 160, 3), 90, np.uint8)] * 4, fps=10)
    >>> predictor = Predictor(input_spec={"size": 32}, kind="binary", classes=["Smiling"],
    ...                       classify=lambda x: np.full((len(x), 1), 0.9), name="smile")
    >>> report = predict_video_files(predictor, folder / "grey.mp4", out=folder / "faces.csv",
    ...                              annotate=folder / "faces.mp4", every=2)
    >>> report.summary.frames_analysed, report.out.name, report.annotated.name, report.codec in ENCODERS
    (2, 'faces.csv', 'faces.mp4', True)
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ..errors import ConfigError, DataError
from .video_render import ENCODERS  # noqa: F401  (the encoders the annotated video may use)
from .video_results import FrameResult, VideoSummary, frames_table

log = logging.getLogger(__name__)

TABLE_FORMATS = ("csv", "parquet")


@dataclass
class VideoReport:
    """What :func:`predict_video_files` did: the summary, the files written, and how."""

    summary: VideoSummary
    frames: list[FrameResult]
    out: Path | None = None
    annotated: Path | None = None
    codec: str | None = None
    timelines: list[Path] = field(default_factory=list)
    interrupted: bool = False

    def to_dict(self) -> dict:
        return {**self.summary.to_dict(), "out": str(self.out) if self.out else None,
                "annotated": str(self.annotated) if self.annotated else None, "codec": self.codec,
                "timelines": [str(p) for p in self.timelines], "interrupted": self.interrupted}


def is_video_table(path: Path) -> bool:
    """A per-frame table an earlier ``predict`` wrote for a video (it may be replaced)."""
    path = Path(path)
    if path.suffix.lower() in (".parquet", ".pq"):
        import pyarrow.parquet as pq

        names = pq.read_schema(path).names
    else:
        with open(path, encoding="utf-8", errors="replace") as f:
            names = f.readline().strip().split(",")
    return names[:3] == ["frame", "time", "track"]


def _table_format(out: Path) -> str:
    fmt = out.suffix.lower().lstrip(".") or "csv"
    fmt = "parquet" if fmt == "pq" else fmt
    if fmt not in TABLE_FORMATS:
        raise ConfigError(f"a video's table is written as CSV or Parquet, not {fmt!r}", path=out,
                          fix="give --out faces.csv or --out faces.parquet")
    return fmt


def _check_outputs(out, annotate, timeline) -> tuple[Path | None, Path | None, Path | None]:
    from ..outputs import check_file, check_folder

    if out is not None:
        out = check_file(out, what="results table", recognise=is_video_table)
        _table_format(out)
    if annotate is not None:
        annotate = check_file(annotate, what="annotated video", option="--annotate")
        if annotate.suffix.lower() not in (".mp4", ".m4v", ".mov", ".mkv"):
            raise ConfigError(f"the annotated video is an MP4 file, not {annotate.name!r}", path=annotate,
                              fix="give --annotate out.mp4")
    if timeline is not None:
        timeline = check_folder(timeline, what="timeline folder", option="--timeline")
    return out, annotate, timeline


def predict_video_files(predictor, source, *, out=None, annotate=None, timeline=None,
                        on_frame: Callable[[FrameResult], None] | None = None, **kw) -> VideoReport:
    """Predict a video or stream and write the chosen files.

    Args:
        predictor: a ``Predictor`` or combined predictor.
        source: a video file, a stream URL or a camera index.
        out: the per-frame table (``.csv`` or ``.parquet``).
        annotate: the annotated MP4.
        timeline: a folder for one timeline PNG per track.
        on_frame: called with each frame result as it comes (the CLI prints live lines with it).
        **kw: :class:`~facelab.predict.video_predict.VideoPrediction`'s keywords (``every``,
            ``fps``, ``smooth``, ``seconds``, ``timeout``, ``progress`` ...).

    Ctrl-C stops reading; what was read is written and the report says ``interrupted``.
    """
    from .video_render import AnnotatedVideo, render_timelines

    out, annotate, timeline = _check_outputs(out, annotate, timeline)
    video = predictor.predict_video(source, keep_images=annotate is not None, **kw)
    frames: list[FrameResult] = []
    writer = None
    interrupted = False
    try:
        for fr in video:
            if annotate is not None:
                if writer is None:
                    info = video.info
                    rate = (info.fps or 25.0) / video.reader.every if info else 25.0
                    writer = AnnotatedVideo(annotate, fr.image.shape[1], fr.image.shape[0],
                                            video.reader.fps or rate)
                writer.write(fr.image, fr, video.groups)
                fr.image = None  # the pixels are not kept past the writer
            frames.append(fr)
            if on_frame is not None:
                on_frame(fr)
    except KeyboardInterrupt:
        interrupted = True
        video.close()
        log.warning("stopped by the user after %d frames; writing what was read", len(frames))
    finally:
        if writer is not None:
            writer.close()
    summary = video.summary()
    if interrupted:
        summary.note = "stopped by the user" + (f"; {summary.note}" if summary.note else "")
    report = VideoReport(summary, frames, annotated=annotate if writer is not None else None,
                         codec=writer.codec if writer is not None else None, interrupted=interrupted)
    table = frames_table(frames, video.classes, video.groups)
    if out is not None:
        report.out = _write_table(table, out)
    if timeline is not None:
        from ..outputs import claim_folder

        folder = claim_folder(timeline, what="timeline folder", option="--timeline")
        report.timelines = render_timelines(table, video.groups, folder)
    return report


def _write_table(table, out: Path) -> Path:
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        if _table_format(out) == "csv":
            table.to_csv(out, index=False)
        else:
            table.to_parquet(out, index=False)
    except OSError as e:
        raise DataError(f"cannot write {out}: {e.strerror or e}", path=out,
                        fix="choose a writable --out path") from None
    return out
