"""Views of a predicted video: the annotated MP4 (boxes, track ids, smoothed labels) and one
timeline PNG per face track (smoothed probabilities over time, the raw ones faint behind them).

The MP4 is H.264 when PyAV's FFmpeg has an H.264 encoder (``libx264``, ``libopenh264``), which
every browser plays; otherwise MPEG-4 part 2, with a warning that browsers will not play it.
Frames are written at their own times, so ``--every``/``--fps`` keep the video's real duration.

Example:
    >>> from facelab.faces.detect import FaceBox
    >>> from facelab.predict.video_results import LabelGroup, TrackedFace
    >>> face = TrackedFace(2, FaceBox(0, 0, 9, 9, 1.0), smoothed={"happy": 0.8, "sad": 0.2})
    >>> caption(face, [LabelGroup("fer", "multiclass", ["happy", "sad"])])
    '#2 happy 0.80'
"""
from __future__ import annotations

import logging
import math
import warnings
from fractions import Fraction
from pathlib import Path

import numpy as np
import pandas as pd

from .video_results import FrameResult, LabelGroup, TrackedFace

log = logging.getLogger(__name__)

#: H.264 encoders, best first; MPEG-4 part 2 is the last resort (browsers do not play it)
ENCODERS = ("libx264", "libopenh264", "h264", "mpeg4")


def pick_encoder() -> str:
    """The first of :data:`ENCODERS` this FFmpeg build has."""
    import av

    have = av.codecs_available
    for name in ENCODERS:
        if name in have:
            return name
    from ..errors import ConfigError

    raise ConfigError("PyAV's FFmpeg has no H.264 or MPEG-4 encoder",
                      fix="install PyAV from its wheels (pip install av)")


def caption(face: TrackedFace, groups: list[LabelGroup]) -> str:
    """``#<track> <label> <p>`` per label group: the face's label (smoothed and held, as in the
    table) and its smoothed probability (a multilabel group shows its most probable output on)."""
    parts = [f"#{face.track}" if face.track > 0 else "#?"]
    p = face.smoothed or face.probabilities
    for g in groups:
        vals = [p.get(c, math.nan) for c in g.classes]
        if not vals or any(math.isnan(v) for v in vals):
            continue
        label = face.labels.get(g.name) or g.label(p)
        if g.kind == "multiclass":
            parts.append(f"{label} {p[label]:.2f}")
        elif len(g.classes) == 1:
            c = g.classes[0]
            parts.append(f"{c} {p[c]:.2f}" if label == c else f"not {c} {1 - p[c]:.2f}")
        else:
            on = [c for c in label.split("+") if c in p]
            if on:
                best = max(on, key=p.get)
                parts.append(f"{best} {p[best]:.2f}")
    if len(parts) == 1 and face.note:
        parts.append(face.note)
    return " ".join(parts)


def draw_frame(image: np.ndarray, frame: FrameResult, groups: list[LabelGroup]) -> np.ndarray:
    """The frame (RGB) with each face's box and caption, coloured by track (supervision's annotators)."""
    import supervision as sv

    if not frame.faces:
        return image
    xyxy = np.array([[f.box.x, f.box.y, f.box.x + f.box.w, f.box.y + f.box.h] for f in frame.faces], np.float32)
    det = sv.Detections(xyxy=xyxy, tracker_id=np.array([max(f.track, 0) for f in frame.faces]))
    scale = max(0.4, min(image.shape[:2]) / 900)
    out = sv.BoxAnnotator(color_lookup=sv.ColorLookup.TRACK, thickness=max(2, round(scale * 3))).annotate(
        image.copy(), det)
    return sv.LabelAnnotator(color_lookup=sv.ColorLookup.TRACK, text_scale=scale,
                             text_position=sv.Position.TOP_LEFT).annotate(
        out, det, labels=[caption(f, groups) for f in frame.faces])


