"""Video: the reader (files, sampling, variable frame rate, bad files), the tracker and the smoother
through ``Predictor.predict_video`` on short clips of moving synthetic faces written here."""
from __future__ import annotations

from fractions import Fraction

import av
import cv2
import numpy as np
import pandas as pd
import pytest

from facelab.errors import ConfigError, DataError
from facelab.predict.video import VideoReader, looks_like_video, write_test_clip
from facelab.predict.video_results import frames_table

from video_support import crossing_clip, flicker_predictor


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    """2.4 s at 15 fps: two faces crossing; the true centres per frame."""
    return crossing_clip(tmp_path_factory.mktemp("video") / "crossing.mp4")


def _grey_frames(n, shape=(48, 64)):
    return [np.full((*shape, 3), 10 * i % 256, np.uint8) for i in range(n)]


def test_reader_keeps_every_nth_frame_or_a_rate(tmp_path):
    path = tmp_path / "c.mp4"
    write_test_clip(path, _grey_frames(20), fps=10)
    assert [f.index for f in VideoReader(path, every=3)] == [0, 3, 6, 9, 12, 15, 18]
    times = [round(f.time, 2) for f in VideoReader(path, fps=4)]
    assert times == [0.0, 0.3, 0.5, 0.8, 1.0, 1.3, 1.5, 1.8]  # at most 4 per second, by the frames' times
    r = VideoReader(path, seconds=0.55)
    assert len(list(r)) == 6 and r.info.fps == 10 and r.info.codec == "mpeg4"
    with pytest.raises(ConfigError):
        VideoReader(path, every=0)


def test_reader_uses_the_frames_own_times_at_a_variable_rate(tmp_path):
    path = tmp_path / "vfr.mkv"
    stamps_ms = [0, 40, 80, 300, 340, 1000, 1040]
    with av.open(str(path), "w") as out:
        s = out.add_stream("mpeg4", rate=25)
        s.width, s.height, s.pix_fmt = 64, 48, "yuv420p"
        s.codec_context.time_base = Fraction(1, 1000)
        for ms, img in zip(stamps_ms, _grey_frames(len(stamps_ms))):
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            frame.pts, frame.time_base = ms, Fraction(1, 1000)
            for p in s.encode(frame):
                out.mux(p)
        for p in s.encode():
            out.mux(p)
    times = [round(f.time * 1000) for f in VideoReader(path)]
    assert times == stamps_ms


def test_a_phone_clip_is_turned_upright(tmp_path):
    path = tmp_path / "portrait.mp4"
    img = np.zeros((48, 64, 3), np.uint8)
    img[:8, :16] = 255  # a mark in the stored frame's top-left corner
    with av.open(str(path), "w") as out:
        s = out.add_stream("mpeg4", rate=10)
        s.width, s.height, s.pix_fmt = 64, 48, "yuv420p"
        s.set_display_rotation(90)  # shown turned 90° counter-clockwise, as a phone records portrait
        for _ in range(3):
            for p in s.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(p)
        for p in s.encode():
            out.mux(p)
    frame = next(iter(VideoReader(path)))
    assert frame.image.shape == (64, 48, 3)
    assert frame.image[-8:, :4].mean() > 200 and frame.image[:8, :4].mean() < 50  # the mark is bottom-left


def _audio_only(path):
    with av.open(str(path), "w") as out:
        s = out.add_stream("aac", rate=16000)
        for k in range(8):
            frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
            frame.sample_rate, frame.pts = 16000, k * 1024
            for p in s.encode(frame):
                out.mux(p)
        for p in s.encode():
            out.mux(p)
    return path


def _zero_frames(path):
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (64, 48))
    w.release()
    return path


def _truncated(path):
    write_test_clip(path.with_suffix(".full.mp4"), _grey_frames(20), fps=10)
    data = path.with_suffix(".full.mp4").read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def _unknown_codec(path):
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (64, 48))
    for img in _grey_frames(5):
        w.write(img)
    w.release()
    path.write_bytes(path.read_bytes().replace(b"MJPG", b"QQQQ"))  # a codec tag no decoder knows
    return path


