"""Training on several processes: torch ``DistributedDataParallel`` on CPU with gloo.

``train_ddp(..., nproc=N)`` / ``facelab train ... --nproc N`` starts N worker processes on this
machine, torchrun-style (``RANK``, ``WORLD_SIZE``, ``MASTER_ADDR``, ``MASTER_PORT`` in their
environment). Every worker runs the ordinary :func:`facelab.train.trainer.train` with
``dist=Dist(rank, world)`` (an argument: no module state, no environment written); the training
loop, given one, then

- keeps only its shard of the training rows (:meth:`Dist.batches`: rows ``rank::world`` after
  dropping the remainder, so that every process runs the same number of steps) and its share of
  the batch (``batch_size // world``; the gradients are averaged, so the effective batch, the
  steps per epoch and the learning-rate schedule are those of one process);
- wraps the model in DDP for the training step (the saved weights are the bare model's);
- agrees on the clock (:meth:`Dist.agree`: the largest elapsed time of all processes), so that
  every process stops at the same step when the time budget is spent.

One process writes: rank 0 writes the run folder; the others are handed the same
:class:`~facelab.train.distributed.Dist` with ``is_writer`` False, and the run's
:class:`~facelab.runs.lifecycle.Lifecycle` writes nothing for them. Validation
runs in every process on the same weights, so the "best epoch" and early-stopping decisions agree.
``--resume`` works as in one process: every worker starts from the run's last checkpoint.

A worker that dies (killed, out of memory) makes the launcher stop the others and raise a
:class:`~facelab.errors.RunError` naming the run to resume. On a Spark cluster the same worker
function runs under ``pyspark.ml.torch.distributor.TorchDistributor`` (:func:`train_on_spark`).

Example: docs/python.md#scale-out.
"""
from __future__ import annotations

import gc
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from ..errors import ConfigError, FacelabError, RunError
from ..train.distributed import Dist

WORKER_TIMEOUT_S = 600  # a collective waiting this long for a peer fails (a silent hang never ends)


# -- the worker ------------------------------------------------------------------------------------
def _jsonable(kwargs: dict) -> dict:
    from ..train.config import TrainConfig

    out = {}
    for k, v in kwargs.items():
        if isinstance(v, TrainConfig):
            v = v.to_dict()
        elif isinstance(v, Path):
            v = str(v)
        elif isinstance(v, tuple):
            v = list(v)
        out[k] = v
    try:
        json.dumps(out)
    except TypeError as e:
        raise ConfigError(f"training options for several processes must be plain values: {e}",
                          fix="pass paths, numbers, strings, lists and dicts (no callbacks) with nproc") from None
    return out


def run_worker(data, kwargs: dict) -> str | None:
    """One DDP process: join the group (torchrun's environment), train, leave. Returns rank 0's run
    folder, in every process. Used by the local launcher and by TorchDistributor."""
    import torch.distributed as dist

    from ..train.trainer import train

    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    kwargs = dict(kwargs)
    if rank > 0:
        kwargs["progress"] = False  # one progress bar: rank 0's
    dist.init_process_group("gloo", rank=rank, world_size=world,
                            timeout=timedelta(seconds=float(os.environ.get("FACELAB_DDP_TIMEOUT", WORKER_TIMEOUT_S))))
    try:
        run = train(data, dist=Dist(rank, world), **kwargs)
        # Leave together, every process with rank 0's run folder (whichever process a launcher reads):
        # one that tears its group down while another still finishes the run can abort as it exits.
        found = [str(run.path) if rank == 0 and run is not None else None]
        dist.broadcast_object_list(found, src=0)
    finally:
        gc.collect()  # the DDP wrapper and its reducer go before the group they use
        dist.destroy_process_group()
    return found[0]


def _worker_main(spec_file: str) -> None:
    """``python -m facelab.scale.ddp SPEC``: a worker started by :func:`train_ddp`."""
    spec = json.loads(Path(spec_file).read_text())
    rank = int(os.environ["RANK"])
    scratch = Path(spec["scratch"])
    try:
        path = run_worker(spec["data"], spec["kwargs"])
        if rank == 0:
            (scratch / "result.json").write_text(json.dumps({"path": path}))
        code = 0
    except FacelabError as e:
        (scratch / f"error{rank}.json").write_text(json.dumps({"type": type(e).__name__, "message": e.message,
                                                               "path": e.path, "fix": e.fix}))
        code = 2
    except KeyboardInterrupt:
        code = 130
    # Everything is written: exit without the interpreter's teardown, where torch's and gloo's
    # C++ threads may still be joined in any order (an abort, exit code -6, on a finished run).
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


