"""2-process DistributedDataParallel training on CPU (gloo) on generated data: the run folder is
the one a single process writes, the time budget stops every process at the same step, a dead
worker stops the others with a clear message, and --resume continues from the checkpoint."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.slow

COMMON = dict(target="Smiling", model="cnn", seed=0, batch_size=32, progress=False, threads=1)


@pytest.fixture(scope="module")
def small(synth_celeba, tmp_path_factory):
    from facelab.data.cache import prepare

    return prepare(synth_celeba, size=24, out=tmp_path_factory.mktemp("ddp") / "c24", progress=False)


def test_two_processes_write_one_run_like_one_process(small, runs_dir):
    from facelab.runs.run import Run
    from facelab.scale.ddp import train_ddp
    from facelab.train.trainer import train

    one = train(small.path, epochs=2, name="one", **COMMON)
    two = train_ddp(small.path, nproc=2, epochs=2, name="two", **COMMON)
    assert sorted(p.name for p in runs_dir.iterdir()) == ["one", "two"]  # rank 1 wrote nothing here
    a, b = Run.load(one.path), Run.load(two.path)
    assert b.status == "finished" and b.state["epoch"] == 2
    # half the batch on each of 2 processes: the same steps per epoch as one process
    assert abs(b.state["step"] - a.state["step"]) <= 2, (a.state["step"], b.state["step"])
    assert sorted(f.name for f in a.path.iterdir()) == sorted(f.name for f in b.path.iterdir())
    assert 0.0 <= b.metrics["val_accuracy"] <= 1.0 and len(b.history()) == 2
    x = small.images[:8]
    assert b.predict_proba(np.asarray(x)).shape == (8, 1)


def test_time_budget_stops_both_processes(small, runs_dir):
    from facelab.scale.ddp import train_ddp

    t0 = time.perf_counter()
    run = train_ddp(small.path, nproc=2, minutes=0.15, name="budget", **COMMON)
    assert run.state["stop_reason"] == "minutes" and run.status == "finished"
    assert time.perf_counter() - t0 < 120  # start-up, 9 s of training, the final evaluation


def test_classical_model_and_callbacks_are_refused(small):
    from facelab.errors import ConfigError
    from facelab.scale.ddp import train_ddp

    with pytest.raises(ConfigError, match="classical"):
        train_ddp(small.path, nproc=2, target="Smiling", model="logreg")
    with pytest.raises(ConfigError, match="callbacks"):
        train_ddp(small.path, nproc=2, target="Smiling", callbacks=[print])


def _children(pid: int) -> dict[int, int]:
    """rank -> pid of the DDP workers under ``pid``."""
    import psutil

    out = {}
    for c in psutil.Process(pid).children(recursive=True):
        try:
            env = c.environ()
        except (psutil.Error, OSError):
            continue
        if "RANK" in env and "facelab.scale.ddp" in " ".join(c.cmdline()):
            out[int(env["RANK"])] = c.pid
    return out


def test_dead_worker_stops_the_others_and_resume_continues(small, runs_dir, tmp_path):
    env = {**os.environ, "FACELAB_RUNS": str(runs_dir)}
    cmd = [sys.executable, "-m", "facelab.cli.main", "train", str(small.path), "--target", "Smiling",
           "--model", "cnn", "--epochs", "40", "--seed", "0", "--batch-size", "32", "--threads", "1",
           "--name", "dies", "--nproc", "2", "--no-progress"]
    p = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    state = runs_dir / "dies" / "state.json"
    deadline = time.time() + 180
    while time.time() < deadline and p.poll() is None:
        try:
            if json.loads(state.read_text()).get("epoch", 0) >= 1:
                break
        except (OSError, ValueError):
            pass
        time.sleep(0.2)
    assert p.poll() is None, p.communicate()
    workers = _children(p.pid)
    assert set(workers) == {0, 1}
    os.kill(workers[1], signal.SIGKILL)
    out, err = p.communicate(timeout=120)
    assert p.returncode == 2, err
    assert "DDP worker 1 of 2 died" in err and "--resume" in err and "Traceback" not in err.split("error:")[-1]
    st = json.loads(state.read_text())
    assert st["status"] != "finished" and st["epoch"] >= 1
    assert (runs_dir / "dies" / "checkpoint.safetensors").is_file() or any((runs_dir / "dies").glob("checkpoint*"))
    # resume with fewer epochs left: it continues from the checkpoint and finishes
    r = subprocess.run([sys.executable, "-m", "facelab.cli.main", "train", "--resume", "--name", "dies",
                        "--epochs", str(st["epoch"] + 1), "--nproc", "2", "--threads", "1", "--no-progress"],
                       env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    st2 = json.loads(state.read_text())
    assert st2["status"] == "finished" and st2["epoch"] == st["epoch"] + 1
