"""facelab: machine learning on face images.

The Python API is the product; the CLI, REST API and dashboard are thin layers over it.
Names are imported lazily so that ``import facelab`` stays fast (no torch until needed).

Example: docs/python.md#from-a-dataset-to-a-prediction.
"""
from __future__ import annotations

import importlib

__version__ = "0.1.0"

_EXPORTS = {
    "FacelabError": "facelab.errors",
    "DataError": "facelab.errors",
    "ConfigError": "facelab.errors",
    "RunError": "facelab.errors",
    "Registry": "facelab.registry",
    "Manifest": "facelab.data.manifest",
    "LabelInfo": "facelab.data.manifest",
    "PreparedDataset": "facelab.data.prepared",
    "open_prepared": "facelab.data.prepared",
    "read_source": "facelab.data.readers",
    "prepare": "facelab.faces.prepare_align",  # data.cache.prepare with --crop detect/auto
    "load_image": "facelab.data.image",
    "synthesize": "facelab.data.synth",
    "collect": "facelab.collect",
    "render_face": "facelab.data.synth",
    "Task": "facelab.runs.task",
    "train": "facelab.train.trainer",
    "Run": "facelab.runs.run",
    "Model": "facelab.model",
    "list_runs": "facelab.runs.run",
    "MODELS": "facelab.models",
    "evaluate": "facelab.evaluate.report",
    "saliency_maps": "facelab.explain.saliency",
    "compare": "facelab.experiments.compare",
    "search": "facelab.experiments.search",
    "explore": "facelab.explore.report",
    "cluster": "facelab.cluster.report",
    "FaceBox": "facelab.faces.detect",
    "align": "facelab.faces.align",
    "Predictor": "facelab.predict.predictor",
    "CombinedPredictor": "facelab.predict.combined",
    "predict_video_files": "facelab.predict.video_files",
    "export_onnx": "facelab.predict.export",
    "create_app": "facelab.serve.app",
    "train_gan": "facelab.generate.train",
    "sample": "facelab.generate",
    "interpolate": "facelab.generate",
    "GeneratorRun": "facelab.generate.run",
    "review": "facelab.curate.review",
    "dataset_embeddings": "facelab.faces.embeddings",
    "FaceEmbedder": "facelab.faces.dlibface",
    "verify": "facelab.identity.verify",
    "identify": "facelab.identity.identify",
    "verify_eval": "facelab.identity.evaluate",
    "group_photos": "facelab.identity.group",
    "add_people": "facelab.identity.enroll",
    "open_gallery": "facelab.identity.gallery",
}

__all__ = sorted(_EXPORTS) + ["__version__"]


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'facelab' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return __all__
