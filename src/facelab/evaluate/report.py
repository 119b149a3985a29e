"""``facelab evaluate``: every number and figure about one run on one split of one dataset.

``evaluate(run)`` loads the run, predicts the split of its own prepared cache (or of ``data``),
computes the metrics with :mod:`facelab.evaluate.metrics` and writes into
``runs/<name>/eval/<split>[-<data-name>]/``::

    metrics.json        everything below, machine-readable
    report.md           the summary, tables and classification report
    per_attribute.csv   one row per attribute (binary/multilabel) or class (multiclass); also .md
    subgroups.csv       accuracy / F1 / positive rates per value of each group column; also .md
    confusion.png       counts and normalised (one row per attribute for multilabel)
    reliability.png     reliability diagram with the expected calibration error
    top_losses.png      the images the model is most confidently wrong about
    saliency.*          with ``saliency=True``: where the model looks, averaged per output and
                        subgroup beside the mean faces (:mod:`facelab.explain.report`)

When the split is empty (a real CelebA subset may have no test rows), the run's held-out ``val``
split is used instead and the report says so.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import DataError, RunError
from ..runs import Run
from . import metrics as M
from . import plots as P

DEFAULT_GROUPS = ("Male", "Young")


@dataclass
class Prediction:
    """Probabilities of one run on one split: ``rows`` index the cache, ``y`` the true labels."""

    run_name: str
    data: Path
    split: str
    kind: str
    labels: list[str]
    rows: np.ndarray
    y: np.ndarray
    prob: np.ndarray
    seconds: float
    notes: list[str] = field(default_factory=list)


@dataclass
class EvalReport:
    """The result of :func:`evaluate` (numbers, tables and the files written)."""

    run: str
    data: str
    split: str
    kind: str
    labels: list[str]
    n: int
    overall: dict
    per_label: pd.DataFrame
    subgroups: pd.DataFrame
    confusion: dict[str, np.ndarray]
    classification_report: str
    out: Path
    files: dict[str, Path] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return M.as_jsonable({
            "run": self.run, "data": self.data, "split": self.split, "kind": self.kind,
            "labels": self.labels, "n": self.n, "overall": self.overall,
            "per_label": self.per_label.to_dict(orient="records"),
            "subgroups": self.subgroups.to_dict(orient="records"),
            "confusion": {k: np.asarray(v).tolist() for k, v in self.confusion.items()},
            "out": str(self.out), "files": {k: str(v) for k, v in self.files.items()},
            "notes": self.notes,
        })

    def summary(self) -> str:
        """A few lines for the terminal."""
        o = self.overall

        def f(k):
            v = o.get(k)
            return "–" if v is None else f"{v:.3f}"

        ci = (f" (95% CI {f('accuracy_low')}–{f('accuracy_high')})"
              if o.get("accuracy_low") is not None and o.get("accuracy_high") is not None else "")
        lines = [f"run {self.run} on {self.split} of {self.data} ({self.n} images, {self.kind})",
                 f"accuracy {f('accuracy')}{ci}  balanced {f('balanced_accuracy')}  precision {f('precision')}  "
                 f"recall {f('recall')}  F1 {f('f1')}  ROC AUC {f('roc_auc')}  ECE {f('ece')}"]
        if "subset_accuracy" in o:
            lines.append(f"exact-match accuracy over {len(self.labels)} attributes {f('subset_accuracy')}")
        if len(self.subgroups):
            parts = [f"{r.value if str(r.group) in str(r.value) else f'{r.group}={r.value}'} {r.accuracy:.3f} (n={r.n})"
                     for r in self.subgroups.itertuples()]
            lines.append("subgroup accuracy: " + ", ".join(parts))
        lines += [f"note: {n}" for n in self.notes]
        lines.append(f"written to {self.out}")
        return "\n".join(lines)


def open_run(run, runs_dir: str | Path | None = None) -> Run:
    """A :class:`Run` as it is; a name or folder opened (a name looked up in ``runs_dir``)."""
    from ..runs import resolve_run

    return run if isinstance(run, Run) else Run.load(resolve_run(run, runs_dir))


def run_data_path(run: Run) -> Path:
    """The prepared cache a run was trained on (``data`` in its config)."""
    if run.config.get("data"):
        return Path(run.config["data"])
    raise RunError(f"run {run.name} does not record its data", path=run.path,
                   fix="pass the prepared cache explicitly: `facelab evaluate RUN --data CACHE`")


def true_labels(ds, task, path: Path) -> np.ndarray:
    """The task's labels from a prepared dataset's table, mapped to the run's class order."""
    table = ds.table
    missing = [t for t in task.targets if t not in table.columns]
    if missing:
        raise DataError(f"{path} has no label column {', '.join(missing)} that the run predicts",
                        path=path, fix=f"evaluate on data with these labels; it has: {', '.join(ds.labels)}")
    if task.kind != "multiclass":
        return table[list(task.targets)].to_numpy().astype(int)
    col = task.targets[0]
    info = ds.labels.get(col)
    y = table[col].to_numpy().astype(int)
    if info is not None and list(info.classes) != list(task.classes):
        # same classes in another order (or a subset): map by name
        unknown = sorted(set(info.classes) - set(task.classes))
        if unknown:
            raise DataError(f"{path}: classes {', '.join(unknown)} of {col!r} are unknown to the run",
                            path=path, fix=f"the run knows: {', '.join(task.classes)}")
        lut = np.array([list(task.classes).index(c) for c in info.classes])
        y = lut[y]
    return y


