"""``facelab predict [RUN] clip.mp4`` and ``facelab predict RUN --live URL|DEVICE``: calls
:func:`facelab.predict.video_files.predict_video_files` and prints (live lines, the track table)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

from rich.console import Console


class LiveLines:
    """Prints one line per second of video per track: its smoothed labels and the top output."""

    def __init__(self, console: Console, groups):
        self.console, self.groups = console, groups
        self.second = -1
        self.latest: dict[int, object] = {}

    def __call__(self, frame) -> None:
        for f in frame.faces:
            if f.track > 0:
                self.latest[f.track] = f
        sec = int(frame.time)
        if sec == self.second:
            return
        self.second = sec
        for track, f in sorted(self.latest.items()):
            p = f.smoothed or f.probabilities
            top = max(p.items(), key=lambda kv: kv[1]) if p else None
            labels = "; ".join(f"{v}" for v in f.labels.values()) or (f.note or "")
            self.console.print(f"{frame.time:7.1f}s  track {track:<3d} {labels}"
                               + (f"  ({top[0]} {top[1]:.2f})" if top else ""), highlight=False, markup=False)
        self.latest.clear()


def video_source(photos: list[str] | None, live: str | None, *, photo_options: bool) -> str | None:
    """The video or stream ``facelab predict`` was given, or None for photos (misuse refused)."""
    import typer

    from ..errors import ConfigError
    from ..predict.video import looks_like_video

    videos = [p for p in photos or [] if looks_like_video(p)]
    if live is None and not videos:
        return None
    if live is not None and photos:
        raise typer.BadParameter("give either --live or files, not both", param_hint="--live")
    if photo_options:
        raise ConfigError("--save-crops, --aligned and --format are for photos, not a video",
                          fix="drop them; a video's table format follows --out (.csv or .parquet)")
    if live is None and len(photos or []) > 1:
        raise typer.BadParameter(f"{videos[0]} is a video: give one video at a time, without photos",
                                 param_hint="PHOTOS")
    return live if live is not None else videos[0]


def track_table(summary, limit: int = 30):
    from rich.table import Table

    t = Table(title=f"{len(summary.tracks)} face tracks in {summary.frames_analysed} of "
                    f"{summary.frames_decoded} frames (smoothing {summary.smooth:g} s)")
    for col in ("track", "from", "to", "frames", "dominant (share of frames)", "top mean probabilities"):
        t.add_column(col, overflow="fold")
    for tr in summary.tracks[:limit]:
        dom = "; ".join(f"{lab} {tr.share[g]:.0%}" for g, lab in tr.dominant.items())
        top = sorted(tr.mean.items(), key=lambda kv: -kv[1])[:3]
        t.add_row(str(tr.track), f"{tr.first:.1f}s", f"{tr.last:.1f}s", str(tr.frames), dom,
                  "  ".join(f"{k} {v:.2f}" for k, v in top))
    if len(summary.tracks) > limit:
        t.caption = f"first {limit} tracks; all of them with --out faces.csv"
    return t


def run_video(pred, source: str, *, live: bool, out: Optional[Path], annotate: Optional[Path],
              timeline: Optional[Path], every: int, fps: Optional[float], smooth: float, hold: float,
              seconds: Optional[float], timeout: float, progress: bool, json_: bool) -> None:
    """Predict one video (or stream) and print what was found."""
    from ..predict.video_files import predict_video_files
    from ..predict.video_predict import label_groups

    err = Console(stderr=True)
    what = "stream" if live else "video"
    smoothing = f"smoothing each track over {smooth:g} s" if smooth > 0 else "no smoothing (--smooth 0)"
    smoothing += f", labels held within {hold:g} of their thresholds" if hold > 0 else ", labels not held (--hold 0)"
    err.print(f"{what} {source}: {pred.name}, every {every} frame(s)" + (f", at most {fps:g}/s" if fps else "")
              + f", {smoothing}" + (" — Ctrl-C stops and writes what was read" if live else ""), highlight=False)
    lines = LiveLines(Console(stderr=json_), label_groups(pred)) if live else None
    report = predict_video_files(pred, source, out=out, annotate=annotate, timeline=timeline, on_frame=lines,
                                 every=every, fps=fps, smooth=smooth, hold=hold, seconds=seconds, timeout=timeout,
                                 progress=None if progress else False)
    s = report.summary
    if json_:
        print(json.dumps({"run": pred.name, "classes": s.classes, **report.to_dict()}, indent=1))
    c = Console(stderr=json_)
    if not json_:
        c.print(track_table(s))
    c.print(f"[bold]{s.frames_analysed}[/] frames analysed of {s.frames_decoded} decoded, {s.faces} faces, "
            f"{len(s.tracks)} tracks ({s.seconds:.1f} s, {s.frames_analysed / max(s.seconds, 1e-9):.1f} frames/s)",
            highlight=False)
    if s.note:
        c.print(f"[yellow]note:[/] {s.note}", highlight=False)
    if report.out:
        c.print(f"table: {report.out}", highlight=False)
    if report.annotated:
        extra = "" if report.codec != "mpeg4" else " — MPEG-4 part 2: browsers will not play it"
        c.print(f"annotated video: {report.annotated} ({report.codec}{extra})", highlight=False)
    if report.timelines:
        c.print(f"timelines: {len(report.timelines)} PNG in {report.timelines[0].parent}", highlight=False)
