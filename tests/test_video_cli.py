"""`facelab predict clip.mp4` and `facelab predict RUN --live URL` from the command line, with the
shipped models, on clips written here and a real HTTP server on the loopback interface."""
from __future__ import annotations

import io
import json
import socket
import threading
import time
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pandas as pd
import pytest
from PIL import Image

from facelab.predict.video import VideoReader

from predict_support import run_cli
from video_support import crossing_clip, crossing_frames

TABLE_START = ["frame", "time", "track", "x", "y", "w", "h", "angle", "score", "landmarks"]


def _cli(args, capsys):
    return run_cli(args, capsys, collapse_out=False)  # tables and JSON on stdout are read back


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return crossing_clip(tmp_path_factory.mktemp("cli-video") / "two faces.mp4", seconds=1.2, fps=10)[0]


def test_a_video_gives_its_table_annotated_video_and_timelines(clip, tmp_path, capsys):
    out, ann, tl = tmp_path / "faces.csv", tmp_path / "annotated.mp4", tmp_path / "timeline"
    code, cap = _cli(["predict", str(clip), "--every", "2", "--out", str(out), "--annotate", str(ann),
                      "--timeline", str(tl), "--smooth", "0.3", "--no-progress"], capsys)
    assert code == 0, cap.err
    assert "smoothing each track over 0.3 s" in cap.err and "6 frames analysed of 12 decoded" in cap.out
    table = pd.read_csv(out)
    assert list(table.columns[:10]) == TABLE_START
    assert {"label_celeba-attributes", "label_fer-emotions", "p_Smiling", "s_Smiling", "p_happy", "s_happy"} <= \
        set(table.columns)
    reader = VideoReader(ann)
    frames = list(reader)
    assert len(frames) == 6 and reader.info.codec in ("h264", "mpeg4")
    assert (reader.info.width, reader.info.height) == (480, 320)
    assert frames[-1].time == pytest.approx(1.0, abs=0.01)  # written at the frames' own times
    assert "annotated video:" in cap.out and str(ann) in cap.out.replace("\n", "")
    counts = table.track[table.track > 0].value_counts()
    tracks = sorted(counts[counts >= 2].index)  # a track seen once has no timeline
    assert len(tracks) >= 1
    assert sorted(p.name for p in tl.glob("*.png")) == [f"track_{t}.png" for t in tracks]


def test_annotate_onto_an_existing_file_is_refused(clip, tmp_path, capsys):
    mine = tmp_path / "holiday.mp4"
    mine.write_bytes(b"my own video")
    code, cap = _cli(["predict", str(clip), "--annotate", str(mine), "--no-progress"], capsys)
    assert code == 2 and "already exists and facelab did not write it" in cap.err and "holiday.mp4" in cap.err
    assert mine.read_bytes() == b"my own video"


def test_json_summary_and_a_wrong_table_format(clip, tmp_path, capsys):
    from facelab.predict.video_predict import HOLD

    code, cap = _cli(["predict", str(clip), "--fps", "5", "--json", "--no-progress"], capsys)
    assert code == 0, cap.err
    body = json.loads(cap.out)
    assert body["frames_analysed"] == 6 and body["fps"] == 5 and "happy" in body["classes"]
    assert body["hold"] == HOLD  # the library's default label hysteresis
    code, cap = _cli(["predict", str(clip), "--fps", "5", "--json", "--no-progress", "--hold", "0"], capsys)
    assert code == 0 and json.loads(cap.out)["hold"] == 0
    code, cap = _cli(["predict", str(clip), "--out", str(tmp_path / "faces.json")], capsys)
    assert code == 2 and "CSV or Parquet" in cap.err


@contextmanager
def mjpeg_server(frames, fps: float = 10, repeat: int = 3):
    """A real HTTP server on 127.0.0.1 sending ``frames`` as an MJPEG stream (multipart JPEGs)."""
    jpegs = []
    for f in frames:
        buf = io.BytesIO()
        Image.fromarray(f).save(buf, "JPEG", quality=85)
        jpegs.append(buf.getvalue())

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
            self.end_headers()
            try:
                for j in jpegs * repeat:
                    self.wfile.write(b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n" % len(j)
                                     + j + b"\r\n")
                    time.sleep(1 / fps)
            except (BrokenPipeError, ConnectionResetError):
                pass

        def log_message(self, *args):
            pass

    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{srv.server_address[1]}/stream.mjpg"
    finally:
        srv.shutdown()
        srv.server_close()


def test_live_stream_prints_lines_and_writes_the_table(tmp_path, capsys):
    frames, _ = crossing_frames(1.0, 10)
    out = tmp_path / "live.parquet"
    with mjpeg_server(frames) as url:
        code, cap = _cli(["predict", "fer-emotions", "--live", url, "--seconds", "2.2", "--out", str(out),
                          "--no-progress"], capsys)
    assert code == 0, cap.err
    table = pd.read_parquet(out)
    assert list(table.columns[:10]) == TABLE_START and table.time.max() <= 2.2
    assert 12 <= table.frame.max() + 1 <= 26  # about 10 frames a second, timed as they arrived
    lines = [ln for ln in cap.out.splitlines() if " track " in ln and ln.strip()[0].isdigit()]
    seconds = {ln.split("s")[0].strip().split(".")[0] for ln in lines}
    if len(table[table.track > 0]):  # faces found: one line per second per track
        assert {"0", "1", "2"} >= seconds and len(seconds) >= 2


def test_a_stream_that_never_starts_times_out(capsys):
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(4)  # accepts connections, never answers
    try:
        t0 = time.monotonic()
        code, cap = _cli(["predict", "fer-emotions", "--live", f"http://127.0.0.1:{sock.getsockname()[1]}/cam",
                          "--timeout", "1", "--no-progress"], capsys)
        assert code == 2 and "no answer from" in cap.err and "within 1 s" in cap.err
        assert time.monotonic() - t0 < 30
    finally:
        sock.close()
