"""The model registry: a name → a :class:`ModelSpec`.

Torch models: ``spec.build(in_channels, outputs, **params) -> torch.nn.Module`` whose forward takes
float NCHW and returns logits (N, outputs); the module exposes ``features(x) -> (N, D)`` (the
penultimate layer, for embeddings and ``--init``) and ``head`` (the final layer, replaced on
transfer).

Classical models (scikit-learn): ``spec.build(in_channels, outputs, task=..., **params)`` returns
an object with scikit-learn manners (``__init__`` stores parameters, learned state ends in ``_``):
``fit(x_uint8_nhwc, y) -> self``, ``predict_proba(x) -> (N, outputs)``, ``embed(x) -> (N, D)``,
``state_dict() -> dict[str, np.ndarray]`` and ``load_state_dict(d)`` (saved as safetensors —
nothing pickled).

Every family is driven through one contract, :mod:`.adapter` (``fit`` / ``predict_proba`` /
``embed`` / ``export`` / ``describe``): ``adapt(get_model(name), ...)``.

Each model module registers itself on import; :func:`_load_all` imports every one of them by
name, so a renamed or broken model file fails loudly instead of leaving the registry.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Literal

from ..registry import Registry


@dataclass(frozen=True)
class ModelSpec:
    name: str
    kind: Literal["torch", "classical"]
    build: Callable[..., Any]
    description: str
    default_params: dict = field(default_factory=dict)

    @property
    def adapter(self):
        """The :class:`~facelab.models.adapter.Adapter` class of this model's family (the one contract)."""
        from .adapter import adapter_class

        return adapter_class(self)

    @property
    def trains_in_epochs(self) -> bool:
        """A network: trained by the epoch loop (DDP, ``--init``, auxiliary outputs apply); a
        classical model is fitted once."""
        return self.adapter.trains_in_epochs

    @property
    def exports_onnx(self) -> bool:
        return self.adapter.exports_onnx


MODELS: Registry[ModelSpec] = Registry("model")


def _load_all() -> None:
    """Import every model file (each registers its models on import)."""
    from . import classical, cnn, embed, mobilenet, resnet  # noqa: F401


def get_model(name: str) -> ModelSpec:
    _load_all()
    return MODELS.get(name)


def list_models(pattern: str = "*") -> list[str]:
    _load_all()
    return MODELS.list(pattern)


def register_model(name: str, *, kind: Literal["torch", "classical"], description: str, **defaults):
    """Decorator for a builder: ``@register_model("cnn", kind="torch", description=...)``."""

    def deco(build):
        MODELS.register(name)(ModelSpec(name, kind, build, description, dict(defaults)))
        return build

    return deco
