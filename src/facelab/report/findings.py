"""Findings: the study's question, hypothesis, method and answer, written from the evidence present.

Nothing here is typed in by hand. For each attribute or target the runs and explore reports
cover, :func:`collect_findings` states

- the **question** (do faces with the attribute look different, can a model tell them apart?),
- the **hypothesis** (they differ visibly, so a classifier beats the majority-class rate),
- **how it was tested**: the explore report's mean-face difference against a chance
  baseline (:mod:`facelab.explore.contrast`), and the best run's accuracy on held-out images with
  its 95% interval (:func:`facelab.evaluate.metrics.accuracy_interval`), against always answering
  the majority class on those same images;
- the **answer**, with a verdict: ``supported``, ``not supported``, ``inconclusive`` or
  ``not enough evidence`` (no run, no held-out images, no report), and the commands that would
  supply what is missing.

Multiclass targets (e.g. FER emotion) get the same test on accuracy, and a per-class accuracy table.

Example:
    >>> f = finding_for("Male", runs=[], reports=[])
    >>> f.verdict, f.missing[0]
    ('not enough evidence', 'facelab train DATA --target Male')
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import FacelabError

#: a mean-face difference this many times the chance baseline (a random split) is called visible
VISIBLE_RATIO = 2.0
#: how two groups of a binary attribute are called in sentences (others: "faces with/without X")
GROUP_WORDS = {"Male": ("men", "women"), "Smiling": ("smiling faces", "faces that do not smile"),
               "Young": ("young faces", "older faces"), "Eyeglasses": ("faces with glasses", "faces without glasses")}


def _groups(attr: str) -> tuple[str, str]:
    words = attr.replace("_", " ").lower()
    return GROUP_WORDS.get(attr, (f"faces with {words}", f"faces without {words}"))


def _pct(v: float) -> str:
    return f"{100 * v:.1f}%"


@dataclass
class ClassifierEvidence:
    """One run's accuracy on ``subject`` over held-out images, beside the majority-class rate."""

    run: str
    model: str
    split: str
    n: int
    accuracy: float
    low: float
    high: float
    majority: float  # accuracy of always answering the most common class on the same images
    held_out: bool
    per_class: pd.DataFrame | None = None  # multiclass: class, n, accuracy (recall)
    one_answer: bool = False  # the model gives the same answer for every image (degenerate)
    degenerate: str | None = None  # training's own verdict (metrics.json "degenerate", runs/degenerate.py)

    @property
    def text(self) -> str:
        where = f"{self.n:,} {'held-out ' if self.held_out else ''}{self.split} images"
        return (f"run `{self.run}` ({self.model}): accuracy {_pct(self.accuracy)} (95% CI {_pct(self.low)}–"
                f"{_pct(self.high)}) on {where}; always answering the most common class scores "
                f"{_pct(self.majority)}")


@dataclass
class MeanFaceEvidence:
    """The explore report's mean-face difference for a binary attribute."""

    report: Path
    n_with: int
    n_without: int
    difference: float
    baseline: float
    ratio: float | None
    figure: Path | None = None

    @property
    def visible(self) -> bool:
        return self.ratio is not None and self.ratio >= VISIBLE_RATIO

    def text(self, attr: str) -> str:
        a, b = _groups(attr)
        times = f"{self.ratio:.1f}×" if self.ratio is not None else "n/a ×"
        return (f"mean face of {self.n_with:,} {a} against {self.n_without:,} {b}: they differ by "
                f"{self.difference:.1f} grey levels per pixel on average, {times} the {self.baseline:.1f} "
                f"that a random split of the same images into groups of those sizes gives")


@dataclass
class Finding:
    """What the evidence present says about one attribute or target (see the module docstring)."""

    subject: str
    kind: str  # "binary" (an attribute) or "multiclass" (a target with classes)
    question: str
    hypothesis: str
    method: list[str]
    verdict: str
    answer: str
    classifier: ClassifierEvidence | None = None
    others: list[ClassifierEvidence] = field(default_factory=list)
    mean_face: MeanFaceEvidence | None = None
    missing: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


