"""The run folder's layout: every file name a run folder holds, spelled once, and its JSON I/O.

``runs/<name>/``::

    config.yaml          # the resolved TrainConfig (repeat with `facelab train --config`)
    task.json            # Task: kind, targets, classes
    input.json           # the cache's geometry + normalisation: size, channels, grey, crop,
                         # crop_box, source_size, layout, mean, std (what a predictor must reproduce)
    split.json           # row indices of train/val (and whether val was held out of train)
    model.safetensors    # best weights (torchvision-compatible names for mobilenetv2/resnet18)
    checkpoint.safetensors + state.json   # last finished epoch: weights, optimiser, schedule → --resume
    calibration.json     # the fitted temperature (logits are divided by it)
    history.csv          # one row per epoch: loss, val loss/accuracy, lr, seconds, images/s
    metrics.json         # final figures (val_accuracy, test_accuracy when a test split exists, ...)
    predictions.parquet  # split, row, image_id, true labels (one column per target), p_<class>
    card.md              # model card: data, target, metrics, known limits
    plots/curves.png     # training curves
    model.onnx (+ model.json)   # written by `facelab export RUN --format onnx`
    eval/                # written by `facelab evaluate RUN`

A generator run (``facelab generate train``, :mod:`facelab.generate`) shares the runs folder; its
``task.json`` says ``{"kind": "generator"}`` (:data:`GENERATOR`, :func:`is_generator_run`), and
its own files are named in ``facelab.generate.run``.

Nothing here imports torch: an ONNX consumer reads a run through this module and :mod:`.run`.

Example:
    >>> is_run_folder(Path("/nonexistent"))
    False
"""
from __future__ import annotations

import json
from pathlib import Path

from ..errors import RunError

CONFIG, TASK, INPUT, SPLIT = "config.yaml", "task.json", "input.json", "split.json"
WEIGHTS, CHECKPOINT, STATE = "model.safetensors", "checkpoint.safetensors", "state.json"
HISTORY, METRICS, PREDICTIONS, CARD = "history.csv", "metrics.json", "predictions.parquet", "card.md"
CALIBRATION = "calibration.json"
ONNX_FILE = "model.onnx"
PLOTS, CURVES = "plots", "curves.png"
EVAL_DIR = "eval"
LEADERBOARD = "leaderboard.csv"
#: the columns of ``history.csv`` (one row per epoch)
#: ``task.json``'s ``kind`` (and ``config.yaml``'s) in a generator run folder (a DCGAN)
GENERATOR = "generator"
HISTORY_FIELDS = ["epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy", "lr", "seconds",
                  "images_per_s", "elapsed"]


def safe_part(s) -> str:
    """``s`` as part of a folder name: letters, digits, ``-`` and ``_`` kept, others ``_``, 40 at most."""
    return "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in str(s))[:40]


def is_run_folder(path: Path) -> bool:
    """A run folder is a folder with a ``config.yaml`` (leaderboards and other folders are not)."""
    return path.is_dir() and (path / CONFIG).is_file()


def is_generator_run(path: Path) -> bool:
    """True when ``path`` is a generator run folder: its ``task.json`` says ``"kind": "generator"``
    (read as plain JSON: nothing of :mod:`facelab.generate` is imported).

    Example:
        >>> is_generator_run(Path("/nonexistent"))
        False
    """
    try:
        task = json.loads((Path(path) / TASK).read_text())
    except (OSError, ValueError):
        return False
    return isinstance(task, dict) and task.get("kind") == GENERATOR


def read_json(path: Path) -> dict:
    """A run file's JSON; a missing or corrupt file raises :class:`RunError` naming it.

    Raises:
        RunError: the file is missing (an unfinished run) or not JSON.
    """
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise RunError(f"the run folder {path.parent} has no {path.name}", path=path.parent,
                       fix="it is not a finished facelab run: train again, or resume it with --resume") from None
    except ValueError as e:
        raise RunError(f"{path} is corrupt ({e})", path=path,
                       fix="train the run again (or restore the file)") from None


def write_json(path: Path, obj) -> None:
    """Write ``obj`` as JSON atomically: a crash or a full disk never leaves half a file (a full
    disk raises :class:`~facelab.errors.WriteError`)."""
    from ..outputs import write_text

    write_text(path, json.dumps(obj, indent=1, default=float), "run folder")
