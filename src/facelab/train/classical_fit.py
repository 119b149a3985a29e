"""Training a classical (scikit-learn) model into the same run folder as a network.

The estimator is fitted once on the uint8 training images; there are no epochs, so the history
has one row and ``--resume`` has nothing to continue.

Example: docs/python.md#training.
"""
from __future__ import annotations

import logging
import time

import numpy as np
import pandas as pd

from ..errors import DataError

from ..runs import writer as artifacts
from ..runs.degenerate import degenerate
from ..runs.layout import HISTORY_FIELDS, METRICS, PREDICTIONS, WEIGHTS
from ..runs.run import Run
from ..evaluate.metrics import accuracy_bounds

log = logging.getLogger("facelab.train")


def fit_classical(spec, cfg, ds, task, lc, train_rows, val_rows, holdout, input_) -> Run:
    """Fit once, score val (and test), and finish the run folder of the lifecycle ``lc``. Photos an
    embed model has no face descriptor for are left out and counted (``metrics["left_out"]``)."""
    path = lc.path
    from ..models.adapter import adapt
    from ..models.embed import dataset_inputs, face_rows  # embed models: descriptors of the source photos

    y_all = task.labels(ds.table)
    y_fit = y_all[:, 0] if task.kind == "binary" else y_all
    model = adapt(spec, in_channels=int(input_["channels"]), outputs=task.outputs, task=task.kind, params=cfg.params)
    left_out: dict[str, dict[str, int]] = {}
    train_rows, left_out["train"] = face_rows(model, ds, train_rows)  # no face: no descriptor to learn from
    if not len(train_rows):
        raise DataError(f"none of the training photos of {ds.path} has a face the {spec.name} model can "
                        f"describe ({left_out['train']})", path=ds.path,
                        fix="train on photos with visible faces, or choose an image model (e.g. cnn)")
    t0 = time.perf_counter()
    model.fit(dataset_inputs(model, ds, train_rows), y_fit[train_rows])
    secs = time.perf_counter() - t0
    model.export(path / WEIGHTS)
    ids = ds.table["image_id"].to_numpy()
    frames, metrics, per_output = [], {}, {}
    for split, rows in (("val", val_rows), ("test", ds.split("test"))):
        rows, left_out[split] = face_rows(model, ds, rows)
        if not len(rows):
            continue
        proba = model.predict_proba(dataset_inputs(model, ds, rows))
        y = y_all[rows]
        eps = 1e-7
        if task.kind == "multiclass":
            loss = float(-np.mean(np.log(proba[np.arange(len(y)), y] + eps)))
        else:
            loss = float(-np.mean(y * np.log(proba + eps) + (1 - y) * np.log(1 - proba + eps)))
        metrics[f"{split}_accuracy"], metrics[f"{split}_loss"] = task.accuracy(proba, y), loss
        metrics.update(accuracy_bounds(task, split, y, proba))
        if split == "val":
            per_output = task.per_output_accuracy(proba, y)
            metrics["degenerate"] = degenerate(task.kind, list(task.classes), y, proba)
        frames.append(artifacts.predictions_frame(task, split, rows, ids[rows], y, proba))
    if frames:
        pd.concat(frames, ignore_index=True).to_parquet(path / PREDICTIONS, index=False)
    row = {k: None for k in HISTORY_FIELDS}
    row.update(epoch=1, val_loss=metrics.get("val_loss"), val_accuracy=metrics.get("val_accuracy"),
               lr=0.0, seconds=round(secs, 2), images_per_s=round(len(train_rows) / max(secs, 1e-9), 1),
               elapsed=round(secs, 1))
    lc.append_history(row)
    metrics.update(best_epoch=1, epochs=1, train_seconds=secs, images_per_s=row["images_per_s"],
                   holdout=bool(holdout), stop_reason="fitted", train_images=int(len(train_rows)),
                   val_images=int(len(val_rows)), per_output=per_output)
    if task.kind == "multilabel":
        metrics["val_mean_accuracy"] = metrics.get("val_accuracy")
    left_out = {k: v for k, v in left_out.items() if v}
    if left_out:  # photos without a usable face: counted in the metrics, said in the log
        metrics["left_out"] = left_out
        log.warning("%s: photos left out (no face descriptor): %s", path.name,
                    "; ".join(f"{k} {sum(v.values())} ({', '.join(f'{n} {s}' for s, n in v.items())})"
                              for k, v in left_out.items()))
    artifacts.write_json(path / METRICS, metrics)
    artifacts.write_card(path, config=cfg.to_dict(), task=task, input_=input_, metrics=metrics,
                         data_summary={"path": str(ds.path), "train": len(train_rows), "val": len(val_rows),
                                       "test": len(ds.split("test")), "holdout": holdout},
                         per_output=per_output, init=None)
    lc.save_state(status="finished", epoch=1, elapsed=secs, best_epoch=1)  # last: the run is complete
    return Run.load(path)
