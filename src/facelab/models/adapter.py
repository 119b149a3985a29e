"""One model contract over every registered model: ``fit`` / ``predict_proba`` / ``embed`` /
``export`` / ``describe`` (and ``load`` for saved weights).

A registered model is built by its family's own code — a torch network (``cnn``, ``mobilenetv2``,
``resnet18``), a scikit-learn-style estimator on pixels or HOG (``logreg``), or a head on dlib face
descriptors (``embed-logreg``, ``embed-knn``). :func:`adapt` wraps one in the :class:`Adapter` of
its family, and everything downstream (a :class:`~facelab.runs.Run`, the trainer, the export, the
common checks in ``tests/test_models.py``) talks to that contract only. This module is the one
place that knows the families apart.

- :class:`NetworkAdapter`: uint8 NHWC faces → the run's normalisation → logits → probabilities
  (softmax for multiclass, sigmoids otherwise); ``fit`` on arrays in memory is plain AdamW over a
  few epochs (the run-producing trainer, with schedule, augmentation and checkpoints, is
  :func:`facelab.train.trainer.train`); weights as torch safetensors.
- :class:`EstimatorAdapter`: the estimator's own ``fit(x, y)`` / ``predict_proba`` / ``embed``
  (scikit-learn manners: ``__init__`` stores parameters, ``fit`` returns self, learned state ends
  in ``_``); weights as numpy safetensors. An estimator that takes face descriptors of the source
  photos (``takes_descriptors``) is handed them as they are.

Example:
    >>> import numpy as np
    >>> from facelab.models import get_model
    >>> m = adapt(get_model("logreg"), in_channels=3, outputs=1, task="binary", params={"n_components": 4})
    >>> x = np.random.default_rng(0).integers(0, 255, (20, 8, 8, 3), dtype=np.uint8)
    >>> m.fit(x, np.arange(20) % 2).predict_proba(x).shape
    (20, 1)
    >>> m.describe()["family"], m.trains_in_epochs
    ('classical', False)
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from ..errors import ConfigError, RunError

TASKS = ("binary", "multilabel", "multiclass")


class Adapter:
    """A built model behind the one contract (subclasses: one per model family).

    Attributes:
        spec: the registry entry (:class:`~facelab.models.ModelSpec`).
        model: the wrapped network or estimator (what :meth:`facelab.runs.Run.model` returns).
        task: ``binary``, ``multilabel`` or ``multiclass``. outputs: probabilities per row.
    """

    family: ClassVar[str] = ""
    #: trained by the epoch loop (DDP, ``--init``, auxiliary outputs apply); else fitted once
    trains_in_epochs: ClassVar[bool] = False
    #: exports to ONNX (``facelab export``)
    exports_onnx: ClassVar[bool] = False

    def __init__(self, spec, model, *, task: str, outputs: int, params: dict | None = None,
                 mean=None, std=None, batch: int = 512):
        if task not in TASKS:
            raise ConfigError(f"unknown task kind {task!r}", fix=f"use one of {', '.join(TASKS)}")
        self.spec, self.model, self.task, self.outputs = spec, model, task, int(outputs)
        self.params = dict(params or {})
        self.mean = None if mean is None else list(mean)  # a network's input normalisation (input.json)
        self.std = None if std is None else list(std)
        self.batch = int(batch)

    def wrap(self, fn) -> "Adapter":
        """Apply an inference wrapper (a run's mirror averaging, its temperature) to a network; other
        families predict as they are."""
        return self

    @classmethod
    def build(cls, spec, *, in_channels: int, outputs: int, task: str, params: dict | None = None) -> Any:
        """A fresh model of ``spec`` (the family's own object)."""
        return spec.build(int(in_channels), int(outputs), **dict(params or {}))

    @property
    def takes_descriptors(self) -> bool:
        """Whether the model is fed face descriptors of the source photos rather than crops."""
        return False

    def takes(self, x) -> bool:
        """True when ``x`` goes to the model as it is (descriptors), not checked as images first."""
        return False

    # -- the contract ----------------------------------------------------------------------------
    def fit(self, x, y) -> "Adapter":
        raise NotImplementedError

    def predict_proba(self, x) -> np.ndarray:
        raise NotImplementedError

    def embed(self, x) -> np.ndarray:
        raise NotImplementedError

    def export(self, path: str | Path) -> Path:
        """Write the learned weights as safetensors (nothing pickled); returns the path."""
        raise NotImplementedError

    def load(self, path: str | Path) -> "Adapter":
        """Load weights :meth:`export` wrote.

        Raises:
            RunError: a corrupt file, or weights of another model or shape.
        """
        raise NotImplementedError

    def describe(self) -> dict:
        """Name, family, task, outputs, parameters and the capabilities a caller may ask for."""
        return {"name": self.spec.name, "family": self.family, "description": self.spec.description,
                "task": self.task, "outputs": self.outputs, "params": self.params,
                "trains_in_epochs": self.trains_in_epochs, "exports_onnx": self.exports_onnx,
                "takes_descriptors": self.takes_descriptors}


class NetworkAdapter(Adapter):
    """A torch network: float NCHW → logits; the normalisation is the run's ``mean`` / ``std``."""

    family = "torch"
    trains_in_epochs = True
    exports_onnx = True

    def wrap(self, fn) -> "NetworkAdapter":
        self.model = fn(self.model.eval())
        return self

    def _norm(self, x: np.ndarray) -> tuple[list, list]:
        c = int(x.shape[-1])
        return (self.mean or [0.5] * c), (self.std or [0.25] * c)

    def _apply(self, x, fn) -> np.ndarray:
        import torch

        from .inputs import to_float

        x = np.asarray(x)
        mean, std = self._norm(x)
        out = []
        with torch.inference_mode():
            for i in range(0, len(x), self.batch):
                xb = to_float(torch.from_numpy(np.array(x[i:i + self.batch])), mean, std)  # a writable copy
                out.append(fn(self.model, xb).float().numpy())
        return np.concatenate(out).astype(np.float32) if out else np.zeros((0, self.outputs), np.float32)

    def predict_proba(self, x) -> np.ndarray:
        from .inputs import probabilities

        self.model.eval()
        return self._apply(x, lambda m, xb: probabilities(m(xb), self.task))

    def embed(self, x) -> np.ndarray:
        self.model.eval()
        return self._apply(x, lambda m, xb: m.features(xb))

    def fit(self, x, y, *, epochs: int = 5, lr: float = 3e-3, batch_size: int = 64, seed: int = 0) -> "NetworkAdapter":
        """Fit on uint8 NHWC arrays in memory: AdamW, ``epochs`` passes, no augmentation. For runs
        (schedule, augmentation, validation, checkpoints) use :func:`facelab.train.trainer.train`."""
        import torch
        import torch.nn.functional as F

        from .inputs import to_float

        x = np.asarray(x)
        y = np.asarray(y)
        mean, std = self._norm(x)
        target = (torch.from_numpy(y.reshape(-1).astype(np.int64)) if self.task == "multiclass"
                  else torch.from_numpy(y.reshape(len(y), -1).astype(np.float32)))
        g = torch.Generator().manual_seed(seed)
        opt = torch.optim.AdamW(self.model.parameters(), lr=lr)
        self.model.train()
        for _ in range(int(epochs)):
            for idx in torch.randperm(len(x), generator=g).split(batch_size):
                xb = to_float(torch.from_numpy(np.array(x[idx.numpy()])), mean, std)
                logits = self.model(xb)
                loss = (F.cross_entropy(logits, target[idx]) if self.task == "multiclass"
                        else F.binary_cross_entropy_with_logits(logits, target[idx]))
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
        self.model.eval()
        return self

    def export(self, path: str | Path) -> Path:
        from safetensors.torch import save_file

        path = Path(path)
        save_file({k: v.detach().contiguous() for k, v in self.model.state_dict().items()}, str(path))
        return path

    def load(self, path: str | Path) -> "NetworkAdapter":
        from safetensors.torch import load_file

        try:
            self.model.load_state_dict(load_file(str(path)))
        except Exception as e:  # safetensors header errors, shape mismatches, ...
            raise RunError(f"cannot load the weights of {Path(path).parent} ({Path(path).name}): {e}", path=Path(path),
                           fix="the file is corrupt or from another model: train the run again") from None
        self.model.eval()
        return self

    def describe(self) -> dict:
        return {**super().describe(), "parameters": int(sum(p.numel() for p in self.model.parameters()))}


class EstimatorAdapter(Adapter):
    """A scikit-learn-style estimator (``logreg``, the embed models): numpy arrays in and out."""

    family = "classical"

    @classmethod
    def build(cls, spec, *, in_channels: int, outputs: int, task: str, params: dict | None = None) -> Any:
        return spec.build(int(in_channels), int(outputs), **{**dict(params or {}), "task": task})

    @property
    def takes_descriptors(self) -> bool:
        return bool(getattr(self.model, "source_features", False))

    def takes(self, x) -> bool:
        if not self.takes_descriptors:
            return False
        from .embed import is_descriptors

        return is_descriptors(x)

    def fit(self, x, y) -> "EstimatorAdapter":
        self.model.fit(x, y)
        return self

    def predict_proba(self, x) -> np.ndarray:
        return np.asarray(self.model.predict_proba(x), np.float32).reshape(len(x), -1)

    def embed(self, x) -> np.ndarray:
        return np.asarray(self.model.embed(x), np.float32)

    def export(self, path: str | Path) -> Path:
        from safetensors.numpy import save_file

        path = Path(path)
        save_file({k: np.ascontiguousarray(v) for k, v in self.model.state_dict().items()}, str(path))
        return path

    def load(self, path: str | Path) -> "EstimatorAdapter":
        from safetensors.numpy import load_file

        try:
            self.model.load_state_dict(load_file(str(path)))
        except Exception as e:
            raise RunError(f"cannot load the weights of {Path(path).parent} ({Path(path).name}): {e}", path=Path(path),
                           fix="the file is corrupt or from another model: train the run again") from None
        return self


#: the adapter of each model family (a registered model's ``kind``)
ADAPTERS: dict[str, type[Adapter]] = {"torch": NetworkAdapter, "classical": EstimatorAdapter}


def adapter_class(spec) -> type[Adapter]:
    """The :class:`Adapter` subclass of ``spec``'s family."""
    try:
        return ADAPTERS[spec.kind]
    except KeyError:
        raise ConfigError(f"model {spec.name!r} has the unknown family {spec.kind!r}",
                          fix=f"register it with kind= one of {', '.join(ADAPTERS)}") from None


def adapt(spec, model=None, *, in_channels: int = 3, outputs: int = 1, task: str = "binary",
          params: dict | None = None, **options) -> Adapter:
    """``model`` (built when None) of ``spec`` behind the contract; ``options`` go to the adapter
    (a network's ``mean`` / ``std`` / ``batch``)."""
    cls = adapter_class(spec)
    params = {**spec.default_params, **dict(params or {})}
    if model is None:
        model = cls.build(spec, in_channels=in_channels, outputs=outputs, task=task, params=params)
    return cls(spec, model, task=task, outputs=outputs, params=params, **options)


__all__ = ["ADAPTERS", "Adapter", "EstimatorAdapter", "NetworkAdapter", "adapt", "adapter_class"]
