"""Prediction on photos (:mod:`.predictor`), folders and result files (:mod:`.batch`), ONNX export
(:mod:`.export`). Importing this package does not import torch."""
from __future__ import annotations

from .batch import BatchReport, expand_sources, predict_files, results_table, write_results
from .export import ExportResult, export_onnx
from .predictor import Predictor
from .results import FaceResult, PhotoResult

__all__ = ["BatchReport", "ExportResult", "FaceResult", "PhotoResult", "Predictor", "expand_sources",
           "export_onnx", "predict_files", "results_table", "write_results"]