# -- the launcher ----------------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def train_ddp(data, *, nproc: int, **kwargs):
    """Train with ``nproc`` DDP processes on this machine; returns the :class:`Run` (see module doc).

    Raises:
        ConfigError: bad ``nproc`` or options that cannot be sent to a process (callbacks).
        RunError: a worker died; the others were stopped (the message says how to resume).
    """
    from ..runs.run import Run
    from ..train.trainer import find_resumable

    nproc = int(nproc)
    if nproc < 1:
        raise ConfigError(f"nproc must be at least 1 (got {nproc})", fix="pass --nproc 2")
    if kwargs.get("callbacks"):
        raise ConfigError("callbacks cannot run in several processes", fix="drop callbacks, or train with nproc=1")
    kwargs.pop("callbacks", None)
    if kwargs.get("model"):
        from ..models import get_model

        if not get_model(kwargs["model"]).trains_in_epochs:
            raise ConfigError(f"{kwargs['model']} is a classical model: several processes do not apply",
                              fix="drop --nproc, or pick a network (cnn, mobilenetv2, resnet18)")
    if kwargs.get("resume"):  # every process must continue the same run: resolve it once, here
        kwargs["resume"] = str(find_resumable(kwargs["resume"], kwargs.get("name"), kwargs.get("target"),
                                               kwargs.get("model") or "cnn", runs_dir=kwargs.get("runs_dir")).resolve())
    if not kwargs.get("threads"):  # the processes share the cores
        kwargs["threads"] = max(1, (os.cpu_count() or 1) // nproc)
    scratch = Path(tempfile.mkdtemp(prefix="facelab-ddp-"))
    spec = scratch / "spec.json"
    data = None if data is None else str(data.path) if hasattr(data, "path") else str(data)
    spec.write_text(json.dumps({"data": data,
                                "kwargs": _jsonable(kwargs), "scratch": str(scratch)}))
    import facelab

    env = dict(os.environ)
    pkg_root = str(Path(facelab.__file__).resolve().parents[1])
    env["PYTHONPATH"] = pkg_root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(_free_port()), WORLD_SIZE=str(nproc),
               LOCAL_WORLD_SIZE=str(nproc), OMP_NUM_THREADS=str(kwargs["threads"]))
    if sys.platform.startswith("linux"):
        env.setdefault("GLOO_SOCKET_IFNAME", "lo")  # one machine: the loopback interface
    procs = []
    try:
        for r in range(nproc):
            procs.append(subprocess.Popen([sys.executable, "-m", "facelab.scale.ddp", str(spec)],
                                          env={**env, "RANK": str(r), "LOCAL_RANK": str(r)}))
        failed = _watch(procs)
        if failed is not None:
            rank, code = failed
            err = _worker_error(scratch, rank)
            if err is not None:
                raise err
            raise RunError(f"DDP worker {rank} of {nproc} died (exit code {code}); the other workers were stopped",
                           path=_run_hint(kwargs),
                           fix="the run keeps its last finished epoch's checkpoint: continue it with "
                               f"`facelab train DATA --resume NAME --nproc {nproc}` (see `facelab runs`)")
        result = json.loads((scratch / "result.json").read_text())
        return Run.load(result["path"])
    finally:
        _stop(procs)
        shutil.rmtree(scratch, ignore_errors=True)


def _watch(procs: list[subprocess.Popen]) -> tuple[int, int] | None:
    """Wait for every worker; return (rank, exit code) of the first that failed, else None."""
    try:
        while True:
            codes = [p.poll() for p in procs]
            for r, c in enumerate(codes):
                if c not in (None, 0):
                    return r, c
            if all(c == 0 for c in codes):
                return None
            time.sleep(0.2)
    except KeyboardInterrupt:  # Ctrl-C reached the workers too: rank 0 saves; wait for it
        for p in procs:
            try:
                p.wait(timeout=60)
            except subprocess.TimeoutExpired:
                pass
        raise


def _stop(procs: list[subprocess.Popen]) -> None:
    """Stop workers still running: SIGINT first (rank 0 then marks the run interrupted), then kill."""
    alive = [p for p in procs if p.poll() is None]
    for p in alive:
        p.send_signal(signal.SIGINT)
    deadline = time.time() + 20
    for p in alive:
        try:
            p.wait(timeout=max(0.1, deadline - time.time()))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def _worker_error(scratch: Path, rank: int) -> FacelabError | None:
    """The FacelabError a worker reported (rank 0's first: it names the run), as the same class."""
    from .. import errors

    for r in [0, rank] + [i for i in range(64) if i not in (0, rank)]:
        f = scratch / f"error{r}.json"
        if f.is_file():
            e = json.loads(f.read_text())
            cls = getattr(errors, e["type"], RunError)
            return cls(e["message"], path=e["path"], fix=e["fix"])
    return None


def _run_hint(kwargs: dict) -> str | None:
    from ..paths import runs_root

    if kwargs.get("resume"):
        return str(kwargs["resume"])
    root = Path(kwargs["runs_dir"]) if kwargs.get("runs_dir") else runs_root()
    runs = sorted(root.glob("*/state.json"), key=lambda p: p.stat().st_mtime)
    return str(runs[-1].parent) if runs else None


# -- Spark clusters --------------------------------------------------------------------------------
def train_on_spark(data, *, nproc: int, master: str | None = None, **kwargs) -> str:
    """Run the same DDP training under Spark's ``TorchDistributor`` (``nproc`` processes on the
    cluster's executors; in local mode on this machine). Returns rank 0's run folder.

    The data and ``FACELAB_RUNS`` must be on storage every executor sees.

    Example: docs/python.md#scale-out.
    """
    from .spark import get_spark

    spark = get_spark(master)
    from pyspark.ml.torch.distributor import TorchDistributor

    from ..train.trainer import find_resumable

    if kwargs.get("resume"):
        kwargs["resume"] = str(find_resumable(kwargs["resume"], kwargs.get("name"), kwargs.get("target"),
                                               kwargs.get("model") or "cnn", kwargs.get("runs_dir")).resolve())
    kwargs.setdefault("threads", 1)
    local = spark.sparkContext.master.startswith("local")
    data = None if data is None else str(data.path) if hasattr(data, "path") else str(data)
    return TorchDistributor(num_processes=int(nproc), local_mode=local, use_gpu=False).run(
        run_worker, data, _jsonable(kwargs))


if __name__ == "__main__":
    _worker_main(sys.argv[1])
