"""The run lifecycle: the one object that owns a run folder while a run trains.

Every kind of training (the classifier trainer, :mod:`facelab.train`; the GAN, :mod:`facelab.generate`)
creates, writes and finishes its run folder through a :class:`Lifecycle` and plugs in what is its
own through a :class:`RunTask`: one epoch (its steps and its evaluation), the checkpoint, the final
evaluation and the card. The lifecycle owns the rest:

- **the name**: a name a user gives goes through :func:`~.listing.check_name` (no ``/``, no ``..``:
  a run folder is always inside the runs folder); an unnamed run gets ``<stem>-<timestamp>``
  (``-2``, ``-3`` ... when that exists). The folder is created with one ``mkdir`` (atomic: two runs
  never share a folder) and an existing run is never overwritten;
- **the small files**: ``config.yaml``, ``task.json`` (with the folder's ``format_version``,
  :mod:`.migrate`), any other JSON, ``state.json`` and ``history.csv`` (one row per epoch; a row
  for an epoch already there replaces it, so a resume never duplicates one);
- **the order of writes**: after an epoch, the history row, then the task's checkpoint, then
  ``state.json`` last (it names what is on disk);
- **the failure policy** (one for every kind of run):

  * a non-finite loss (the task raises :class:`NonFiniteLoss`) sets ``status: nan`` and raises
    :class:`~facelab.errors.RunError` naming the run, the last good epoch and the fix; the last
    good checkpoint is kept untouched;
  * Ctrl-C (``KeyboardInterrupt``) lets the task save what a resume needs, sets
    ``status: interrupted``, logs how to resume, and re-raises ``KeyboardInterrupt`` (the CLI exits
    130);
  * any other error sets ``status: failed`` (with the reason) and re-raises;

- **resume**: :meth:`Lifecycle.resume` opens the folder with its state; the epoch loop continues
  from ``state["epoch"] + 1``;
- **tracking**: ``hooks`` (:class:`RunHook`, e.g. :mod:`facelab.train.tracking`'s MLflow and
  TensorBoard trackers) hear every finished epoch's row, the finished run, or that it stopped;
- **one writer**: under DDP only rank 0 writes (``writer=False`` elsewhere): every write of the
  lifecycle, and the task's checkpoint, evaluation and card, happen in the writing process only.

Example:
    >>> import tempfile
    >>> root = Path(tempfile.mkdtemp())
    >>> lc = Lifecycle.create("demo", stem="x", runs_dir=root)
    >>> lc.start(config={"model": "toy"}, task={"kind": "toy"})["status"]
    'running'
    >>> Lifecycle.create("../elsewhere", stem="x", runs_dir=root)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    facelab.errors.ConfigError: refused run name '../elsewhere'...
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Protocol

import yaml

from ..errors import ConfigError, RunError
from ..paths import runs_root
from .layout import CONFIG, HISTORY, STATE, TASK, read_json, write_json
from .listing import check_name
from .migrate import FORMAT_VERSION

log = logging.getLogger(__name__)


def now() -> str:
    """The current UTC time, as ``state.json`` records it."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class NonFiniteLoss(Exception):
    """Raised by a task's epoch when a loss is NaN or infinite: the lifecycle stops the run."""

    def __init__(self, epoch: int, step: int | None = None):
        super().__init__(f"non-finite loss in epoch {epoch}")
        self.epoch, self.step = epoch, step


@dataclass
class EpochResult:
    """What one epoch of a task returns: its ``history.csv`` row, and whether training stops after it."""

    row: dict
    stop: bool = False
    extra: dict = field(default_factory=dict)


class RunTask(Protocol):
    """What a kind of training plugs into the :class:`Lifecycle`."""

    def epoch(self, number: int) -> EpochResult | None:
        """Train (and evaluate) epoch ``number``; None when no epoch is left to run."""

    def checkpoint(self, lc: "Lifecycle", result: EpochResult) -> None:
        """Write what a resume needs after a finished epoch (the writing process only)."""

    def epoch_done(self, lc: "Lifecycle", result: EpochResult) -> None:
        """After ``state.json`` names the epoch: callbacks, warnings, the progress line (every process)."""

    def interrupted(self, lc: "Lifecycle") -> None:
        """On Ctrl-C, before ``state.json`` says interrupted (the writing process only)."""

    def nan_fix(self, lc: "Lifecycle") -> str:
        """The fix a NaN loss's error names."""

    def resume_command(self, lc: "Lifecycle") -> str:
        """The command that continues this run."""

    def evaluate(self, lc: "Lifecycle") -> None:
        """The final evaluation (metrics, predictions) once the epochs are done (the writing process only)."""

    def card(self, lc: "Lifecycle") -> None:
        """The model card and plots of the finished run (the writing process only)."""

    def result(self, lc: "Lifecycle") -> Any:
        """What training returns (the loaded run)."""