def predict_split(run, *, data=None, split: str = "test", batch: int = 512, progress: bool = True,
                  runs_dir: str | Path | None = None) -> Prediction:
    """Probabilities of ``run`` (a name is looked up in ``runs_dir``) on one split (falling back to
    ``val`` when that split is empty).

    Example: docs/python.md#evaluation.
    """
    import time

    from tqdm.auto import tqdm

    from ..data.prepared import META_FILE, PreparedDataset, open_prepared

    run = open_run(run, runs_dir)
    path = Path(getattr(data, "path", data)) if data is not None else run_data_path(run)
    notes = []
    if data is not None and not isinstance(data, PreparedDataset) and not (path / META_FILE).is_file():
        # a dataset folder: prepared once with the run's own geometry (reused next time)
        from ..data.ensure import ensure_prepared
        from ..faces import prepare_align

        inp = run.input
        ds = ensure_prepared(path, size=inp.get("size"), crop=inp.get("crop"), grey=inp.get("channels") == 1,
                             progress=progress, aligner=prepare_align)
        notes.append(f"{path} is a dataset folder: evaluated on its cache {ds.path}, prepared with the run's "
                     f"geometry ({inp.get('size')} px, {inp.get('crop')} crop)")
    else:
        ds = data if isinstance(data, PreparedDataset) else open_prepared(path)
    from ..models.embed import dataset_inputs, run_wants_descriptors

    if data is not None and not run_wants_descriptors(run):  # never scored on faces framed otherwise
        from ..data.framing_match import matching_cache
        from ..faces import prepare_align  # frames detected faces when a run's crop is "detect"

        ds, note = matching_cache(run.input, ds, progress=progress, aligner=prepare_align)
        notes += [note] if note else []
    if split not in ("train", "val", "test"):
        raise DataError(f"unknown split {split!r}", fix="use train, val or test")
    rows = ds.split(split)
    if len(rows) == 0 and split != "val":
        notes.append(f"the {split} split of {ds.path} is empty; evaluated on the run's held-out val split instead")
        split = "val"
    if split == "val" and data is None:
        rows = _run_val_rows(run, ds)
    if len(rows) == 0:
        raise DataError(f"{ds.path} has no {split} rows to evaluate on", path=ds.path,
                        fix="prepare a cache with a held-out split, or pass --split")
    if run_wants_descriptors(run):  # a photo without a usable face has no descriptor: left out, counted
        from ..models.embed import face_rows

        rows, left = face_rows(run.estimator(), ds, rows)
        if left:
            notes.append(f"{sum(left.values())} photos left out: no face descriptor "
                         f"({', '.join(f'{n} {k}' for k, n in left.items())})")
    seen = run.trained_on(ds, rows)  # --split train, a run without a held-out split, or a cache of the same source
    if seen:
        notes.append(f"{seen:,} of these {len(rows):,} images are ones the run trained on: the figures measure "
                     "how well it fits them, not its accuracy on new faces (evaluate --split test for that)")
    size, channels = int(run.input.get("size", ds.size)), int(run.input.get("channels", ds.channels))
    if channels != ds.channels:
        raise DataError(f"the run expects {channels}-channel images, {ds.path} has {ds.channels}",
                        path=ds.path, fix="prepare the data with the run's --grey setting")
    y = true_labels(ds, run.task, ds.path)[rows]
    out = []
    t0 = time.perf_counter()
    for i in tqdm(range(0, len(rows), batch), desc=f"predict {split}", unit="batch", disable=None if progress else True,
                  leave=False):
        x = np.asarray(ds.images[rows[i:i + batch]])
        if run_wants_descriptors(run):  # embed models: descriptors of the source photos
            x = dataset_inputs(run.estimator(), ds, rows[i:i + batch])
        elif size != ds.size:
            x = resize_images(x, size)
        out.append(np.asarray(run.predict_proba(x), dtype=np.float32))
    prob = np.concatenate(out).reshape(len(rows), -1)
    kind = run.task.kind
    if kind == "binary":
        y = y.reshape(-1)
    elif kind == "multiclass":
        y = y.reshape(-1)
    return Prediction(run.name, ds.path, split, kind, list(run.task.classes), rows, y, prob,
                      time.perf_counter() - t0, notes)


