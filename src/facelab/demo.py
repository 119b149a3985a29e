"""`facelab demo`: the whole tour on built-in synthetic data, in a few minutes on 2 cores.

synth → info → prepare → explore → compare two models → evaluate the best → predict a photo,
then print the commands that serve the runs as an API and as a dashboard. Every step calls the
public API, so the demo is also a worked example of it.
"""
from __future__ import annotations

import shlex
import time
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console


@dataclass
class DemoResult:
    root: Path
    source: Path
    cache: Path
    report: Path | None = None
    cluster_report: Path | None = None
    leaderboard: Path | None = None
    runs: list[str] = field(default_factory=list)
    best_run: str | None = None
    photo_result: dict | None = None
    seconds: float = 0.0


#: Defaults sized for "under a minute on an idle 2-core machine" (measured: README, "What the demo does").
#: The cnn stops after DEMO_EPOCHS (≈ 20 s on 2 idle cores) or DEMO_MINUTES, whichever comes
#: first: on a busy machine the minutes cap the demo's time, on an idle one the epochs do.
DEMO_N, DEMO_MINUTES, DEMO_EPOCHS = 1500, 0.5, 15


def run_demo(out: str | Path = "facelab-demo", *, n: int = DEMO_N, size: int = 48, minutes: float = DEMO_MINUTES,
             models: tuple[str, ...] = ("logreg", "cnn"), target: str = "Smiling", seed: int = 0,
             epochs: int | None = DEMO_EPOCHS,
             console: Console | None = None) -> DemoResult:
    """Run the tour; the data and reports go under ``out``, the cache under ``$FACELAB_HOME`` and
    the runs under ``$FACELAB_RUNS`` when they are set (else ``out/home`` and ``out/runs``, and the
    ``export`` lines that make later commands find them are printed at the end).

    Args:
        out: working folder of the demo.
        n: number of synthetic CelebA-style faces.
        size: side of the prepared images.
        minutes: training budget per model (a cap).
        epochs: epochs per torch model (None: the minutes alone).
        models: the models compared.
        target: the attribute they learn.

    Example: docs/python.md#the-demo.
    """
    import os

    from .data.cache import prepare
    from .data.readers import read_source
    from .data.synth import synthesize

    con = console or Console()
    t0 = time.perf_counter()
    from .outputs import claim_folder, folder_with_files

    # a demo folder without the outputs marker holds only its own sub-folders (data, home, runs...)
    root = claim_folder(Path(out).resolve(), what="demo folder", recognise=folder_with_files("data"))
    # A user who set FACELAB_HOME/FACELAB_RUNS gets the demo's cache and runs there, where the
    # next commands look; otherwise the demo keeps them in its own folder and says how to find them.
    exports = demo_environment(root)
    runs_dir = Path(os.environ["FACELAB_RUNS"]).expanduser().resolve()

    def step(title: str) -> None:
        if con.is_terminal:
            con.rule(f"[bold cyan]{title}")
        else:  # a log keeps a short heading, not a rule as wide as the (unwrapped) console
            con.print(f"== {title} ==", highlight=False)

    step("1. synthesise faces (CelebA layout)")
    t = time.perf_counter()
    source = synthesize(root / "data" / "celeba", kind="celeba", n=n, seed=seed)
    con.print(f"wrote {n} synthetic 178×218 faces with 40 attribute labels to [bold]{source}[/] "
              f"in {time.perf_counter() - t:.1f} s")

    step("2. read the source (facelab data info)")
    manifest = read_source(source)
    s = manifest.summary()
    con.print(f"layout [bold]{s['layout']}[/], {s['images']} images, splits {s['splits']}, "
              f"problems {s['problems'] or 'none'}")
    bal = manifest.table[list(manifest.attributes)].mean().sort_values(ascending=False)
    con.print("most frequent attributes: " + ", ".join(f"{k} {v:.0%}" for k, v in bal.head(6).items()))

    step(f"3. prepare the cache (decode once → {size}×{size} uint8 memmap)")
    ds = prepare(source, size=size, progress=True)  # prints what it prepared, where, how fast

    result = DemoResult(root=root, source=source, cache=ds.path)

    step("4. explore (HTML report)")
    try:
        from .explore.report import explore

        rep = explore(ds.path, out=root / "reports" / "explore", progress=False, tsne_sample=500, ks=range(2, 7))
        result.report = Path(rep.html_path)
        con.print(f"report: [bold]{result.report}[/]")
        from .cluster.report import cluster

        # a sample and a short k sweep: the report reads the same, in a third of the time
        crep = cluster(ds.path, features="hog", k=range(2, 7), label="Male", sample=min(n, 600),
                       tsne_sample=500, out=root / "reports" / "cluster-hog", progress=False, seed=seed)
        result.cluster_report = Path(crep.html_path)
        con.print(f"cluster report (HOG features, k = 2..6, compared with Male): [bold]{result.cluster_report}[/]")
    except ImportError as e:  # pragma: no cover - the explore part is optional in the tour
        con.print(f"[yellow]explore skipped: {e}")

    step(f"5. train and compare {', '.join(models)} on {target} "
         f"({f'{epochs} epochs or ' if epochs else ''}{minutes:g} min each)")
    from .experiments.compare import compare

    board = compare(ds.path, target=target, models=list(models), minutes=minutes, epochs=epochs, seed=seed)
    result.leaderboard = Path(getattr(board, "path", root))
    result.runs = [str(r) for r in getattr(board, "run_names", [])]
    result.best_run = getattr(board, "best_run", None) or (result.runs[0] if result.runs else None)

    if result.best_run:
        step(f"6. evaluate the best run ({result.best_run})")
        from .evaluate.report import evaluate

        report = evaluate(result.best_run, split="test")
        con.print(report.summary() if hasattr(report, "summary") else report)

        step("7. predict on a photo (detect → align → classify)")
        try:
            test = manifest.table[manifest.table["split"] == "test"]
            row = test[test[target] == 1].iloc[0] if (test[target] == 1).any() else test.iloc[0]
            photo = _demo_photo(Path(row["path"]), root / "photos", seed=seed)
            con.print(f"a held-out test face ({row['image_id']}, {target}={int(row[target])}) "
                      f"placed in a 640×480 photo, scaled 1.5× and turned 8°")
            from .predict.predictor import Predictor

            res = Predictor.from_run(result.best_run).predict(photo)
            result.photo_result = res.to_dict()
            for face in res.faces:
                con.print(f"{photo.name}: face {face.index} at {face.box.x:.0f},{face.box.y:.0f} "
                          f"{face.box.w:.0f}×{face.box.h:.0f} (detector score {face.box.score:.2f}): "
                          f"{face.verdict}", highlight=False)
            if not res.faces:
                con.print(f"{photo.name}: no face found ({res.note})")
        except ImportError as e:  # pragma: no cover
            con.print(f"[yellow]predict skipped: {e}")

    result.seconds = time.perf_counter() - t0
    step("done")
    con.print(f"finished in {result.seconds:.0f} s; data and reports under {root}, runs in {runs_dir}",
              highlight=False)
    if exports:
        con.print("Point the next commands at the demo's cache and runs:")
        for var, value in exports.items():
            con.print(f"  export {var}={shlex.quote(value)}", highlight=False, markup=False)
    if result.best_run:
        con.print("Then list the runs, evaluate the best one, serve it as a REST API, open the dashboard:")
        con.print("  facelab runs", highlight=False)
        con.print(f"  facelab evaluate {result.best_run}", highlight=False, markup=False)
        con.print(f"  facelab serve {result.best_run} --port 8000", highlight=False, markup=False)
        con.print(f"  facelab app --data {shlex.quote(str(root / 'reports'))} --port 8501", highlight=False,
                  markup=False)
    return result


