"""Make the models shipped inside the package (``src/facelab/pretrained/<name>/``) from runs of the
benchmark recipes on the real datasets, with their model cards.

The whole recipe (this is the command each card names)::

    python bench/train_celeba.py --target all --minutes 30 --threads 1 --recipe celeba/multilabel --tag ship
    python bench/train_fer.py --minutes 115 --threads 1 --tag ship115
    python bench/ship_models.py --celeba-run <run of the first> --fer-run <run of the second>

Both training commands print their run folder (also in ``bench/results/*.json``: ``run``). This
script evaluates each run on its held-out test split (CelebA: with the subgroups ``Male`` and
``Young``; FER2013: per emotion), copies the files a predictor needs (no checkpoint, predictions
or split: the weights are stored in fp16, ~2.5 MB a model) and writes the card. The held-out
splits are the benchmark reader's seeded 80/10/10 splits of the images in ``FACELAB_DATA``.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
DEST = ROOT / "src" / "facelab" / "pretrained"
KEEP = ("config.yaml", "task.json", "input.json", "calibration.json", "metrics.json", "history.csv")

SPECS = {
    "celeba-attributes": {
        "dataset": "celeba", "frame": "CelebA", "size": 64, "crop": "face", "grey": False, "groups": ["Male", "Young"],
        "train_cmd": "python bench/train_celeba.py --target all --minutes 30 --threads 1 --recipe celeba/multilabel --tag ship",
        "what": "the 40 CelebA attributes of each face (multilabel: one probability per attribute)",
        "terms": ("CelebA is for **non-commercial research purposes only** (its agreement: "
                  "mmlab.ie.cuhk.edu.hk/projects/CelebA.html). This model was trained on CelebA images, "
                  "so the same terms apply to it: do not use it commercially."),
        "limits": ("CelebA is celebrities photographed in public: mostly young, light-skinned, frontal, well lit "
                   "and often made up. Its labels are one annotator's judgement and some are subjective "
                   "(Attractive, Oval_Face, Pointy_Nose: 70-83% accuracy) or rare (most faces are not Bald, "
                   "so a 98% accuracy there says little: see precision and recall per attribute in "
                   "`facelab evaluate`). Expect lower accuracy on faces unlike CelebA's: older people, darker "
                   "skin, profile views, low light, children. Never use it to judge a person."),
    },
    "fer-emotions": {
        "dataset": "fer2013", "frame": "FER2013", "size": 48, "crop": None, "grey": True, "groups": None,
        "train_cmd": "python bench/train_fer.py --minutes 115 --threads 1 --tag ship115",
        "what": "the facial expression of each face: one of angry, disgust, fear, happy, sad, surprise, neutral",
        "terms": ("FER2013 was released for the ICML 2013 representation-learning challenge on Kaggle, for "
                  "research; its images were collected from web searches and keep their owners' rights. Use "
                  "this model for research and teaching."),
        "limits": ("FER2013 is 48x48 grey web images labelled with one of seven posed or spontaneous "
                   "expressions; human accuracy on it is about 65%. The model reads an expression, not a "
                   "feeling: a smile is not happiness. Disgust has few training images (about 1.5%) and is "
                   "rarely recognised; fear and sad are often confused. Never use it to judge a person."),
    },
}


def _source(kind: str) -> Path:
    root = Path(os.environ.get("FACELAB_DATA", ROOT.parent / "shared" / "data")) / kind
    if not root.is_dir():
        sys.exit(f"no {kind} data at {root}: set FACELAB_DATA to the folder holding celeba/ and fer2013/")
    return root


def _fp16_weights(src: Path, dst: Path) -> int:
    from safetensors.numpy import load_file, save_file

    tensors = {k: (v.astype("float16") if v.dtype.kind == "f" else v) for k, v in load_file(str(src)).items()}
    save_file(tensors, str(dst))
    return dst.stat().st_size


def _table(rows: list[list], head: list[str]) -> str:
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(out)


def card(name: str, spec: dict, run, ev: dict, weights_bytes: int) -> str:
    """The model card: what it predicts, the data and its terms, how it was made, accuracy with
    95% intervals on held-out images, per-output and subgroup figures, known limits."""
    m = run.metrics
    inp = run.input
    o = ev["overall"]
    lines = [
        f"# Model card: {name}",
        "",
        f"Shipped with facelab. Predicts {spec['what']}. Used by `facelab predict PHOTO` when no run is "
        f"given, by `facelab serve` and the dashboard when there are no runs, and by "
        f"`facelab train DATA --init {name}` as a starting backbone.",
        "",
        "## Model",
        f"- `{run.model_name}` {json.dumps(run.params)}; weights in fp16 ({weights_bytes / 1e6:.1f} MB)",
        f"- `model.onnx`: the same network for ONNX Runtime (what `facelab predict` and `serve` run; "
        f"`facelab export {name} --out model.onnx` in this folder, checked against torch to 1e-4)",
        f"- input: {inp['size']}x{inp['size']} {'grey' if inp.get('grey') else 'RGB'}, crop `{inp.get('crop')}`; "
        + (f"`facelab predict` detects each face ({inp['framing']['detector'].upper()}) and aligns it by its five "
           f"landmarks onto the template in the {spec['frame']} frame, then applies this geometry "
           f"(`input.json` `framing`)" if inp.get("framing") else
           "`facelab predict` detects each face and frames it with this geometry"),
        f"- probabilities temperature-scaled on validation (`calibration.json`)" if run.temperature != 1 else
        "- probabilities as the network gives them",
        "",
        "## Data and terms",
        f"- trained on {m.get('train_images')} images of the {spec['dataset']} subset described in the "
        f"project's benchmark data README; validation {m.get('val_images')} images, test "
        f"{ev['n']} images: the reader's seeded 80/10/10 split, so test images were never trained or tuned on",
        f"- {spec['terms']}",
        "",
        "## How it was made",
        "```",
        spec["train_cmd"],
        f"python bench/ship_models.py --{'celeba' if spec['dataset'] == 'celeba' else 'fer'}-run <its run folder>",
        "```",
        f"Trained for {m.get('epochs')} epochs ({m.get('train_seconds', 0) / 60:.0f} min, {m.get('threads')} "
        f"thread(s), {m.get('images_per_s', 0):.0f} images/s on 2 CPU cores), best epoch {m.get('best_epoch')}. "
        "The recipes are the benchmark recipes (docs/training.md). A time budget on a slower machine gives "
        "fewer epochs: rerun on an idle machine to reproduce the figures within their intervals.",
        "",
        "## Accuracy (95% intervals)",
        _table([["validation", f"{m['val_accuracy']:.4f}", f"{m['val_accuracy_low']:.4f}–{m['val_accuracy_high']:.4f}",
                 m.get("val_images")],
                ["test", f"{o['accuracy']:.4f}", f"{o['accuracy_low']:.4f}–{o['accuracy_high']:.4f}", ev["n"]]],
               ["split", "accuracy", "95% CI", "images"]),
    ]
    if ev.get("kind") == "multilabel":
        lines += ["", "Accuracy is the mean over the 40 attributes. Test figures per attribute "
                      "(accuracy, and precision/recall of the positive label):", ""]
        rows = [[r["label"], f"{r['accuracy']:.3f}", f"{r.get('precision', float('nan')):.3f}",
                 f"{r.get('recall', float('nan')):.3f}", f"{r.get('positive_rate', float('nan')):.3f}"]
                for r in ev["per_label"]]
        lines.append(_table(rows, ["attribute", "accuracy", "precision", "recall", "positive rate"]))
    else:
        lines += ["", "Test figures per class:", ""]
        rows = [[r["label"], f"{r.get('precision', float('nan')):.3f}", f"{r.get('recall', float('nan')):.3f}",
                 f"{r.get('f1', float('nan')):.3f}", r.get("support", "")] for r in ev["per_label"]]
        lines.append(_table(rows, ["emotion", "precision", "recall (= its accuracy)", "F1", "images"]))
    if ev.get("subgroups"):
        lines += ["", "## Subgroups (test)", "",
                  _table([[s["group"], s["value"], s["n"], f"{s['accuracy']:.3f}"] for s in ev["subgroups"]],
                         ["attribute", "group", "images", "accuracy"])]
        accs = [s["accuracy"] for s in ev["subgroups"]]
        lines.append(f"\nLargest gap between subgroups: {max(accs) - min(accs):.3f}.")
    lines += ["", "## Known limits", spec["limits"], ""]
    return "\n".join(lines)


def ship(name: str, run_path: Path) -> Path:
    from facelab.data.cache import prepare
    from facelab.evaluate.report import evaluate
    from facelab.runs import Run

    spec = SPECS[name]
    run = Run.load(run_path)
    with tempfile.TemporaryDirectory(prefix="facelab-ship-") as tmp:
        ds = prepare(_source(spec["dataset"]), size=spec["size"], crop=spec["crop"], grey=spec["grey"],
                     out=Path(tmp) / "cache", progress=True)
        rep = evaluate(run, data=ds.path, split="test", groups=spec["groups"], out=Path(tmp) / "eval")
        ev = json.loads((Path(rep.out) / "metrics.json").read_text())
    dest = DEST / name
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    for f in KEEP:
        if (run.path / f).is_file():
            shutil.copy2(run.path / f, dest / f)
    cfg = yaml.safe_load((dest / "config.yaml").read_text())
    cfg["data"] = f"{spec['dataset']} (FACELAB_DATA)"  # not the temporary cache the benchmark trained from
    cfg["name"] = name
    (dest / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    nbytes = _fp16_weights(run.path / "model.safetensors", dest / "model.safetensors")
    from facelab.predict.export import export_onnx

    export_onnx(dest, dest / "model.onnx")  # what `predict`/`serve` run by default (ONNX Runtime)
    (dest / "card.md").write_text(card(name, spec, run, ev, nbytes))
    print(f"{name}: {dest} ({sum(p.stat().st_size for p in dest.iterdir()) / 1e6:.2f} MB), "
          f"val {run.metrics['val_accuracy']:.4f}, test {ev['overall']['accuracy']:.4f}")
    return dest


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--celeba-run", type=Path, help="a run of bench/train_celeba.py --target all")
    ap.add_argument("--fer-run", type=Path, help="a run of bench/train_fer.py")
    a = ap.parse_args(argv)
    if a.celeba_run:
        ship("celeba-attributes", a.celeba_run)
    if a.fer_run:
        ship("fer-emotions", a.fer_run)
    if not (a.celeba_run or a.fer_run):
        ap.error("give --celeba-run and/or --fer-run")


if __name__ == "__main__":
    main()