@pytest.mark.parametrize("make, words", [
    (_unknown_codec, "its video codec is not one FFmpeg can decode"),
    (_truncated, "cannot be read as a video"),
    (lambda p: (p.write_bytes(b"not a video at all" * 50), p)[1], "cannot be read as a video"),
    (_audio_only, "has no video stream (it holds audio)"),
    (_zero_frames, "holds no video frames"),
    (lambda p: p, "does not exist"),
])
def test_bad_files_name_the_file(tmp_path, make, words):
    suffix = ".m4a" if make is _audio_only else ".avi" if make in (_zero_frames, _unknown_codec) else ".mp4"
    path = make(tmp_path / f"bad{suffix}")
    with pytest.raises(DataError) as e:
        list(VideoReader(path))
    assert words in e.value.message and str(path) in e.value.message and e.value.fix


def test_a_video_is_told_from_a_photo(tmp_path, clip):
    odd = tmp_path / "clip.bin"
    odd.write_bytes(clip[0].read_bytes())
    still = tmp_path / "still.png"
    cv2.imwrite(str(still), np.zeros((10, 10, 3), np.uint8))
    assert looks_like_video(clip[0]) and looks_like_video(odd) and not looks_like_video(still)


def _by_true_face(frames, truth):
    """For each true face, the track ids of the boxes found on it (one per frame it was found)."""
    seen = {0: [], 1: []}
    for fr in frames:
        for f in fr.faces:
            cx, cy = f.box.center
            for k, (tx, ty) in enumerate(truth[fr.index]):
                if abs(cx - tx) < 40 and abs(cy - ty) < 50:
                    seen[k].append(f.track)
    return seen


def _flips(frames):
    labels: dict[int, list[str]] = {}
    for fr in frames:
        for f in fr.faces:
            if f.track > 0:
                labels.setdefault(f.track, []).append(f.labels["flicker"])
    return sum(sum(a != b for a, b in zip(v, v[1:])) for v in labels.values())


def test_tracks_follow_two_crossing_faces(clip):
    path, truth = clip
    video = flicker_predictor().predict_video(path, smooth=0.5)
    frames = list(video)
    assert len(frames) == len(truth) and all(fr.image is None for fr in frames)  # pixels are not kept
    seen = _by_true_face(frames, truth)
    for k, ids in seen.items():
        assert len(ids) >= 0.9 * len(truth), f"face {k} found in {len(ids)} of {len(truth)} frames"
        main = max(set(ids), key=ids.count)
        assert main > 0 and ids.count(main) / len(ids) >= 0.95, (k, ids)
    assert set(max(set(v), key=v.count) for v in seen.values()) == {1, 2}  # two faces, two ids
    summary = video.summary()
    long = [t for t in summary.tracks if t.duration > 2.0]
    assert [t.track for t in long] == [1, 2] and summary.frames_analysed == len(truth)
    assert all(t.dominant == {"flicker": "Smiling"} and 0.5 < t.share["flicker"] <= 1 for t in long)


def test_smoothing_reduces_label_flips(clip):
    path, truth = clip
    raw = list(flicker_predictor(seed=3).predict_video(path, smooth=0, hold=0))
    smoothed = list(flicker_predictor(seed=3).predict_video(path, smooth=1.0, hold=0))
    assert _flips(raw) >= 6
    assert _flips(smoothed) * 3 <= _flips(raw), (_flips(smoothed), _flips(raw))
    # smoothing off: the smoothed columns are the raw ones
    assert all(f.smoothed == f.probabilities for fr in raw for f in fr.faces)


def test_held_labels_change_less_and_keep_the_probabilities(clip):
    """The default hold (hysteresis) on top of the smoothing: fewer label changes, the same
    probabilities, and labels that still follow the probabilities outside the margin."""
    from facelab.predict.video_predict import HOLD

    path, truth = clip
    loose = list(flicker_predictor(seed=3).predict_video(path, smooth=0, hold=0))
    held = list(flicker_predictor(seed=3).predict_video(path, smooth=0))
    assert _flips(held) < _flips(loose), (_flips(held), _flips(loose))
    for a, b in zip(loose, held):
        for fa, fb in zip(a.faces, b.faces):
            assert fa.smoothed == fb.smoothed
            p = fb.smoothed["Smiling"]
            if abs(p - 0.5) > HOLD:  # outside the margin the label is the threshold's
                assert fb.labels["flicker"] == ("Smiling" if p >= 0.5 else "not Smiling")


def test_hold_is_checked():
    with pytest.raises(ConfigError, match="hold"):
        flicker_predictor().predict_video("clip.mp4", hold=0.7)


