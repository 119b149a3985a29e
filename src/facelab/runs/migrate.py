"""A run folder's format version and the one :func:`migrate` that brings an older folder up to date.

Every run folder records ``format_version`` in its ``task.json`` (written when the folder is
created, :mod:`.lifecycle`). A folder with an older version (or none: version 0) is read through
:func:`migrate`, which returns its small files as the current version would have written them:

- version 0 → 1: a classifier config gains the options whose defaults were added later with the
  value that reproduces how the run trained (``ema`` 0, ``patience_after`` 0, ``recipe`` none), and
  a config that saved no model ``params`` gets the registry's defaults of its model; a
  generator config without ``ac_weight`` is the label-plane discriminator (``ac_weight`` 0); a
  state whose clock took over without ``bound_at`` handed over at the start (``[0, 0]``).

:func:`migrate` writes the upgraded files back only where it may write: never into a shipped model
(:mod:`facelab.pretrained`, package data) or a read-only folder; there the upgrade happens in memory
on every read. Nothing else in facelab asks how old a run is.

Example:
    >>> record = {"config": {"model": "cnn"}, "task": {"kind": "binary"}, "state": {}}
    >>> up = upgrade(record)
    >>> up["task"]["format_version"], up["config"]["ema"], up["config"]["recipe"]
    (1, 0.0, 'none')
"""
from __future__ import annotations

import copy
import logging
import os
from pathlib import Path

import yaml

from .layout import CONFIG, GENERATOR, STATE, TASK, write_json

log = logging.getLogger(__name__)

#: the run folder format this facelab writes
FORMAT_VERSION = 1
#: classifier options added after runs were saved without them, with the value that keeps such a
#: run training (and resuming) as it did
CLASSIFIER_DEFAULTS_V0 = {"ema": 0.0, "patience_after": 0.0, "recipe": "none"}


def format_version(task: dict) -> int:
    """The format version a ``task.json`` records (0 when it records none).

    Example:
        >>> format_version({"kind": "binary"}), format_version({"format_version": 1})
        (0, 1)
    """
    return int(task.get("format_version", 0) or 0)


def upgrade(record: dict) -> dict:
    """``{"config", "task", "state"}`` of a run folder, brought to :data:`FORMAT_VERSION` (a copy).

    Raises nothing for a current record: it comes back equal.
    """
    out = copy.deepcopy(record)
    config, task, state = out.setdefault("config", {}), out.setdefault("task", {}), out.setdefault("state", {})
    if format_version(task) < 1:
        if task.get("kind") == GENERATOR:
            config.setdefault("ac_weight", 0.0)
        else:
            for k, v in CLASSIFIER_DEFAULTS_V0.items():
                config.setdefault(k, v)
            if not config.get("params") and config.get("model"):
                config["params"] = _registry_params(str(config["model"]))
        if state.get("clock_binds") and not state.get("bound_at"):
            state["bound_at"] = [0.0, 0.0]
        task["format_version"] = 1
    return out


def _registry_params(model: str) -> dict:
    """The registry's default parameters of ``model`` ({} for a name the registry lacks: the
    builder's own defaults apply, and loading the run says what is wrong)."""
    from ..errors import FacelabError
    from ..models import get_model

    try:
        return dict(get_model(model).default_params)
    except FacelabError:
        return {}


def _writable(path: Path) -> bool:
    from ..pretrained import shipped_root

    try:
        if Path(path).resolve().is_relative_to(shipped_root()):
            return False  # package data: never written, however the install's permissions look
    except OSError:
        return False
    return os.access(path, os.W_OK)


def read_record(path: Path) -> dict:
    """The raw ``config`` / ``task`` / ``state`` of the run folder ``path`` (missing files are ``{}``;
    a corrupt file raises :class:`~facelab.errors.RunError` from the reader that meets it)."""
    from .layout import read_json

    config = {}
    if (path / CONFIG).is_file():
        try:
            config = yaml.safe_load((path / CONFIG).read_text()) or {}
        except (OSError, yaml.YAMLError):
            config = {}  # read_config reports a corrupt config with its own message
    task = read_json(path / TASK) if (path / TASK).is_file() else {}
    state = read_json(path / STATE) if (path / STATE).is_file() else {}
    return {"config": config if isinstance(config, dict) else {}, "task": task if isinstance(task, dict) else {},
            "state": state}


def migrate(path: str | Path) -> dict:
    """Bring the run folder ``path`` up to the current format and return its upgraded
    ``{"config", "task", "state"}``. An older folder is rewritten in place when it may be written
    (atomically, small files only); a shipped or read-only folder is upgraded in memory only.

    Example:
        >>> from facelab.pretrained import shipped_path
        >>> migrate(shipped_path("fer-emotions"))["task"]["format_version"]
        1
    """
    path = Path(path)
    record = read_record(path)
    if format_version(record["task"]) >= FORMAT_VERSION:
        return record
    new = upgrade(record)
    if record["task"] and _writable(path):
        try:
            if new["config"] != record["config"] and record["config"]:
                tmp = path / (CONFIG + ".tmp")
                tmp.write_text(yaml.safe_dump(new["config"], sort_keys=False))
                tmp.replace(path / CONFIG)
            if new["state"] != record["state"] and (path / STATE).is_file():
                write_json(path / STATE, new["state"])
            write_json(path / TASK, new["task"])  # last: the version names what is there
        except OSError as e:  # a folder that looked writable and was not: upgrade in memory
            log.debug("run folder %s upgraded in memory only (%s)", path, e)
    return new


__all__ = ["CLASSIFIER_DEFAULTS_V0", "FORMAT_VERSION", "format_version", "migrate", "read_record", "upgrade"]