def _run_val_rows(run, ds) -> np.ndarray:
    """The val rows the run itself held out (``split.json``), else the cache's val split."""
    try:
        sp = run.split()
    except RunError:
        return ds.split("val")
    rows = np.asarray(sp.get("val") or [], dtype=np.int64)
    return rows if len(rows) else ds.split("val")


def resize_images(x: np.ndarray, size: int) -> np.ndarray:
    """uint8 NHWC images resized to ``size`` (``INTER_AREA``, as a prepared cache is made)."""
    import cv2

    out = np.stack([cv2.resize(im, (size, size), interpolation=cv2.INTER_AREA) for im in x])
    return out.reshape(len(x), size, size, x.shape[-1])


def evaluate(run, *, data=None, split: str = "test", groups=None, out=None, top_k: int = 16,
             progress: bool = True, runs_dir: str | Path | None = None, saliency: bool = False,
             saliency_faces: int | None = None) -> EvalReport:
    """Evaluate a run: metrics, calibration, confusion, top losses and subgroups, written to disk.

    Args:
        run: a :class:`Run`, a run name or a run folder.
        data: another prepared cache (or source folder) to evaluate on; default the run's own.
        split: ``test`` (default), ``val`` or ``train``; an empty split falls back to ``val``.
        groups: attribute columns to break results down by (list or comma-separated string);
            default ``Male`` and ``Young`` when the data has them.
        out: output folder; default ``runs/<name>/eval/<split>[-<data-name>]`` (for a model shipped
            with facelab, ``$FACELAB_HOME/eval/<name>-<key>/<split>[-<data-name>]``).
        top_k: images in the top-losses grid.
        runs_dir: where a run name is looked up (default ``$FACELAB_RUNS`` or ``./runs``).
        saliency: also average saliency maps over the evaluated faces per output and subgroup,
            beside the mean faces of the same groups (``saliency.html``, ``saliency-<output>.png``).
        saliency_faces: faces averaged (default 256, a seeded sample).

    Example: docs/python.md#evaluation.
    """
    from ..data.prepared import open_prepared

    run = open_run(run, runs_dir)
    pred = predict_split(run, data=data, split=split, progress=progress)
    ds = open_prepared(pred.data)
    kind = pred.kind
    scores = M.score(pred.y, pred.prob, kind, pred.labels)

    group_cols = _group_columns(groups, ds)
    tables = {g: ds.table[g].to_numpy()[pred.rows] for g in group_cols}
    names = {g: list(ds.labels[g].classes) for g in group_cols if g in ds.labels}
    subgroups = M.subgroup_table(pred.y, pred.prob, kind, tables, names) if group_cols else pd.DataFrame()

    suffix = "" if data is None else f"-{Path(data).name}"
    from ..runs.derived import eval_root  # a shipped model's reports go under $FACELAB_HOME

    folder = Path(out) if out is not None else eval_root(run.path) / f"{pred.split}{suffix}"
    from ..outputs import claim_folder, folder_with_files, writing  # never write into a user's folder

    folder = claim_folder(folder, what="evaluation folder", recognise=folder_with_files("metrics.json"))
    with writing(folder, "evaluation report"):
        report = _write_report(run, pred, ds, scores, subgroups, folder, top_k,
                               saliency=(tables, names, saliency_faces, progress) if saliency else None)
    return report


