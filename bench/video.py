"""Video benchmarks on a clip built from real faces: throughput, tracking, flicker.

The clip: 60 s, 640x480, 25 fps (H.264). CelebA faces (aligned 178x218 images, pasted through
a feathered oval mask) move along smooth Lissajous paths across a textured background, scaled
(0.75–1.25) and turned (±12°) as they go; three at a time, nine tracks in all, entering and
leaving at known times, sometimes crossing. Each track is one CelebA image, so its true label is
that image's ``Smiling`` attribute; the true box of every face in every frame is known.

Parts (``--parts``, comma list):

1. ``speed``: video frames per second through ``predict_video`` with the shipped models
   (``celeba-attributes`` + ``fer-emotions``) at ``--every 1`` and ``--every 2``; target: at
   ``--every 2``, >= 25 video frames per second (real time). TIMING: run it alone.
2. ``tracking``: detections matched to the true faces (centre within 0.5 face sizes); per true
   face, the share of its matched frames that carry its main track id (target >= 95%), and ID
   switches per track-minute.
3. ``flicker``: on the same detections, ``Smiling`` label changes per track-minute from the raw
   probabilities, from the smoothed ones (``--smooth``) and in the labels ``predict_video`` gives
   (smoothed and held, ``--hold``), with sweeps of the hold and of the time constant through the
   library's own code, and the accuracy of each against the true labels; target: >= 5x fewer
   changes in the labels than in the raw probabilities, at the same accuracy.

``tracking`` and ``flicker`` share one pass with the ``celeba-attributes`` model (load-independent).

Usage:
    nice -n 10 python bench/video.py --parts tracking,flicker          # about 10 min on 2 busy cores
    python bench/video.py --parts speed                                # alone on the machine
    python bench/video.py --parts tracking,flicker --clip-seconds 6    # a quick check
    python bench/video.py --seed 1 --tag val1                          # a validation clip, for choosing settings
"""
from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # threads sleep, not spin, on a shared machine

import argparse  # noqa: E402
import json  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
SIZE = (640, 480)
BASE = 0.78  # the face oval is about 100x140 px at scale 1


@dataclass
class Track:
    id: int
    image: np.ndarray  # the CelebA face (RGB 218x178)
    smiling: bool
    start: float
    end: float
    phase: np.ndarray  # random phases / periods of its path