# -- reading the evidence ------------------------------------------------------------------------
def load_runs(runs_dir: str | Path) -> list:
    """Every finished run under ``runs_dir`` that loads (a broken run is skipped, not fatal).

    Each run reads its ``predictions.parquet`` once however many attributes are asked about (a
    40-attribute run is asked 40 times).
    """
    from functools import lru_cache

    from ..runs import Run
    from ..runs.listing import run_names

    out = []
    for name in run_names(runs_dir):
        try:
            run = Run.load(Path(runs_dir) / name)
        except (FacelabError, OSError, ValueError):  # a half-written or corrupt run says so on the Models page
            continue
        run.predictions = lru_cache(maxsize=1)(run.predictions)
        out.append(run)
    return out


def load_explore(folder: Path) -> dict:
    try:
        return json.loads((Path(folder) / "explore.json").read_text())
    except (OSError, ValueError):
        return {}


def classifier_evidence(run, subject: str) -> ClassifierEvidence | None:
    """``run``'s held-out accuracy on ``subject`` (a binary/multilabel output, or a multiclass target)."""
    from ..evaluate.classification import held_out_split, labels_and_probabilities
    from ..evaluate.metrics import accuracy_interval

    task = run.task
    if task.kind == "multiclass" and task.targets[0] != subject:
        return None
    if task.kind != "multiclass" and subject not in task.classes:
        return None
    split = held_out_split(run)
    if split is None:
        return None
    y, prob = labels_and_probabilities(run, split)
    if not len(y):
        return None
    per_class = None
    if task.kind == "multiclass":
        pred = prob.argmax(1)
        counts = np.bincount(y, minlength=len(task.classes))
        majority = float(counts.max() / len(y))
        per_class = pd.DataFrame({"class": task.classes, "images": counts,
                                  "accuracy": [float(np.mean(pred[y == i] == i)) if counts[i] else np.nan
                                               for i in range(len(task.classes))]})
    else:
        k = task.classes.index(subject)
        y = y.reshape(len(y), -1)[:, k]
        pred = (prob.reshape(len(prob), -1)[:, k] >= 0.5).astype(int)
        majority = float(max(y.mean(), 1 - y.mean()))
    right = (pred == y).astype(float)
    lo, hi = accuracy_interval(right)
    held = split == "test" or bool((run.metrics or {}).get("holdout", True))
    return ClassifierEvidence(run=run.name, model=run.model_name, split=split, n=int(len(y)),
                              accuracy=float(right.mean()), low=lo, high=hi, majority=majority, held_out=held,
                              per_class=per_class, one_answer=len(np.unique(pred)) == 1,
                              degenerate=(run.metrics or {}).get("degenerate") or None)


def mean_face_evidence(reports: list[Path], attr: str) -> MeanFaceEvidence | None:
    """The first report (newest first) that measured ``attr``'s mean-face difference."""
    for folder in reports:
        c = load_explore(folder).get("mean_face_differences", {}).get(attr)
        if c:
            png = Path(folder) / "mean_attributes.png"
            return MeanFaceEvidence(report=Path(folder), n_with=c["n_with"], n_without=c["n_without"],
                                    difference=c["difference"], baseline=c["baseline"], ratio=c.get("ratio"),
                                    figure=png if png.is_file() else None)
    return None


# -- writing the finding -------------------------------------------------------------------------
def _classifier_verdict(ev: ClassifierEvidence) -> str:
    if not ev.held_out:
        return "not enough evidence"
    if ev.low > ev.majority:
        return "supported"
    if ev.high <= ev.majority:
        return "not supported"
    return "inconclusive"