def _write_report(run, pred: Prediction, ds, scores, subgroups: pd.DataFrame, folder: Path,
                  top_k: int, saliency: tuple | None = None) -> EvalReport:
    """The figures and tables, then ``report.md``, then ``metrics.json`` last (atomically): a
    folder without ``metrics.json`` is an unfinished report."""
    from ..outputs import write_text

    kind, labels = pred.kind, pred.labels
    (folder / "metrics.json").unlink(missing_ok=True)  # an older report's: not this one's
    files: dict[str, Path] = {}
    title = f"{run.name} · {pred.split} · n={len(pred.y)}"
    if kind == "multilabel":
        files["confusion"] = P.plot_confusion_multilabel(scores.confusion, folder / "confusion.png", title)
    else:
        cm = next(iter(scores.confusion.values()))
        cls = [f"not {labels[0]}", labels[0]] if kind == "binary" else labels
        files["confusion"] = P.plot_confusion(cm, cls, folder / "confusion.png", title)
    bins = M.reliability_bins(pred.y, pred.prob, kind)
    files["reliability"] = P.plot_reliability(bins, folder / "reliability.png",
                                              f"{run.name}: reliability (ECE {bins.ece:.3f})")
    files["top_losses"] = _top_losses_png(ds, pred, folder / "top_losses.png", top_k)

    table = scores.per_label
    table.to_csv(folder / "per_attribute.csv", index=False)
    (folder / "per_attribute.md").write_text(M.markdown_table(table) + "\n")
    files["per_attribute"] = folder / "per_attribute.csv"
    if len(subgroups):
        subgroups.to_csv(folder / "subgroups.csv", index=False)
        (folder / "subgroups.md").write_text(M.markdown_table(subgroups) + "\n")
        files["subgroups"] = folder / "subgroups.csv"

    if saliency is not None:  # (group tables, group names, faces, progress)
        files.update(_saliency(run, ds, pred, saliency[0], saliency[1], folder, saliency[2], saliency[3]))
    report = EvalReport(run=run.name, data=str(pred.data), split=pred.split, kind=kind, labels=labels,
                        n=len(pred.y), overall=scores.overall, per_label=table, subgroups=subgroups,
                        confusion=scores.confusion, classification_report=scores.report, out=folder,
                        files=files, notes=pred.notes)
    files["metrics"] = folder / "metrics.json"
    files["report"] = folder / "report.md"
    write_text(folder / "report.md", _markdown(report), "evaluation report")
    write_text(folder / "metrics.json", json.dumps(report.to_dict(), indent=2), "evaluation report")
    return report