class AnnotatedVideo:
    """An MP4 being written frame by frame (``with`` closes it).

    Args:
        path: the file (checked by the caller's write guard).
        width, height: the frames' size (odd sizes are padded by a pixel for H.264).
        fps: the nominal rate written in the header.
    """

    def __init__(self, path, width: int, height: int, fps: float | None = None):
        import av

        self.path = Path(path)
        self.codec = pick_encoder()
        if self.codec == "mpeg4":
            warnings.warn(f"no H.264 encoder in this FFmpeg: {self.path} is MPEG-4 part 2, which browsers do "
                          "not play (desktop players do)", stacklevel=2)
        self.size = (width + width % 2, height + height % 2)
        self._out = av.open(str(self.path), "w")
        rate = Fraction(round(fps or 25)).limit_denominator(1000)
        self._stream = self._out.add_stream(self.codec, rate=rate)
        self._stream.width, self._stream.height = self.size
        self._stream.pix_fmt = "yuv420p"
        self._stream.codec_context.time_base = Fraction(1, 1000)
        self._last_pts = -1
        self.frames = 0

    def write(self, image: np.ndarray, frame: FrameResult, groups: list[LabelGroup]) -> None:
        import av

        img = draw_frame(image, frame, groups)
        if img.shape[1] != self.size[0] or img.shape[0] != self.size[1]:
            img = np.pad(img, ((0, self.size[1] - img.shape[0]), (0, self.size[0] - img.shape[1]), (0, 0)), mode="edge")
        vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(img), format="rgb24")
        pts = max(int(round(frame.time * 1000)), self._last_pts + 1)  # strictly increasing
        vf.pts, vf.time_base, self._last_pts = pts, Fraction(1, 1000), pts
        for packet in self._stream.encode(vf):
            self._out.mux(packet)
        self.frames += 1

    def close(self) -> None:
        if self._out is None:
            return
        for packet in self._stream.encode():
            self._out.mux(packet)
        self._out.close()
        self._out = None

    def __enter__(self) -> "AnnotatedVideo":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def timeline_classes(table: pd.DataFrame, groups: list[LabelGroup], top: int = 5) -> list[str]:
    """The outputs a timeline shows: every class of a multiclass group (the emotions), a binary
    group's output, and the ``top`` most probable outputs of a larger multilabel group."""
    out = []
    for g in groups:
        if g.kind == "multiclass" or len(g.classes) <= top:
            out += g.classes
        else:
            means = table[[f"s_{c}" for c in g.classes]].mean().sort_values(ascending=False)
            out += [c[2:] for c in means.index[:top]]
    return out


def render_timelines(table: pd.DataFrame, groups: list[LabelGroup], folder, *, min_frames: int = 2) -> list[Path]:
    """One PNG per track (``track_<id>.png``) in ``folder`` (already claimed by the caller):
    the smoothed probabilities over time, the raw ones faint. Tracks seen in fewer than
    ``min_frames`` frames are left out."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder = Path(folder)
    paths = []
    for track, rows in table[table.track > 0].groupby("track"):
        if len(rows) < min_frames:
            continue
        classes = timeline_classes(rows, groups)
        fig, axes = plt.subplots(len(groups), 1, figsize=(9, 2.4 * len(groups) + 0.6), squeeze=False, sharex=True)
        for ax, g in zip(axes[:, 0], groups):
            for c in [c for c in classes if c in g.classes]:
                line, = ax.plot(rows.time, rows[f"s_{c}"], label=c, lw=1.8)
                ax.plot(rows.time, rows[f"p_{c}"], color=line.get_color(), lw=0.7, alpha=0.35)
            ax.set_ylim(-0.02, 1.02)
            ax.set_ylabel("probability")
            ax.set_title(g.name, fontsize=9, loc="left")
            ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
        axes[-1, 0].set_xlabel("time (s)")
        fig.suptitle(f"track {int(track)}: {rows.time.min():.1f}–{rows.time.max():.1f} s "
                     "(smoothed; raw faint)", fontsize=10)
        fig.tight_layout()
        path = folder / f"track_{int(track)}.png"
        fig.savefig(path, dpi=90)
        plt.close(fig)
        paths.append(path)
    return paths
