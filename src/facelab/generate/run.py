"""A generator run folder and :class:`GeneratorRun`, which reads it.

``runs/<name>/`` (next to classifier runs, listed by ``facelab runs``)::

    config.yaml            # kind: generator, model: dcgan, the resolved options (repeat with them)
    task.json              # {"kind": "generator", ...}: what tells it from a classifier run
    input.json             # the cache's geometry: size, channels, grey, crop, ...
    G.safetensors, D.safetensors            # last good epoch's networks
    optim_G.safetensors, optim_D.safetensors  # Adam state of both (for --resume)
    state.json             # progress: status, epoch, images seen, RNG states
    history.csv            # one row per epoch: losses, D(x), D(G(z)), diversity, quality scores
    metrics.json           # the last epoch's figures
    card.md                # model card
    samples/epoch_NNN.png  # grid from fixed noise each epoch
    progress.png           # the same noise, one row per epoch
    plots/curves.png       # loss curves, D outputs, Fréchet distance

Example: docs/python.md#generate.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from ..errors import ConfigError, RunError
from ..runs.layout import GENERATOR as KIND
from ..runs.layout import is_generator_run, write_json
from ..runs.run import GeneratorEntry

CONFIG, TASK, INPUT, STATE = "config.yaml", "task.json", "input.json", "state.json"
HISTORY, METRICS, CARD, PROGRESS = "history.csv", "metrics.json", "card.md", "progress.png"
G_FILE, D_FILE, OG_FILE, OD_FILE = "G.safetensors", "D.safetensors", "optim_G.safetensors", "optim_D.safetensors"

__all__ = ["GeneratorRun", "KIND", "is_generator_run", "load_generator", "read_config", "write_config", "write_json"]


class GeneratorRun(GeneratorEntry):
    """A DCGAN run read from its folder: config, progress, history; samples on demand.

    The runs folder's listing (:func:`facelab.runs.list_runs`) reads the same small files as a
    :class:`~facelab.runs.run.GeneratorEntry`; this class adds the networks.

    Attributes:
        name, path: the folder. config: dict from config.yaml. state: dict from state.json.
        metrics: the last epoch's figures.
    """

    def __init__(self, path: Path, config: dict, state: dict, metrics: dict):
        super().__init__(path, config, state, metrics)
        self._g = None

    @classmethod
    def load(cls, path_or_name: "str | Path | GeneratorRun") -> "GeneratorRun":
        """Open a generator run by name (under ``runs_root()``) or path.

        Raises:
            RunError: no such run, a classifier run (names what to do instead), or corrupt files.
        """
        if isinstance(path_or_name, GeneratorRun):
            return path_or_name
        from ..runs.listing import resolve_run  # the one name → folder rule of every run

        path = resolve_run(path_or_name)
        if not is_generator_run(path):
            raise RunError(f"{path} is not a generator run (it is a classifier run, or not a run)",
                           path=path, fix="pick a run made by `facelab generate train` (`facelab runs` "
                                          "lists them with task generator:...)")
        return cls.read(path)

    def __repr__(self) -> str:
        return f"GeneratorRun({self.name!r}, size={self.size}, channels={self.channels}, epochs={self.epochs})"

    @property
    def size(self) -> int:
        return int(self.config["size"])

    @property
    def channels(self) -> int:
        return int(self.config["channels"])

    @property
    def epochs(self) -> int:
        return int(self.state.get("epoch", 0))

    def history(self) -> pd.DataFrame:
        p = self.path / HISTORY
        return pd.read_csv(p) if p.is_file() and p.stat().st_size else pd.DataFrame()

    def generator(self):
        """The trained generator (eval mode), cached."""
        if self._g is None:
            from safetensors.torch import load_file

            from .dcgan import build

            p = self.path / G_FILE
            if not p.is_file():
                raise RunError(f"{self.path} has no {G_FILE} yet", path=self.path,
                               fix="the run stopped before its first epoch ended: resume it with --resume")
            g, _ = build(self.config)
            try:
                g.load_state_dict(load_file(str(p)))
            except Exception as e:
                raise RunError(f"cannot load {p}: {e}", path=p, fix="train the run again") from None
            self._g = g.eval()
        return self._g

    def labels_for(self, n: int, condition: "dict[str, int] | None", rng: np.random.Generator) -> "np.ndarray | None":
        """(n, n_cond) float32 0/1 labels: the requested values, random (half/half) for the rest."""
        if not self.condition:
            if condition:
                raise ConfigError(f"run {self.name} is not conditional, so it cannot be asked for "
                                  f"{', '.join(condition)}", path=self.path,
                                  fix="train with `facelab generate train DATA --condition Smiling,Male`")
            return None
        condition = dict(condition or {})
        unknown = [k for k in condition if k not in self.condition]
        if unknown:
            raise ConfigError(f"run {self.name} is conditioned on {', '.join(self.condition)}, not "
                              f"{', '.join(unknown)}", path=self.path,
                              fix=f"ask for some of: {', '.join(self.condition)} (e.g. Smiling=1)")
        labels = rng.integers(0, 2, size=(n, len(self.condition))).astype(np.float32)
        for j, k in enumerate(self.condition):
            if k in condition:
                labels[:, j] = float(bool(int(condition[k])))
        return labels

    def sample(self, n: int = 64, *, seed: int = 0, condition: "dict[str, int] | None" = None,
               batch: int = 256) -> np.ndarray:
        """``n`` new faces, uint8 (n, size, size, channels), repeatable with ``seed``.

        Args:
            condition: for a conditional run, ``{"Smiling": 1, "Male": 0}``; attributes left out
                are drawn at random.
        """
        return self.sample_with_labels(n, seed=seed, condition=condition, batch=batch)[0]

    def sample_with_labels(self, n: int, *, seed: int = 0, condition=None, batch: int = 256):
        """Like :meth:`sample`, also returning the labels used (None for an unconditional run)."""
        import torch

        if n < 1:
            raise ConfigError(f"cannot draw {n} samples", fix="ask for at least one (-n 64)")
        rng = np.random.default_rng(seed)
        labels = self.labels_for(n, condition, rng)
        z = torch.from_numpy(rng.standard_normal((n, int(self.config["nz"]))).astype(np.float32))
        return self.decode(z, labels, batch=batch), labels

    def decode(self, z, labels=None, batch: int = 256) -> np.ndarray:
        """Latent vectors (N, nz) [+ labels] → uint8 NHWC images."""
        import torch

        from .dcgan import to_uint8

        g = self.generator()
        out = []
        with torch.inference_mode():
            for i in range(0, len(z), batch):
                lb = None if labels is None else torch.as_tensor(labels[i:i + batch])
                out.append(to_uint8(g(z[i:i + batch], lb)))
        return np.concatenate(out)


def load_generator(run) -> GeneratorRun:
    """:meth:`GeneratorRun.load` under a public name."""
    return GeneratorRun.load(run)


def read_config(path: Path) -> dict:
    return yaml.safe_load((path / CONFIG).read_text())


def write_config(path: Path, cfg: dict) -> None:
    tmp = path / (CONFIG + ".tmp")
    tmp.write_text(yaml.safe_dump(cfg, sort_keys=False))
    os.replace(tmp, path / CONFIG)
