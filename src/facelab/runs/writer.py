"""What a finished run writes besides its weights: predictions, metrics, the model card, plots.

The file names come from :mod:`.layout`; JSON is written atomically with :func:`.layout.write_json`.

Example:
    >>> import shutil, tempfile
    >>> from facelab.pretrained import shipped_path
    >>> run_path = Path(tempfile.mkdtemp()) / "emotions"
    >>> _ = shutil.copytree(shipped_path("fer-emotions"), run_path)
    >>> [p.relative_to(run_path).as_posix() for p in write_plots(run_path)]
    ['plots/curves.png']
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd

from .layout import CARD, CURVES, HISTORY, PLOTS, write_json
from .task import Task

__all__ = ["predictions_frame", "safe_column", "write_card", "write_json", "write_plots"]


def safe_column(name: str) -> str:
    return re.sub(r"[^0-9A-Za-z_]+", "_", name)


def predictions_frame(task: Task, split: str, rows: np.ndarray, image_ids, y: np.ndarray,
                      proba: np.ndarray) -> pd.DataFrame:
    """One row per image: ``split, row, image_id``, the true label per target, ``p_<class>``."""
    df = pd.DataFrame({"split": split, "row": np.asarray(rows, np.int64),
                       "image_id": np.asarray(image_ids).astype(str)})
    if task.kind == "multiclass":
        df[task.targets[0]] = y.astype(np.int64)
    else:
        for i, t in enumerate(task.targets):
            df[t] = y[:, i].astype(np.int64)
    for i, c in enumerate(task.classes):
        df[f"p_{safe_column(c)}"] = proba[:, i].astype(np.float32)
    return df


def write_plots(path: Path) -> list[Path]:
    """``plots/curves.png``: training and validation loss, validation accuracy, learning rate."""
    hist = path / HISTORY
    if not hist.is_file() or not hist.stat().st_size:
        return []
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    h = pd.read_csv(hist)
    (path / PLOTS).mkdir(exist_ok=True)
    fig, ax = plt.subplots(1, 3, figsize=(12, 3.4))
    ax[0].plot(h["epoch"], h["train_loss"], "o-", label="train")
    ax[0].plot(h["epoch"], h["val_loss"], "o-", label="validation")
    ax[0].set_title("loss")
    ax[0].legend()
    ax[1].plot(h["epoch"], h["val_accuracy"], "o-", color="C2")
    ax[1].set_title("validation accuracy")
    ax[2].plot(h["epoch"], h["lr"], "o-", color="C3")
    ax[2].set_title("learning rate (end of epoch)")
    for a in ax:
        a.set_xlabel("epoch")
        a.grid(alpha=0.3)
    fig.tight_layout()
    out = path / PLOTS / CURVES
    fig.savefig(out, dpi=90)
    plt.close(fig)
    return [out]


def write_card(path: Path, *, config: dict, task: Task, input_: dict, metrics: dict, data_summary: dict,
               per_output: dict[str, float], init: dict | None) -> Path:
    """``card.md``: a model card in the spirit of Mitchell et al. (2019), short and factual."""
    lines = [f"# Model card: {path.name}", ""]
    if metrics.get("degenerate"):
        lines += [f"> **Warning: a degenerate model.** It {metrics['degenerate']}. Do not use it; train "
                  "longer, check the labels or lower the learning rate.", ""]
    lines += [f"- **Model**: `{config['model']}` {json.dumps(config.get('params') or {})}",
             f"- **Task**: {task.kind} — {', '.join(task.targets[:8])}{' …' if len(task.targets) > 8 else ''}"
             f" ({task.outputs} output{'s' if task.outputs > 1 else ''})",
             f"- **Data**: `{data_summary.get('path')}` (layout {input_.get('layout')}); "
             f"{data_summary.get('train', 0)} training and {data_summary.get('val', 0)} validation images"
             + (f", {data_summary.get('test')} test images" if data_summary.get("test") else ""),
             "- **Validation**: " + ("a seeded, stratified hold-out of "
                                      f"{config.get('val_fraction')} of the training split (the dataset has no val split)"
                                      if data_summary.get("holdout") else "the dataset's own val split"),
             f"- **Input**: {input_['size']}×{input_['size']} {'grey' if input_.get('channels') == 1 else 'RGB'}, "
             f"crop `{input_.get('crop')}` box {input_.get('crop_box')}, normalised with mean {input_['mean']} "
             f"std {input_['std']}",
             f"- **Training**: seed {config['seed']}, epochs {metrics.get('epochs')}, "
             f"{metrics.get('train_seconds', 0):.0f} s, {metrics.get('images_per_s', 0):.0f} images/s"]
    if config.get("recipe"):
        lines.append(f"- **Recipe**: `{config['recipe']}` (defaults chosen by task, docs/training.md "
                     f"\"Recipes\"); imbalance handling `{config.get('balance')}`")
    if config.get("aux"):
        aux = config["aux"]
        lines.append(f"- **Auxiliary attributes** (trained beside the target, not saved): "
                     f"{aux if isinstance(aux, str) else ', '.join(aux)}, weight {config.get('aux_weight')}")
    if init:
        lines.append(f"- **Started from**: {init.get('source')} ({init.get('loaded')}/{init.get('total')} tensors)")
    if metrics.get("temperature") is not None:
        lines.append(f"- **Probabilities**: temperature-scaled (logits divided by {metrics['temperature']:.3g}, "
                     "fitted on validation; `calibration.json`)")
    lines += ["", "## Metrics", "", "| metric | value |", "|---|---|"]
    for k in ("val_accuracy", "val_loss", "test_accuracy", "test_loss", "best_epoch"):
        if metrics.get(k) is not None:
            v = metrics[k]
            lo, hi = metrics.get(f"{k}_low"), metrics.get(f"{k}_high")
            ci = f" (95% CI {lo:.4f}–{hi:.4f})" if lo is not None and hi is not None else ""
            lines.append(f"| {k} | {v:.4f}{ci} |" if isinstance(v, float) else f"| {k} | {v} |")
    if per_output and len(per_output) > 1:
        title = "recall per class" if task.kind == "multiclass" else "accuracy per attribute"
        lines += ["", f"Validation {title}:", "", "| output | value |", "|---|---|"]
        lines += [f"| {k} | {v:.4f} |" for k, v in per_output.items()]
    lines += ["", "## Known limits", "",
              "- Faces must be aligned and cropped like the training cache (`input.json`); other "
              "geometry, heavy occlusion, profile views or very different lighting lower accuracy.",
              "- Figures are on validation images from the same dataset; other sources of photos "
              "will usually score lower.",
              "- Labels are human annotations with known noise; CelebA is celebrities (mostly young, "
              "light-skinned), FER2013 has duplicates and label noise — check subgroup results with "
              "`facelab evaluate` before trusting the model on a population.",
              "- Not for identification or decisions about people."]
    out = path / CARD
    out.write_text("\n".join(lines) + "\n")
    return out