def _celeba(root: Path, n: int, rng: np.random.Generator) -> list[tuple[np.ndarray, bool]]:
    attrs = pd.read_csv(root / "celeba" / "list_attr_celeba.csv", usecols=["image_id", "Smiling"])
    folder = root / "celeba" / "img_align_celeba" / "img_align_celeba"
    have = attrs[attrs.image_id.map(lambda f: (folder / f).is_file())]
    picks = pd.concat([have[have.Smiling == 1].sample(n // 2 + n % 2, random_state=int(rng.integers(1 << 30))),
                       have[have.Smiling == -1].sample(n // 2, random_state=int(rng.integers(1 << 30)))])
    out = []
    for _, row in picks.sample(frac=1, random_state=0).iterrows():
        out.append((cv2.cvtColor(cv2.imread(str(folder / row.image_id)), cv2.COLOR_BGR2RGB), row.Smiling == 1))
    return out


def _schedule(n_tracks: int, seconds: float, rng) -> list[tuple[float, float]]:
    """Three faces at a time: track k starts when track k-3 ends (the first three at 0)."""
    spans, ends = [], [0.0, seconds / 9, 2 * seconds / 9]  # staggered so tracks do not all change at once
    for k in range(n_tracks):
        lane = k % 3
        start = ends[lane] if k >= 3 else 0.0 + (0 if k == 0 else rng.uniform(0, 1.5))
        length = seconds / 3 * rng.uniform(0.8, 1.2)
        end = min(seconds, start + length) if k < n_tracks - 3 else seconds
        spans.append((start, end))
        ends[lane] = end + rng.uniform(0.5, 1.5)
    return spans


def _pose(tr: Track, t: float) -> tuple[float, float, float, float]:
    """Centre x, y, scale and angle of a track at time t."""
    p = tr.phase
    w, h = SIZE
    cx = w / 2 + (w / 2 - 110) * np.sin(2 * np.pi * t / p[0] + p[1])
    cy = h / 2 + (h / 2 - 120) * np.sin(2 * np.pi * t / p[2] + p[3])
    scale = 1.0 + 0.25 * np.sin(2 * np.pi * t / p[4] + p[5])
    angle = 12 * np.sin(2 * np.pi * t / p[6] + p[7])
    return cx, cy, scale, angle


def _mask() -> np.ndarray:
    m = np.zeros((218, 178), np.float32)
    cv2.ellipse(m, (89, 118), (66, 88), 0, 0, 360, 1.0, -1)
    return cv2.GaussianBlur(m, (0, 0), 5)[..., None]


def _background(rng) -> np.ndarray:
    w, h = SIZE
    low = cv2.resize(rng.uniform(40, 210, (6, 8, 3)).astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
    tex = cv2.resize(rng.normal(0, 18, (h // 4, w // 4, 3)).astype(np.float32), (w, h))
    return np.clip(low + tex, 0, 255)


def plan_clip(root: Path, seconds: float = 60, fps: int = 25, seed: int = 0) -> tuple[list[Track], pd.DataFrame]:
    """The tracks and the truth: one row per face per frame (frame, time, true, cx, cy, size, smiling)."""
    rng = np.random.default_rng(seed)
    faces = _celeba(root, 9, rng)
    spans = _schedule(9, seconds, rng)
    tracks = [Track(k + 1, img, smile, s, e, np.r_[rng.uniform(9, 16), rng.uniform(0, 6.3), rng.uniform(7, 13),
                                                     rng.uniform(0, 6.3), rng.uniform(5, 9), rng.uniform(0, 6.3),
                                                     rng.uniform(4, 8), rng.uniform(0, 6.3)])
              for k, ((img, smile), (s, e)) in enumerate(zip(faces, spans))]
    rows = []
    for i in range(int(seconds * fps)):
        t = i / fps
        for tr in tracks:
            if tr.start <= t < tr.end:
                cx, cy, s, a = _pose(tr, t)
                rows.append({"frame": i, "time": t, "true": tr.id, "cx": cx, "cy": cy, "size": 140 * BASE * s,
                             "smiling": tr.smiling})
    return tracks, pd.DataFrame(rows)


def render_clip(tracks: list[Track], dest: Path, seconds: float = 60, fps: int = 25, seed: int = 0) -> None:
    """Write the clip (H.264 when PyAV has it): the tracks' faces pasted through a feathered oval."""
    import av

    from facelab.predict.video_render import pick_encoder

    bg, mask = _background(np.random.default_rng(seed + 1)), _mask()
    with av.open(str(dest), "w") as out:
        st = out.add_stream(pick_encoder(), rate=fps)
        st.width, st.height, st.pix_fmt = SIZE[0], SIZE[1], "yuv420p"
        for i in range(int(seconds * fps)):
            t = i / fps
            frame = bg.copy()
            for tr in tracks:
                if not tr.start <= t < tr.end:
                    continue
                cx, cy, s, a = _pose(tr, t)
                m = cv2.getRotationMatrix2D((89, 118), a, BASE * s)
                m[:, 2] += (cx - 89, cy - 118)
                face = cv2.warpAffine(tr.image, m, SIZE, flags=cv2.INTER_LINEAR).astype(np.float32)
                alpha = cv2.warpAffine(mask, m, SIZE)[..., None]
                frame = frame * (1 - alpha) + face * alpha
            vf = av.VideoFrame.from_ndarray(np.clip(frame, 0, 255).astype(np.uint8), format="rgb24")
            for p in st.encode(vf):
                out.mux(p)
        for p in st.encode():
            out.mux(p)


def match(truth: pd.DataFrame, table: pd.DataFrame, columns: dict[str, str] | None = None) -> pd.DataFrame:
    """Each true face of each frame with the detection on it (Hungarian on centre distance, gated
    at 0.5 face sizes); unmatched true faces get track NaN. ``columns``: what to copy from the
    detection (default ``p`` ← ``p_Smiling``, ``s`` ← ``s_Smiling``, ``l`` ← whether its label
    says Smiling)."""
    from scipy.optimize import linear_sum_assignment

    table = table.assign(cx=table.x + table.w / 2, cy=table.y + table.h / 2)
    label = next((c for c in table.columns if c.startswith("label_")), None)
    if label is not None:
        table = table.assign(l_Smiling=table[label].map(lambda v: float("Smiling" in str(v).split("+"))))
    columns = columns or {"p": "p_Smiling", "s": "s_Smiling", **({"l": "l_Smiling"} if label else {})}
    by_frame = dict(tuple(table.groupby("frame")))
    out = []
    for frame, tr in truth.groupby("frame"):
        det = by_frame.get(frame)
        tr = tr.copy()
        for k in ("track", *columns):
            tr[k] = np.nan
        if det is not None:
            d = np.hypot(tr.cx.values[:, None] - det.cx.values[None], tr.cy.values[:, None] - det.cy.values[None])
            d = d / tr["size"].values[:, None]
            r, c = linear_sum_assignment(d)
            for i, j in zip(r, c):
                if d[i, j] <= 0.5:
                    tr.iloc[i, tr.columns.get_loc("track")] = det.track.values[j]
                    for k, col in columns.items():
                        tr.iloc[i, tr.columns.get_loc(k)] = det[col].values[j]
        out.append(tr)
    return pd.concat(out, ignore_index=True)


def tracking_figures(m: pd.DataFrame, fps: float) -> dict:
    per, switches, minutes = [], 0, 0.0
    for true, g in m.groupby("true"):
        minutes += len(g) / fps / 60
        ids = g.track.dropna()
        ids = ids[ids > 0].astype(int).tolist()
        if not ids:
            per.append({"true": int(true), "frames": len(g), "found": 0, "main_share": 0.0, "switches": 0})
            continue
        main = max(set(ids), key=ids.count)
        sw = sum(a != b for a, b in zip(ids, ids[1:]))
        switches += sw
        per.append({"true": int(true), "frames": len(g), "found": round(len(ids) / len(g), 4),
                    "main_track": main, "main_share": round(ids.count(main) / len(ids), 4), "switches": sw})
    found = [p for p in per if p["found"]]
    return {"tracks": per, "track_minutes": round(minutes, 2), "id_switches": switches,
            "id_switches_per_track_minute": round(switches / minutes, 3),
            "faces_never_found": len(per) - len(found),
            "min_main_share": min((p["main_share"] for p in found), default=0.0),
            "frames_on_main_track": round(sum(p["main_share"] * p["found"] * p["frames"] for p in found)
                                          / max(sum(p["found"] * p["frames"] for p in found), 1), 4),
            "target_main_share": 0.95}


def _changes(m: pd.DataFrame, col: str, threshold: float) -> tuple[int, float]:
    changes, right, n = 0, 0, 0
    for _, g in m.dropna(subset=[col]).groupby("true"):
        lab = (g[col].values >= threshold)
        changes += int(np.sum(lab[1:] != lab[:-1]))
        right += int(np.sum(lab == g.smiling.values))
        n += len(lab)
    return changes, right / max(n, 1)


def _held(table: pd.DataFrame, column: str, threshold: float, hold: float) -> list[float]:
    """Each row's Smiling label (1/0) from ``column``, held track by track as ``predict_video`` does."""
    from facelab.predict.video_results import LabelGroup, TrackLabels

    held = TrackLabels([LabelGroup("m", "binary", ["Smiling"], (threshold,))], hold)
    return [float(held(r.track, {"Smiling": getattr(r, column)})["m"] == "Smiling") for r in table.itertuples()]


def flicker_figures(m: pd.DataFrame, table: pd.DataFrame, fps: float, threshold: float, smooth: float,
                    hold: float) -> dict:
    """Label changes per track-minute: raw probabilities against threshold, the smoothed ones
    against threshold, and the labels ``predict_video`` gives (smoothed and held: what a user
    sees); sweeps of the time constant and of the hold through the library's own code."""
    from facelab.predict.track import TrackSmoother

    truth = m[["frame", "time", "true", "cx", "cy", "size", "smiling"]]
    minutes = m.dropna(subset=["p"]).groupby("true").size().sum() / fps / 60

    def row(c: int, acc: float, **what) -> dict:
        return {**what, "changes": c, "changes_per_track_minute": round(c / minutes, 2), "accuracy": round(acc, 4)}

    raw_c, raw_acc = _changes(m, "p", threshold)
    rows = [row(raw_c, raw_acc, smooth_s=0.0, hold=0.0)]
    rows.append(row(*_changes(m, "s", threshold), smooth_s=smooth, hold=0.0))
    rows.append(row(*_changes(m, "l", 0.5), smooth_s=smooth, hold=hold, **{"from": "predict_video labels"}))
    main = rows[-1]
    for h in (0.05, 0.1, 0.15, 0.2):  # the library's hysteresis over the smoothed probabilities
        m2 = match(truth, table.assign(held=_held(table, "s_Smiling", threshold, h)), {"held": "held"})
        rows.append(row(*_changes(m2, "held", 0.5), smooth_s=smooth, hold=h))
    for tau in (0.25, 0.5, 2.0):  # the library's smoother over the raw probabilities of each track
        sm = TrackSmoother(tau)
        s = [sm.update(int(r.track), {"p": r.p_Smiling}, r.time)["p"] if r.track > 0 else r.p_Smiling
             for r in table.itertuples()]
        m2 = match(truth, table.assign(s_Smiling=s), {"s": "s_Smiling"})
        rows.append(row(*_changes(m2, "s", threshold), smooth_s=tau, hold=0.0))
    return {"threshold": threshold, "track_minutes": round(minutes, 2), "sweep": rows,
            "reduction": round(raw_c / max(main["changes"], 1), 2), "target_reduction": 5}


def run_quality(clip: Path, truth: pd.DataFrame, fps: int, smooth: float, detector: str | None,
                hold: float | None = None) -> dict:
    from facelab.predict.predictor import Predictor
    from facelab.predict.video_results import frames_table
    from facelab.pretrained import shipped_path

    pred = Predictor.from_run(shipped_path("celeba-attributes"), detector=detector)
    video = pred.predict_video(clip, smooth=smooth, progress=True, **({} if hold is None else {"hold": hold}))
    frames = list(video)
    table = frames_table(frames, video.classes, video.groups)
    m = match(truth, table)
    threshold = float(pred.thresholds[pred.classes.index("Smiling")])
    return {"detector": pred.detector_name, "frames": video.analysed, "seconds": round(video.elapsed, 1),
            "found_share": round(float(m.track.notna().mean()), 4),
            "tracking": tracking_figures(m, fps),
            "flicker": flicker_figures(m, table, fps, threshold, smooth, video.hold)}


def run_speed(clip: Path, detector: str | None) -> list[dict]:
    from facelab.predict.combined import CombinedPredictor

    pred = CombinedPredictor.shipped(detector=detector)
    list(pred.predict_video(clip, seconds=1.0))  # warm-up: models, cascades, kernels
    out = []
    for every in (1, 2):
        t0 = time.perf_counter()
        video = pred.predict_video(clip, every=every, progress=True)
        n = sum(1 for _ in video)
        secs = time.perf_counter() - t0
        out.append({"every": every, "frames_decoded": video.reader.decoded, "frames_analysed": n,
                    "seconds": round(secs, 2), "video_frames_per_s": round(video.reader.decoded / secs, 1),
                    "analysed_frames_per_s": round(n / secs, 1),
                    "target_video_frames_per_s": 25 if every == 2 else None})
        print(out[-1])
    return out


def main(argv=None) -> None:
    from facelab.paths import shared_data

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--parts", default="tracking,flicker", help="comma list of speed,tracking,flicker")
    ap.add_argument("--clip-seconds", type=float, default=60.0)
    ap.add_argument("--fps", type=int, default=25)
    ap.add_argument("--smooth", type=float, default=1.0)
    ap.add_argument("--hold", type=float, default=None, help="label hysteresis (default: the library's)")
    ap.add_argument("--seed", type=int, default=0, help="the clip's faces and paths (0: the reported clip; "
                                                        "others: validation clips for choosing settings)")
    ap.add_argument("--detector", default=None, help="face detector (default: the models' own)")
    ap.add_argument("--tag", default=None, help="suffix of the results file")
    args = ap.parse_args(argv)
    root = shared_data()
    if root is None or not (root / "celeba").is_dir():
        raise SystemExit("needs the real data (FACELAB_DATA with celeba/)")
    parts = set(args.parts.split(","))
    out: dict = {"clip": {"seconds": args.clip_seconds, "fps": args.fps, "size": SIZE, "tracks": 9},
                 "load_average_1m_start": round(os.getloadavg()[0], 2), "cpus": os.cpu_count()}
    tmp = Path(tempfile.mkdtemp(prefix="facelab-bench-video-"))
    clip = tmp / "faces.mp4"
    t0 = time.perf_counter()
    out["clip"]["seed"] = args.seed
    tracks, truth = plan_clip(root, args.clip_seconds, args.fps, seed=args.seed)
    render_clip(tracks, clip, args.clip_seconds, args.fps, seed=args.seed)
    out["clip"]["build_s"] = round(time.perf_counter() - t0, 1)
    print(f"clip {clip} ({clip.stat().st_size / 1e6:.1f} MB, {truth.frame.nunique()} frames, "
          f"{len(truth)} faces) in {out['clip']['build_s']} s")
    if parts & {"tracking", "flicker"}:
        out["quality"] = run_quality(clip, truth, args.fps, args.smooth, args.detector, args.hold)
        print(json.dumps(out["quality"], indent=1))
    if "speed" in parts:
        out["speed"] = run_speed(clip, args.detector)
    out["load_average_1m_end"] = round(os.getloadavg()[0], 2)
    RESULTS.mkdir(parents=True, exist_ok=True)
    dest = RESULTS / (f"video-{args.tag}.json" if args.tag else f"video-{'-'.join(sorted(parts))}.json")
    dest.write_text(json.dumps(out, indent=1, default=str))
    print(f"wrote {dest}")


if __name__ == "__main__":
    main()