@pytest.mark.parametrize("kind,classes,previous,probs,want", [
    ("multiclass", ["happy", "sad", "neutral"], "sad", {"happy": 0.45, "sad": 0.40, "neutral": 0.15}, "sad"),
    ("multiclass", ["happy", "sad", "neutral"], "sad", {"happy": 0.55, "sad": 0.30, "neutral": 0.15}, "happy"),
    ("multiclass", ["happy", "sad", "neutral"], None, {"happy": 0.45, "sad": 0.40, "neutral": 0.15}, "happy"),
    ("multilabel", ["Smiling", "Bangs"], "Smiling", {"Smiling": 0.45, "Bangs": 0.55}, "Smiling"),
    ("multilabel", ["Smiling", "Bangs"], "Smiling", {"Smiling": 0.35, "Bangs": 0.65}, "Bangs"),
    ("multilabel", ["Smiling", "Bangs"], "none", {"Smiling": 0.55, "Bangs": 0.2}, "none"),
])
def test_label_hysteresis_of_every_kind(kind, classes, previous, probs, want):
    from facelab.predict.video_results import LabelGroup

    g = LabelGroup("m", kind, classes, None if kind == "multiclass" else (0.5,) * len(classes))
    assert g.label(probs, previous, hold=0.1) == want


def test_sampling_and_the_tables(clip):
    path, truth = clip
    video = flicker_predictor().predict_video(path, every=2, smooth=0.5)
    frames = list(video)
    assert [fr.index for fr in frames] == list(range(0, len(truth), 2))
    table = frames_table(frames, video.classes, video.groups)
    assert list(table.columns) == ["frame", "time", "track", "x", "y", "w", "h", "angle", "score", "landmarks",
                                   "label_flicker", "p_Smiling", "s_Smiling", "note"]
    assert len(table) >= len(frames) * 2 - 2 and table["time"].is_monotonic_increasing
    summary = video.summary()
    tracks = summary.to_pandas()
    assert {"track", "first", "last", "duration", "frames", "dominant_flicker", "share_flicker",
            "mean_Smiling"} <= set(tracks.columns)
    d = summary.to_dict()
    assert d["every"] == 2 and d["info"]["width"] == 480 and d["frames_decoded"] == len(truth)
    assert d["tracks"][0]["dominant"] == {"flicker": "Smiling"}


@pytest.mark.slow
def test_a_4k_clip_is_streamed_in_bounded_memory(tmp_path):
    import tracemalloc

    path = tmp_path / "4k.mp4"
    frame = np.zeros((2160, 3840, 3), np.uint8)
    frame[::64] = 255  # stripes: something to encode
    write_test_clip(path, [np.roll(frame, 8 * i, axis=0) for i in range(40)], fps=25)
    video = flicker_predictor().predict_video(path)
    tracemalloc.start()
    try:
        n = sum(1 for _ in video)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert n == 40
    one = frame.nbytes  # 25 MB: all 40 frames would be 1 GB
    assert peak < 16 * one, f"peak {peak / 1e6:.0f} MB"


def test_a_missing_camera_is_named():
    with pytest.raises(DataError) as e:
        list(VideoReader(63))
    assert "camera 63" in e.value.message and e.value.fix


def test_a_missed_face_keeps_its_id_and_a_newcomer_gets_a_new_one():
    from facelab.faces.detect import FaceBox
    from facelab.predict.track import FaceTracker

    t = FaceTracker()
    for k in range(5):  # a face moving right at 100 px/s, 10 frames/s
        assert t.update([FaceBox(100 + 10 * k, 100, 50, 50, 0.9)], k / 10) == [1]
    assert t.update([], 0.5) == [] and t.update([], 1.0) == []
    # missed for a second, seen again 90 px further on (no overlap with where it was): the same id
    assert t.update([FaceBox(230, 105, 50, 50, 0.9)], 1.5) == [1]
    # it leaves; another face enters far away (more than 3 face sizes): a new id, from its second frame
    assert t.update([FaceBox(500, 400, 50, 50, 0.9)], 2.5) == [-1]
    assert t.update([FaceBox(502, 401, 50, 50, 0.9)], 2.6) == [2]


def test_ctrl_c_keeps_what_was_read(clip, tmp_path):
    from facelab.predict.video_files import predict_video_files

    seen = []

    def stop_after_five(frame):
        seen.append(frame.index)
        if len(seen) == 5:
            raise KeyboardInterrupt

    report = predict_video_files(flicker_predictor(), clip[0], out=tmp_path / "faces.csv", on_frame=stop_after_five)
    assert report.interrupted and "stopped by the user" in report.summary.note
    table = pd.read_csv(report.out)
    assert sorted(set(table.frame)) == seen == [0, 1, 2, 3, 4]