class RunHook(Protocol):
    """What follows a run from outside (a tracker): told in the writing process only."""

    def epoch_end(self, lc: "Lifecycle", row: dict) -> None:
        """After an epoch's row is in ``history.csv`` and ``state.json``."""

    def finished(self, lc: "Lifecycle", result: Any) -> None:
        """After the run is finished (``result``: the loaded run)."""

    def failed(self, lc: "Lifecycle") -> None:
        """The run stopped early (Ctrl-C, NaN, an error)."""


class Lifecycle:
    """A run folder while its run trains (see the module doc for the policy).

    Attributes:
        path, name: the run folder.
        state: the dict ``state.json`` holds (status, created, epoch, and the task's own fields).
        writer: False in a DDP process other than rank 0: nothing is written.
    """

    def __init__(self, path: Path, *, state: dict | None = None, writer: bool = True, hooks=()):
        self.path = Path(path)
        self.name = self.path.name
        self.state: dict = dict(state or {})
        self.writer = bool(writer)
        self.hooks: list[RunHook] = list(hooks) if writer else []

    # -- creation and resume ---------------------------------------------------------------------
    @classmethod
    def create(cls, name: str | None, *, stem: str, runs_dir: str | Path | None = None,
               writer: bool = True, hooks=(), what: str = "run") -> "Lifecycle":
        """A new run folder in ``runs_dir`` (default ``runs_root()``): ``name`` (checked; ``what``
        the error calls it), or ``<stem>-<timestamp>`` when no name is given.

        Raises:
            ConfigError: a refused name (a path, ``..``), or a run of that name exists.
            RunError: no free name (a thousand runs in the same second).
        """
        root = Path(runs_dir).expanduser() if runs_dir is not None else runs_root()
        if name:
            check_name(name, root, what=what)
        if not writer:  # a DDP process other than rank 0: rank 0 makes (and checks) the folder
            return cls(root / (name or stem), writer=False)
        root.mkdir(parents=True, exist_ok=True)
        if name:
            path = root / name
            try:
                path.mkdir()
            except FileExistsError:
                raise ConfigError(f"a run named {name!r} already exists", path=path,
                                  fix="choose another --name, or continue it with --resume") from None
            return cls(path, hooks=hooks)
        base = f"{stem}-{datetime.now().strftime('%Y%m%d-%H%M%S')}"
        for i in range(1, 1000):  # never overwrite: two runs in the same second get -2, -3, ...
            path = root / (base if i == 1 else f"{base}-{i}")
            try:
                path.mkdir()
                return cls(path, hooks=hooks)
            except FileExistsError:
                continue
        raise RunError("cannot find a free run name", path=root, fix="pass --name")

    @classmethod
    def resume(cls, path: str | Path, *, writer: bool = True, hooks=()) -> "Lifecycle":
        """An existing run folder, its state read (and brought to the current format) for a resume."""
        from .migrate import migrate

        path = Path(path)
        return cls(path, state=migrate(path)["state"], writer=writer, hooks=hooks)

    # -- the small files -------------------------------------------------------------------------
    def start(self, *, config: dict, task: dict, files: dict[str, Any] | None = None, **state) -> dict:
        """Write a new run's ``config.yaml``, ``task.json`` (with the format version), the other JSON
        ``files`` ({name: object}) and its first ``state.json`` (``status: running``)."""
        self.write_config(config)
        self.write_json(TASK, {**task, "format_version": FORMAT_VERSION})
        for fname, obj in (files or {}).items():
            self.write_json(fname, obj)
        self.state = {"status": "running", "created": now(), "epoch": 0, **state}
        self.save_state()
        return self.state

    def write_config(self, config: dict) -> None:
        """``config.yaml`` (atomically)."""
        if self.writer:
            tmp = self.path / (CONFIG + ".tmp")
            tmp.write_text(yaml.safe_dump(config, sort_keys=False))
            os.replace(tmp, self.path / CONFIG)

    def write_json(self, fname: str, obj) -> None:
        """A JSON file of the run folder (atomically)."""
        if self.writer:
            write_json(self.path / fname, obj)

    def read_json(self, fname: str) -> dict:
        return read_json(self.path / fname)

    def save_state(self, **updates) -> None:
        """Update and write ``state.json`` (``updated`` is stamped)."""
        self.state.update(updates)
        self.state["updated"] = now()
        if self.writer:
            write_json(self.path / STATE, self.state)

    def append_history(self, row: dict) -> None:
        """Add epoch ``row["epoch"]``'s row to ``history.csv``; rows of that epoch or later (left by an
        interrupted write) are replaced. Written to a temporary file and renamed."""
        if not self.writer:
            return
        import pandas as pd

        p = self.path / HISTORY
        old = pd.read_csv(p) if p.is_file() and p.stat().st_size else pd.DataFrame()
        if len(old) and "epoch" in old:
            old = old[old["epoch"] < row["epoch"]]
        hist = pd.concat([old, pd.DataFrame([row])], ignore_index=True) if len(old) else pd.DataFrame([row])
        tmp = p.with_name(p.name + ".tmp")
        hist.to_csv(tmp, index=False)
        tmp.replace(p)

    # -- the epoch loop and the policy -----------------------------------------------------------
    def train(self, task: RunTask) -> Any:
        """Run ``task``'s epochs from ``state["epoch"] + 1`` until it stops, then its evaluation and
        card; returns ``task.result(self)`` (None in a process that does not write).

        Raises:
            RunError: a non-finite loss (``status: nan``; the last good checkpoint is kept).
            KeyboardInterrupt: after saving (``status: interrupted``), on Ctrl-C.
        """
        self.save_state(status="running")
        try:
            while True:
                number = int(self.state.get("epoch", 0)) + 1
                result = task.epoch(number)
                if result is None:
                    break
                self.append_history(result.row)
                self.state["epoch"] = number
                if self.writer:
                    task.checkpoint(self, result)
                self.save_state()
                task.epoch_done(self, result)
                for hook in self.hooks:
                    hook.epoch_end(self, result.row)
                if result.stop:
                    break
            if not self.writer:
                return None
            task.evaluate(self)
            self.save_state(status="finished")
            task.card(self)
        except NonFiniteLoss as e:
            self.failed()
            self._stop_nan(task, e)
        except KeyboardInterrupt:
            self._stop_interrupted(task)
            self.failed()
            raise
        except Exception as e:
            self.mark_failed(e)
            raise
        return self.finished(task.result(self))

    def finished(self, result: Any) -> Any:
        """Tell the hooks the run finished; returns ``result``."""
        for hook in self.hooks:
            hook.finished(self, result)
        return result

    def failed(self) -> None:
        """Tell the hooks the run stopped early."""
        for hook in self.hooks:
            hook.failed(self)

    def _stop_nan(self, task: RunTask, e: NonFiniteLoss):
        self.save_state(status="nan", nan_epoch=e.epoch)
        done = int(self.state.get("epoch", 0))
        kept = (f"the last good checkpoint (epoch {done}) is kept in {self.path}" if done
                else f"no epoch had finished; the run folder is {self.path}")
        where = f"epoch {e.epoch}" + (f" (step {e.step})" if e.step is not None else "")
        raise RunError(f"the loss became NaN/infinite in {where} of {self.name}; training stopped and {kept}",
                       path=self.path, fix=task.nan_fix(self)) from None

    def _stop_interrupted(self, task: RunTask) -> None:
        if self.writer:
            task.interrupted(self)
        self.save_state(status="interrupted")
        if self.writer:
            log.warning("interrupted after epoch %s: the run is kept in %s\nresume with: %s",
                        self.state.get("epoch", 0), self.path, task.resume_command(self))

    def mark_failed(self, error: BaseException) -> None:
        """Set ``status: failed`` with the reason, when the run still says ``running``."""
        if self.state.get("status") != "running":
            return
        reason = str(error).splitlines()[0][:500] if str(error) else type(error).__name__
        try:
            self.save_state(status="failed", error=reason)
        except OSError:
            pass  # the original error matters more than this note
        self.failed()


__all__ = ["EpochResult", "Lifecycle", "NonFiniteLoss", "RunHook", "RunTask", "now"]