def demo_environment(root: Path) -> dict[str, str]:
    """Set ``FACELAB_HOME``/``FACELAB_RUNS`` to ``root/home`` and ``root/runs`` where the user has
    not set them; returns the ones set (the demo prints them as ``export`` lines).
    """
    import os

    exports = {}
    for var, default in (("FACELAB_HOME", root / "home"), ("FACELAB_RUNS", root / "runs")):
        if not os.environ.get(var):
            os.environ[var] = str(default)
            exports[var] = str(default)
    return exports


def _demo_photo(face_path: Path, folder: Path, seed: int = 0) -> Path:
    """A 640×480 'photo' with one aligned face pasted in, slightly rotated, to try prediction."""
    import cv2
    import numpy as np
    from PIL import Image

    from .data.image import load_image

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    face = load_image(face_path)
    # A smooth background (a blurred colour field), the face scaled up and the photo turned 8°.
    bg = rng.integers(0, 256, (60, 80, 3)).astype(np.uint8)
    photo = cv2.resize(bg, (640, 480), interpolation=cv2.INTER_CUBIC)
    big = cv2.resize(face, None, fx=1.5, fy=1.5, interpolation=cv2.INTER_CUBIC)
    y0, x0 = (480 - big.shape[0]) // 2, (640 - big.shape[1]) // 2
    photo[y0:y0 + big.shape[0], x0:x0 + big.shape[1]] = big
    m = cv2.getRotationMatrix2D((320, 240), 8, 1.0)
    img = Image.fromarray(cv2.warpAffine(photo, m, (640, 480), borderMode=cv2.BORDER_REFLECT))
    path = folder / "demo_photo.jpg"
    img.save(path, quality=92)
    return path