def finding_for(subject: str, *, runs: list, reports: list[Path], kind: str | None = None,
                classes: list[str] | None = None) -> Finding:
    """The finding on one binary attribute or multiclass target from the runs and reports given.

    Args:
        subject: an attribute (``Male``) or a multiclass target (``emotion``).
        runs: loaded :class:`facelab.runs.Run` objects (any target: the relevant ones are picked).
        reports: explore report folders, newest first.
        kind: ``binary`` or ``multiclass`` (default: from the runs; ``binary`` without one).
        classes: a multiclass target's classes, for the question when no run names them.
    """
    evidence = [e for e in (classifier_evidence(r, subject) for r in runs) if e is not None]
    evidence.sort(key=lambda e: (e.held_out, e.accuracy), reverse=True)
    best = evidence[0] if evidence else None
    if kind is None:
        kind = "multiclass" if any(r.task.kind == "multiclass" and r.task.targets[0] == subject for r in runs) \
            else "binary"
    missing, notes = [], []
    if kind == "multiclass":
        names = classes or next((r.task.classes for r in runs if r.task.targets[0] == subject), [])
        shown = ", ".join(names[:8]) + (", …" if len(names) > 8 else "")
        question = f"Can a model tell the {subject} classes ({shown}) apart from the face alone?"
        hypothesis = (f"Each {subject} class has a look of its own, so a classifier scores above always "
                      f"answering the most common class, on faces it never trained on.")
        method = ["Train a classifier on the training split (`facelab train DATA --target "
                  f"{subject}`).",
                  "Score it on held-out images (the test split, else the validation split kept out of "
                  "training): accuracy with its 95% Wilson interval, and accuracy per class.",
                  "Compare with always answering the most common class on the same images."]
        mean_face = None
    else:
        a, b = _groups(subject)
        question = f"Do {a} and {b} look different — enough for a model to tell them apart?"
        hypothesis = (f"{a[0].upper() + a[1:]} and {b} have distinct facial appearance: their mean faces "
                      f"differ beyond chance, and a classifier scores above always answering the "
                      f"most common group on faces it never trained on.")
        method = ["Mean-face study (`facelab explore`): average the images of each group and measure "
                  "the mean absolute pixel difference, against what a random split of the same images "
                  f"into groups of those sizes gives (visible when ≥ {VISIBLE_RATIO:g}× that baseline).",
                  f"Classifier (`facelab train DATA --target {subject}`): accuracy on held-out images "
                  "with its 95% Wilson interval.",
                  "Compare with always answering the most common group on the same images: "
                  "supported when the whole interval lies above it."]
        mean_face = mean_face_evidence(reports, subject)
        if mean_face is None:
            missing.append("facelab explore DATA")
    if best is None:
        missing.insert(0, f"facelab train DATA --target {subject}")
    elif not best.held_out:
        notes.append(f"run `{best.run}` was validated on images it also trained on: its accuracy is "
                     "optimistic and is not counted as evidence.")

    parts = []
    if best is None:
        verdict = "not enough evidence"
        parts.append(f"No trained model predicts {subject} yet, so the hypothesis is untested.")
    else:
        verdict = _classifier_verdict(best)
        if verdict == "supported":
            parts.append(f"Yes: the best model, `{best.run}`, is right on {_pct(best.accuracy)} of "
                         f"{best.n:,} held-out faces (95% CI {_pct(best.low)}–{_pct(best.high)}), above the "
                         f"{_pct(best.majority)} of always answering the most common "
                         f"{'class' if kind == 'multiclass' else 'group'}.")
        elif verdict == "not supported":
            parts.append(f"No: the best model, `{best.run}`, scores {_pct(best.accuracy)} (95% CI "
                         f"{_pct(best.low)}–{_pct(best.high)}), no better than always answering the most "
                         f"common {'class' if kind == 'multiclass' else 'group'} ({_pct(best.majority)}).")
        elif verdict == "inconclusive":
            parts.append(f"Not settled: `{best.run}` scores {_pct(best.accuracy)} but its 95% interval "
                         f"({_pct(best.low)}–{_pct(best.high)}) includes the {_pct(best.majority)} of always "
                         f"answering the most common {'class' if kind == 'multiclass' else 'group'}: more "
                         "held-out images or a better model would decide it.")
        else:
            parts.append("The only model was not scored on held-out images: the hypothesis is untested.")
    if mean_face is not None:
        parts.append(("The mean faces differ visibly" if mean_face.visible else
                      "The mean faces differ no more than chance would make them") +
                     f" ({mean_face.difference:.1f} grey levels, {mean_face.ratio or 0:.1f}× the chance baseline).")
        if verdict == "supported" and not mean_face.visible:
            notes.append("the model separates the groups although their mean faces look alike: the "
                         "difference is in details that averaging blurs away.")
    if best is not None and best.one_answer:
        notes.append(f"`{best.run}` gives the same answer for every held-out face: it is degenerate (too "
                     "small or too briefly trained) and says nothing about the faces.")
    elif best is not None and best.degenerate:  # training flagged it (e.g. no better than chance)
        notes.append(f"`{best.run}` is degenerate ({best.degenerate}, as training found): it says little "
                     "about the faces.")
    if best is not None and best.per_class is not None:
        weak = best.per_class.dropna()
        weak = weak[weak["accuracy"] < 1.0 / max(len(weak), 1)]["class"].tolist()
        if weak:
            notes.append(f"classes the model recognises no better than guessing: {', '.join(weak)}.")
    return Finding(subject=subject, kind=kind, question=question, hypothesis=hypothesis, method=method,
                   verdict=verdict, answer=" ".join(parts), classifier=best, others=evidence[1:],
                   mean_face=mean_face, missing=missing, notes=notes)


