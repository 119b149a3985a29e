"""Datasets: readers → manifest → prepared cache."""
from .manifest import LabelInfo, Manifest, Problem
from .prepared import PreparedDataset, open_prepared

__all__ = ["LabelInfo", "Manifest", "Problem", "PreparedDataset", "open_prepared",
           "read_source", "prepare", "synthesize"]


def __getattr__(name):  # lazy: keep `import facelab.data` light
    if name == "read_source":
        from .readers import read_source
        return read_source
    if name == "prepare":
        from .cache import prepare
        return prepare
    if name == "synthesize":
        from .synth import synthesize
        return synthesize
    raise AttributeError(name)