def _saliency(run, ds, pred: Prediction, tables: dict, names: dict, folder: Path, faces: int | None,
              progress: bool) -> dict[str, Path]:
    """The dataset saliency maps (:func:`facelab.explain.report.write_saliency`) of a sample of
    the evaluated faces, keyed ``saliency_<output>``, ``saliency_html``, ``saliency_json``."""
    from ..explain.report import MAX_FACES, sample_rows, write_saliency

    pick = sample_rows(len(pred.rows), faces or MAX_FACES)
    size = int(run.input.get("size", ds.size))
    images = np.asarray(ds.images[pred.rows[pick]])
    if size != ds.size:
        images = resize_images(images, size)
    y = pred.y[pick]
    labels = np.eye(len(pred.labels), dtype=int)[y] if pred.kind == "multiclass" else y.reshape(len(pick), -1)
    files = write_saliency(run, images, labels, {g: v[pick] for g, v in tables.items()}, names, folder,
                           progress=progress)
    return {f"saliency_{k}": v for k, v in files.items()}


def _group_columns(groups, ds) -> list[str]:
    if groups is None:
        return [g for g in DEFAULT_GROUPS if g in ds.table.columns]
    if isinstance(groups, str):
        groups = [g.strip() for g in groups.split(",") if g.strip()]
    missing = [g for g in groups if g not in ds.table.columns or g in ("path", "image_id", "split")]
    if missing:
        raise DataError(f"{ds.path} has no group column {', '.join(missing)}", path=ds.path,
                        fix=f"choose among: {', '.join(ds.labels)}")
    return list(groups)


def _top_losses_png(ds, pred: Prediction, path: Path, k: int) -> Path:
    order = M.top_losses(pred.y, pred.prob, pred.kind, k=len(pred.y))
    chosen, captions = [], []
    p_hat, conf = M.top_label(pred.prob, pred.kind)
    for i in order:
        if len(chosen) >= k:
            break
        if pred.kind == "multiclass":
            t, p = int(pred.y[i]), int(p_hat[i])
            if t == p:
                continue  # only mistakes belong in this grid
            cap = f"true {pred.labels[t]}\npred {pred.labels[p]} ({conf[i]:.2f})"
        else:
            y2 = pred.y.reshape(len(pred.y), -1)[i]
            pr = pred.prob.reshape(len(pred.y), -1)[i].astype(float)
            losses = -(y2 * np.log(np.clip(pr, 1e-7, 1)) + (1 - y2) * np.log(np.clip(1 - pr, 1e-7, 1)))
            j = int(np.argmax(losses))
            if (pr[j] >= 0.5) == bool(y2[j]):
                continue
            name = pred.labels[j]
            cap = (f"{name}: true {'yes' if y2[j] else 'no'}\n"
                   f"pred {'yes' if pr[j] >= 0.5 else 'no'} ({max(pr[j], 1 - pr[j]):.2f})")
        chosen.append(int(pred.rows[i]))
        captions.append(cap)
    images = np.asarray(ds.images[np.array(chosen, dtype=int)]) if chosen else np.zeros((0, 1, 1, 3), np.uint8)
    return P.plot_image_grid(images, captions, path, f"{pred.run_name}: most confident mistakes")


def _markdown(r: EvalReport) -> str:
    parts = [f"# Evaluation of `{r.run}`", "", f"Data `{r.data}`, split **{r.split}**, {r.n} images, "
             f"task {r.kind} ({', '.join(r.labels[:8])}{' …' if len(r.labels) > 8 else ''}).", ""]
    parts += [f"> {n}" for n in r.notes]
    ov = pd.DataFrame([{k: v for k, v in r.overall.items() if k != "n"}])
    parts += ["## Overall", "", M.markdown_table(ov), "",
              "## Per attribute / class", "", M.markdown_table(r.per_label), ""]
    if len(r.subgroups):
        parts += ["## Subgroups", "", M.markdown_table(r.subgroups), ""]
    parts += ["## Classification report", "", "```", r.classification_report.rstrip(), "```", "",
              "![confusion](confusion.png)", "", "![reliability](reliability.png)", "",
              "![top losses](top_losses.png)", ""]
    if "saliency_html" in r.files:
        parts += ["## Where the model looks", "", "Mean saliency per output and subgroup beside the mean faces: "
                  "[saliency.html](saliency.html).", ""]
        parts += [f"![{k[9:]}]({v.name})" for k, v in r.files.items()
                  if k.startswith("saliency_") and v.suffix == ".png"][:5] + [""]
    return "\n".join(parts)
