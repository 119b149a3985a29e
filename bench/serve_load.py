"""Load test of `facelab serve`: N concurrent clients POST a 640x480 photo to /v1/predict for S seconds.

Reports requests/s, p50/p99 latency, errors and the server's RSS at start, middle and end.
Loopback only, bounded in time and in request count. Run it under the shared benchmark lock:

    flock /tmp/facelab-bench.lock /work/venv/bin/python bench/serve_load.py [--run NAME --runs-dir DIR]

Without --run, a tiny CNN is trained on synthetic faces first (said in the output). The photo is a
real face (LFW `people/` or CelebA from $FACELAB_DATA) scaled into a 640x480 frame when the data is
there, else a synthetic face photo (said in the output).

``--raw`` sends the photo as a raw ``image/jpeg`` body instead of multipart; ``--serve-arg`` passes
options to ``facelab serve`` (e.g. ``--serve-arg=--no-fast --serve-arg=--backend=torch``).
``--soak N`` sends N requests instead (8 clients) mixing good photos with bad uploads (empty,
text, truncated JPEG, over the upload limit): it counts 5xx answers (must be 0), checks that every
bad upload gets a 4xx with an error message, and reports the server's RSS at start/middle/end.
"""
from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

RESULTS = Path(__file__).parent / "results"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_photo() -> tuple[bytes, str]:
    """A 640x480 JPEG with one face, and where it came from."""
    from PIL import Image

    from facelab.paths import shared_data

    data = shared_data()
    candidates = []
    if data is not None:
        candidates = sorted((data / "people").glob("*/*.jpg"))[:1] or \
            sorted((data / "celeba").glob("img_align_celeba/img_align_celeba/*.jpg"))[:1]
    canvas = Image.new("RGB", (640, 480), (120, 110, 100))
    if candidates:
        face = Image.open(candidates[0]).convert("RGB")
        scale = 440 / face.height
        face = face.resize((round(face.width * scale), 440), Image.BILINEAR)
        canvas.paste(face, ((640 - face.width) // 2, 20))
        source = f"real photo {candidates[0]} scaled into 640x480"
    else:
        from facelab.app.samples import make_sample

        canvas = Image.fromarray(make_sample("smiling-woman"))
        source = "SYNTHETIC face photo (no real data found under FACELAB_DATA)"
    buf = io.BytesIO()
    canvas.save(buf, "JPEG", quality=90)
    return buf.getvalue(), source


def tiny_run(work: Path) -> tuple[Path, str]:
    """Train a tiny CNN on synthetic CelebA faces (when no --run is given)."""
    import torch

    from facelab.data.cache import prepare
    from facelab.data.synth import synthesize
    from facelab.train.trainer import train

    torch.set_num_threads(2)
    src = synthesize(work / "synth", kind="celeba", n=600, seed=0)
    # One process: 600 images take seconds, and no worker pool is forked from this process.
    ds = prepare(src, size=32, out=work / "prep", progress=False, workers=1)
    runs = work / "runs"
    os.environ["FACELAB_RUNS"] = str(runs)
    run = train(ds.path, target="Smiling", model="cnn", epochs=1, name="load-tiny", seed=0)
    return Path(run.path).parent, Path(run.path).name


def wait_ready(url: str, proc: subprocess.Popen, timeout: float = 120) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited during start-up (code {proc.returncode})")
        try:
            if httpx.get(f"{url}/v1/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise SystemExit(f"the server did not become ready in {timeout:.0f} s")


def rss_mb(pid: int) -> float:
    p = psutil.Process(pid)
    return sum(x.memory_info().rss for x in [p, *p.children(recursive=True)]) / 2**20


def _post(c, photo: bytes, run: str, raw: bool):
    if raw:
        return c.post("/v1/predict", params={"run": run, "filename": "photo.jpg"}, content=photo,
                      headers={"content-type": "image/jpeg"})
    return c.post("/v1/predict", params={"run": run}, files={"file": ("photo.jpg", photo, "image/jpeg")})


def _timing(header: str | None) -> dict[str, float]:
    out = {}
    for part in (header or "").split(","):
        if ";dur=" in part:
            k, v = part.strip().split(";dur=")
            out[k] = float(v)
    return out


def _request(url: str, photo: bytes, run: str, raw: bool) -> bytes:
    """The whole HTTP/1.1 request, built once: what ``_post`` sends, as bytes."""
    from urllib.parse import urlencode, urlsplit

    u = urlsplit(url)
    if raw:
        query, body, ctype = urlencode({"run": run, "filename": "photo.jpg"}), photo, "image/jpeg"
    else:
        boundary = "facelab-load-boundary"
        query, ctype = urlencode({"run": run}), f"multipart/form-data; boundary={boundary}"
        body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"photo.jpg\"\r\n"
                "Content-Type: image/jpeg\r\n\r\n").encode() + photo + f"\r\n--{boundary}--\r\n".encode()
    head = (f"POST /v1/predict?{query} HTTP/1.1\r\nHost: {u.hostname}:{u.port}\r\nContent-Type: {ctype}\r\n"
            f"Content-Length: {len(body)}\r\nConnection: keep-alive\r\n\r\n")
    return head.encode() + body


async def _exchange(reader, writer, request: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send one request on a kept-alive connection; (status, headers, body)."""
    writer.write(request)
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:] if ln)}
    body = await reader.readexactly(int(headers.get("content-length", 0)))
    return status, headers, body


async def load(url: str, photo: bytes, run: str, clients: int, seconds: float, max_requests: int,
               on_half, raw: bool = False) -> dict:
    """``clients`` closed-loop clients, each on its own kept-alive connection sending a request
    built once (raw asyncio streams: the load client takes little of the machine it shares with
    the server; ``client_cores`` says how much)."""
    from urllib.parse import urlsplit

    latencies: list[float] = []
    stages: dict[str, list[float]] = {}
    errors: dict[str, int] = {}
    faces_seen = []
    count = 0
    request = _request(url, photo, run, raw)
    u = urlsplit(url)
    start = time.perf_counter()
    cpu0 = time.process_time()
    deadline = start + seconds
    half = {"done": False}

    async def client() -> None:
        nonlocal count
        reader = writer = None
        while time.perf_counter() < deadline and count < max_requests:
            count += 1
            t0 = time.perf_counter()
            try:
                if writer is None:
                    reader, writer = await asyncio.open_connection(u.hostname, u.port)
                status, headers, body = await asyncio.wait_for(_exchange(reader, writer, request), 60)
                dt = time.perf_counter() - t0
                if status == 200:
                    latencies.append(dt)
                    for k, v in _timing(headers.get("server-timing")).items():
                        stages.setdefault(k, []).append(v)
                    faces_seen.append(len(json.loads(body)["predictions"][0]["faces"]))
                else:
                    errors[str(status)] = errors.get(str(status), 0) + 1
                if headers.get("connection", "").lower() == "close":
                    writer.close()
                    reader = writer = None
            except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, asyncio.TimeoutError, ValueError) as e:
                errors[type(e).__name__] = errors.get(type(e).__name__, 0) + 1
                if writer is not None:
                    writer.close()
                reader = writer = None
            if not half["done"] and time.perf_counter() > start + seconds / 2:
                half["done"] = True
                on_half()
        if writer is not None:
            writer.close()

    await asyncio.gather(*(client() for _ in range(clients)))
    elapsed = time.perf_counter() - start
    client_cores = (time.process_time() - cpu0) / elapsed
    lat = sorted(latencies)
    q = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))] * 1000 if lat else None  # noqa: E731
    return {"requests_ok": len(lat), "errors": errors, "error_count": sum(errors.values()), "seconds": round(elapsed, 2),
            "requests_per_s": round(len(lat) / elapsed, 2), "p50_ms": q(0.50), "p99_ms": q(0.99),
            "mean_ms": statistics.fmean(lat) * 1000 if lat else None,
            "faces_per_response": sorted(set(faces_seen)), "client_cores": round(client_cores, 3),
            "server_timing_median_ms": {k: round(statistics.median(v), 2) for k, v in stages.items()}}


def bad_uploads(photo: bytes, max_upload_mb: float) -> dict[str, tuple]:
    """name -> (multipart file tuple or raw bytes, content type, raw?) of each bad upload kind."""
    return {
        "empty": (("empty.jpg", b"", "image/jpeg"), None, False),
        "text": (("notes.txt", b"just some text, not a photo\n" * 20, "text/plain"), None, False),
        "text_as_jpeg": (("fake.jpg", b"just some text, not a photo\n" * 20, "image/jpeg"), None, False),
        "truncated_jpeg": (("cut.jpg", photo[: len(photo) // 3], "image/jpeg"), None, False),
        "truncated_raw": (photo[:400], "image/jpeg", True),
        "oversized": (("huge.jpg", b"\xff\xd8" + os.urandom(int(max_upload_mb * 2**20) + 1024), "image/jpeg"), None, False),
    }


async def soak(url: str, photo: bytes, run: str, n: int, on_half, max_upload_mb: float = 10.0) -> dict:
    """n requests from 8 clients: half good photos (multipart and raw), half bad uploads."""
    import httpx

    bad = bad_uploads(photo, max_upload_mb)
    kinds = ["good", "good_raw"] * 3 + list(bad)  # 50% good photos
    plan = [kinds[i % len(kinds)] for i in range(n)]
    stats: dict[str, dict] = {}
    messages: dict[str, str] = {}
    idx = {"i": 0}

    async def client(c: httpx.AsyncClient) -> None:
        while idx["i"] < n:
            i = idx["i"]
            idx["i"] += 1
            kind = plan[i]
            try:
                if kind in ("good", "good_raw"):
                    r = await _post(c, photo, run, kind == "good_raw")
                else:
                    body, ctype, raw = bad[kind]
                    if raw:
                        r = await c.post("/v1/predict", params={"run": run, "filename": "cut.jpg"}, content=body,
                                         headers={"content-type": ctype})
                    else:
                        r = await c.post("/v1/predict", params={"run": run}, files={"file": body})
                code = str(r.status_code)
                if r.status_code >= 400:
                    try:
                        err = r.json().get("error") or ""
                    except ValueError:
                        err = ""
                    messages.setdefault(kind, err)
                    if not err:
                        code += "-no-message"
            except httpx.HTTPError as e:
                code = type(e).__name__
            s = stats.setdefault(kind, {})
            s[code] = s.get(code, 0) + 1
            if i == n // 2:
                on_half()

    async with httpx.AsyncClient(base_url=url, timeout=60) as c:
        await asyncio.gather(*(client(c) for _ in range(8)))
    five = sum(v for k in stats.values() for code, v in k.items() if code.startswith("5"))
    bad_ok = all(all(code.startswith("4") and "no-message" not in code for code in stats.get(k, {})) for k in bad)
    good_ok = all(set(stats.get(k, {})) <= {"200"} for k in ("good", "good_raw"))
    return {"requests": n, "status_by_kind": stats, "server_errors_5xx": five,
            "every_bad_upload_4xx_with_message": bad_ok, "every_good_photo_200": good_ok,
            "messages": messages}


class _Done(Exception):
    """The soak finished (skips the load test)."""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--run", help="a run name in --runs-dir, or several joined by commas (each request asks all of "
                                  "them: the shipped models are celeba-attributes,fer-emotions); default: train a "
                                  "tiny one on synthetic data")
    ap.add_argument("--runs-dir", type=Path, default=None)
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--max-requests", type=int, default=200_000, help="hard bound on requests sent")
    ap.add_argument("--workers", type=int, default=None, help="server inference threads (default: cores)")
    ap.add_argument("--warmup", type=int, default=8)
    ap.add_argument("--out", type=Path, default=None, help="default bench/results/serve_load[-TAG].json")
    ap.add_argument("--tag", default=None, help="suffix of the results file (e.g. before, after)")
    ap.add_argument("--raw", action="store_true", help="send the photo as a raw image/jpeg body")
    ap.add_argument("--serve-arg", action="append", default=[], help="an option for `facelab serve` (repeatable)")
    ap.add_argument("--soak", type=int, default=0, help="send N mixed good/bad requests instead of the load test")
    args = ap.parse_args()
    if args.out is None:
        stem = "serve_soak" if args.soak else "serve_load"
        args.out = RESULTS / (f"{stem}-{args.tag}.json" if args.tag else f"{stem}.json")
    load_start = round(os.getloadavg()[0], 2)
    if args.seconds > 600 or args.clients > 256:
        raise SystemExit("bounded: at most 600 s and 256 clients")

    with tempfile.TemporaryDirectory(prefix="facelab-load-") as tmp:
        if args.run:
            from facelab.paths import runs_root

            runs_dir, run, run_note = (args.runs_dir or runs_root()), args.run, f"run {args.run}"
        else:
            print("no --run given: training a tiny CNN (Smiling, 32 px, 1 epoch) on SYNTHETIC faces…", flush=True)
            runs_dir, run = tiny_run(Path(tmp))
            run_note = "tiny CNN trained on synthetic faces (no --run given)"
        photo, photo_note = make_photo()
        print(f"photo: {photo_note} ({len(photo) / 1024:.0f} KiB)", flush=True)

        port = free_port()
        url = f"http://127.0.0.1:{port}"  # loopback only
        names = run.split(",")
        run = run if len(names) == 1 else "all"  # each request asks every served run
        cmd = [sys.executable, "-m", "facelab.cli.main", "serve", *names, "--runs-dir", str(runs_dir),
               "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
        if args.workers:
            cmd += ["--workers", str(args.workers)]
        cmd += args.serve_arg
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        stderr_lines: list[str] = []
        threading.Thread(target=lambda: stderr_lines.extend(proc.stderr), daemon=True).start()
        try:
            wait_ready(url, proc)
            import httpx

            single = []
            for _ in range(args.warmup):  # model and detector warm, allocator settled
                t0 = time.perf_counter()
                with httpx.Client(base_url=url, timeout=60) as c1:
                    _post(c1, photo, run, args.raw).raise_for_status()
                single.append(time.perf_counter() - t0)
            rss = {"idle": rss_mb(proc.pid)}
            if args.soak:
                rss["start"] = rss["idle"]
                res = asyncio.run(soak(url, photo, run, args.soak,
                                       on_half=lambda: rss.__setitem__("middle", rss_mb(proc.pid))))
                rss["end"] = rss_mb(proc.pid)
                raise _Done
            # A short burst at full concurrency first: buffers for 16 in-flight requests are
            # allocated once; growth after that (start → middle → end) would be a leak.
            asyncio.run(load(url, photo, run, args.clients, 3.0, 10_000, on_half=lambda: None, raw=args.raw))
            rss["start"] = rss_mb(proc.pid)
            res = asyncio.run(load(url, photo, run, args.clients, args.seconds, args.max_requests,
                                   on_half=lambda: rss.__setitem__("middle", rss_mb(proc.pid)), raw=args.raw))
            rss["end"] = rss_mb(proc.pid)
        except _Done:
            pass
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()

    result = {
        "benchmark": "serve_soak" if args.soak else "serve_load", "run": run_note, "photo": photo_note,
        "clients": 8 if args.soak else args.clients, "raw_body": args.raw, "serve_args": args.serve_arg,
        "load_avg_1m_at_start": load_start,
        **({} if args.soak else {"target_seconds": args.seconds}), **res,
        "single_client_median_ms": round(statistics.median(single[len(single) // 2:]) * 1000, 1),
        "note": "clients run in this process on the same machine as the server (loopback)",
        "server_rss_mb": {k: round(v, 1) for k, v in rss.items()},
        "rss_growth_mb": round(rss["end"] - rss["start"], 1),
        "machine": {"cores": psutil.cpu_count(), "logical_cores_available": len(os.sched_getaffinity(0)),
                    "python": platform.python_version(), "load_avg_1m_at_end": round(os.getloadavg()[0], 2)},
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
    }
    print(json.dumps(result, indent=2))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    if args.soak:
        print(f"\nsoak: {res['server_errors_5xx']} 5xx, bad uploads all 4xx with a message: "
              f"{res['every_bad_upload_4xx_with_message']}, good all 200: {res['every_good_photo_200']}, RSS "
              f"{rss['start']:.0f} → {rss.get('middle', float('nan')):.0f} → {rss['end']:.0f} MB (written to {args.out})")
        if res["server_errors_5xx"] or not res["every_bad_upload_4xx_with_message"]:
            print("server stderr tail:\n" + "".join(stderr_lines[-20:]), file=sys.stderr)
            raise SystemExit(1)
        return
    print(f"\n{result['requests_per_s']} req/s, p50 {result['p50_ms']:.0f} ms, p99 {result['p99_ms']:.0f} ms, "
          f"{result['error_count']} errors, RSS idle {rss['idle']:.0f}, load {rss['start']:.0f} → "
          f"{rss.get('middle', float('nan')):.0f} → {rss['end']:.0f} MB  (written to {args.out})")
    if result["error_count"]:
        print("server stderr tail:\n" + "".join(stderr_lines[-20:]), file=sys.stderr)
        raise SystemExit(1)


if __name__ == "__main__":
    main()
