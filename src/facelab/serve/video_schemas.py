"""Bodies of ``POST /v1/predict/video``: the per-track summary and the per-frame table, validated
from :meth:`VideoSummary.to_dict <facelab.predict.video_results.VideoSummary.to_dict>` and
:meth:`FrameResult.to_dict <facelab.predict.video_results.FrameResult.to_dict>` so the API and
the library cannot drift apart."""
from __future__ import annotations

from pydantic import BaseModel, Field

from .schemas import BoxOut


class TrackOut(BaseModel):
    track: int = Field(description="the face track's id (stable across frames)")
    first: float = Field(description="seconds from the video's start when the face was first seen")
    last: float
    duration: float
    frames: int = Field(description="analysed frames the face was classified in")
    mean: dict[str, float] = Field(description="mean probability of each output over the track")
    dominant: dict[str, str] = Field(description="per model: the label shown for the largest share of frames "
                                                 "(from the smoothed probabilities)")
    share: dict[str, float] = Field(description="per model: that label's share of the track's frames")


class TrackedFaceOut(BaseModel):
    track: int = Field(description="-1: not (yet) part of a track")
    box: BoxOut
    probabilities: dict[str, float]
    smoothed: dict[str, float] = Field(description="the track's exponential average up to this frame")
    labels: dict[str, str] = Field(description="per model, the label of the smoothed probabilities")
    note: str | None = None


class FrameOut(BaseModel):
    frame: int = Field(description="the frame's index among all decoded frames")
    time: float = Field(description="seconds from the first frame (the frame's own timestamp)")
    faces: list[TrackedFaceOut]


class VideoOut(BaseModel):
    """A video's faces: the tracks, and every analysed frame's faces."""

    model_config = {"json_schema_extra": {"examples": [{
        "request_id": "3f2a", "runs": ["fer-emotions"], "source": "talk.mp4", "classes": ["happy", "neutral"],
        "info": {"width": 640, "height": 480, "fps": 25.0, "frames": 250, "codec": "h264", "duration": 10.0},
        "frames_decoded": 250, "frames_analysed": 125, "faces": 125, "smooth": 0.5, "every": 2, "fps": None,
        "seconds": 4.1, "note": None,
        "tracks": [{"track": 1, "first": 0.0, "last": 9.9, "duration": 9.9, "frames": 125,
                    "mean": {"happy": 0.71, "neutral": 0.2}, "dominant": {"fer-emotions": "happy"},
                    "share": {"fer-emotions": 0.86}}],
        "frames": [{"frame": 0, "time": 0.0, "faces": [{
            "track": 1, "box": {"x": 250, "y": 130, "w": 140, "h": 140, "score": 0.99},
            "probabilities": {"happy": 0.8, "neutral": 0.1}, "smoothed": {"happy": 0.8, "neutral": 0.1},
            "labels": {"fer-emotions": "happy"}}]}]}]}}

    request_id: str | None = None
    runs: list[str]
    source: str | None
    classes: list[str]
    info: dict
    frames_decoded: int
    frames_analysed: int
    faces: int
    smooth: float
    hold: float = 0.0
    every: int
    fps: float | None = None
    seconds: float
    note: str | None = None
    tracks: list[TrackOut]
    frames: list[FrameOut]