def subjects(runs: list, reports: list[Path]) -> list[tuple[str, str]]:
    """(subject, kind) pairs worth a finding: what a run predicts first (binary attributes and
    multiclass targets), then attributes that only an explore report measured."""
    out: dict[str, str] = {}
    for r in runs:
        if r.task.kind == "multiclass":
            out.setdefault(r.task.targets[0], "multiclass")
        else:
            for c in r.task.classes:
                out.setdefault(c, "binary")
    for folder in reports:
        for a in load_explore(folder).get("mean_face_differences", {}):
            out.setdefault(a, "binary")
    return list(out.items())


def collect_findings(runs_dir: str | Path, reports: list[Path]) -> list[Finding]:
    """One :class:`Finding` per subject (see :func:`subjects`); empty when there is no evidence at all.

    Example: docs/python.md#explore-and-cluster.
    """
    runs = load_runs(runs_dir) if Path(runs_dir).is_dir() else []
    return [finding_for(s, runs=runs, reports=reports, kind=k) for s, k in subjects(runs, reports)]


def finding_markdown(f: Finding, question: bool = True) -> str:
    """The finding as Markdown (the dashboard page and a report share it); ``question=False``
    leaves the question out where a page shows it as a heading."""
    lines = ([f"**Question.** {f.question}", ""] if question else []) + [
        f"**Hypothesis.** {f.hypothesis}", "", "**How it was tested.**"]
    lines += [f"{i}. {m}" for i, m in enumerate(f.method, 1)]
    lines += ["", "**Evidence.**"]
    if f.mean_face is not None:
        lines.append(f"- {f.mean_face.text(f.subject)} (report `{f.mean_face.report}`).")
    if f.classifier is not None:
        lines.append(f"- {f.classifier.text}.")
    lines += [f"- {o.text}." for o in f.others[:4]]
    if f.mean_face is None and f.classifier is None:
        lines.append("- none yet.")
    lines += ["", f"**Answer ({f.verdict}).** {f.answer}"]
    lines += [f"- note: {n}" for n in f.notes]
    if f.missing:
        lines += ["", "Not enough evidence yet for a full answer — run: " + "; ".join(f"`{m}`" for m in f.missing)]
    return "\n".join(lines)
