"""`facelab demo`: the whole tour on built-in synthetic data, in a few minutes on 2 cores.

synth → info → prepare → explore → compare two models → evaluate the best → predict a photo,
then the commands that serve the runs as an API and as a dashboard. Every step calls the
public API, so the demo is also a worked example of it.
"""
from __future__ import annotations

import logging
import shlex
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from .paths import Paths

log = logging.getLogger(__name__)


@dataclass
class DemoResult:
    root: Path
    source: Path
    cache: Path
    paths: Paths | None = None
    exports: dict[str, str] = field(default_factory=dict)
    report: Path | None = None
    cluster_report: Path | None = None
    leaderboard: Path | None = None
    runs: list[str] = field(default_factory=list)
    best_run: str | None = None
    photo_result: dict | None = None
    seconds: float = 0.0
    manifest: object = field(default=None, repr=False)  # the source read at step 2


@dataclass(frozen=True)
class Step:
    """A heading of the tour (the CLI draws it as a rule on a terminal, ``== title ==`` in a log)."""

    title: str


#: Defaults sized for "under a minute on an idle 2-core machine" (measured: README, "What the demo does").
#: The cnn stops after DEMO_EPOCHS (≈ 20 s on 2 idle cores) or DEMO_MINUTES, whichever comes
#: first: on a busy machine the minutes cap the demo's time, on an idle one the epochs do.
DEMO_N, DEMO_MINUTES, DEMO_EPOCHS = 1500, 0.5, 15


def demo_paths(root: Path, environ=None) -> tuple[Paths, dict[str, str]]:
    """Where the demo keeps its cache and runs: ``$FACELAB_HOME`` / ``$FACELAB_RUNS`` when the user
    set them (where the next commands look), else ``root/home`` and ``root/runs``; and the
    ``export`` lines that make later commands find the folders the user did not set.

    Example:
        >>> p, exports = demo_paths(Path("/tmp/d"), {"FACELAB_RUNS": "/srv/runs"})
        >>> str(p.runs), exports
        ('/srv/runs', {'FACELAB_HOME': '/tmp/d/home'})
    """
    paths = Paths.from_env(environ, home=root / "home", runs=root / "runs")
    return paths, paths.unset_in(environ)


def run_demo(out: str | Path = "facelab-demo", *, n: int = DEMO_N, size: int = 48, minutes: float = DEMO_MINUTES,
             models: tuple[str, ...] = ("logreg", "cnn"), target: str = "Smiling", seed: int = 0,
             epochs: int | None = DEMO_EPOCHS, paths: Paths | None = None,
             say: Callable[[object], None] | None = None) -> DemoResult:
    """Run the tour; the data and reports go under ``out``, the cache and runs where ``paths``
    says (default :func:`demo_paths`: ``$FACELAB_HOME``/``$FACELAB_RUNS`` when set, else
    ``out/home`` and ``out/runs``, with the ``export`` lines in ``result.exports``).

    Args:
        out: working folder of the demo.
        n: number of synthetic CelebA-style faces.
        size: side of the prepared images.
        minutes: training budget per model (a cap).
        epochs: epochs per torch model (None: the minutes alone).
        models: the models compared.
        target: the attribute they learn.
        paths: the home (cache) and runs folders.
        say: receives what the tour shows as it goes: a :class:`Step`, a line of text, or a
            leaderboard (default: the lines are logged). :func:`closing_lines` says what to do next.

    Example: docs/python.md#the-demo.
    """
    from .outputs import claim_folder, folder_with_files

    say = say or _log_line
    t0 = time.perf_counter()
    # a demo folder without the outputs marker holds only its own sub-folders (data, home, runs...)
    root = claim_folder(Path(out).resolve(), what="demo folder", recognise=folder_with_files("data"))
    exports: dict[str, str] = {}
    if paths is None:
        paths, exports = demo_paths(root)
    result = _prepare_steps(root, paths, n=n, size=size, seed=seed, say=say)
    result.exports = exports
    _explore_steps(result, n=n, seed=seed, say=say)
    _model_steps(result, models=models, target=target, minutes=minutes, epochs=epochs, seed=seed, say=say)
    result.seconds = time.perf_counter() - t0
    say(Step("done"))
    return result


def _log_line(item: object) -> None:
    log.info("== %s ==" if isinstance(item, Step) else "%s", getattr(item, "title", item))


def _prepare_steps(root: Path, paths: Paths, *, n: int, size: int, seed: int, say) -> DemoResult:
    from .data.readers import read_source
    from .data.synth import synthesize
    from .faces.prepare_align import prepare

    say(Step("1. synthesise faces (CelebA layout)"))
    t = time.perf_counter()
    source = synthesize(root / "data" / "celeba", kind="celeba", n=n, seed=seed)
    say(f"wrote {n} synthetic 178×218 faces with 40 attribute labels to {source} "
        f"in {time.perf_counter() - t:.1f} s")

    say(Step("2. read the source (facelab data info)"))
    manifest = read_source(source)
    s = manifest.summary()
    say(f"layout {s['layout']}, {s['images']} images, splits {s['splits']}, problems {s['problems'] or 'none'}")
    bal = manifest.table[list(manifest.attributes)].mean().sort_values(ascending=False)
    say("most frequent attributes: " + ", ".join(f"{k} {v:.0%}" for k, v in bal.head(6).items()))

    say(Step(f"3. prepare the cache (decode once → {size}×{size} uint8 memmap)"))
    ds = prepare(source, size=size, progress=True, home=paths.home)  # logs what it prepared, where, how fast
    return DemoResult(root=root, source=source, cache=ds.path, paths=paths, manifest=manifest)


def _explore_steps(result: DemoResult, *, n: int, seed: int, say) -> None:
    say(Step("4. explore (HTML report)"))
    root = result.root
    try:
        from .explore.report import explore

        rep = explore(result.cache, out=root / "reports" / "explore", progress=False, tsne_sample=500,
                      ks=range(2, 7))
        result.report = Path(rep.html_path)
        say(f"report: {result.report}")
        from .cluster.report import cluster

        # a sample and a short k sweep: the report reads the same, in a third of the time
        crep = cluster(result.cache, features="hog", k=range(2, 7), label="Male", sample=min(n, 600),
                       tsne_sample=500, out=root / "reports" / "cluster-hog", progress=False, seed=seed)
        result.cluster_report = Path(crep.html_path)
        say(f"cluster report (HOG features, k = 2..6, compared with Male): {result.cluster_report}")
    except ImportError as e:  # pragma: no cover - the explore part is optional in the tour
        say(f"explore skipped: {e}")


def _model_steps(result: DemoResult, *, models, target: str, minutes: float, epochs, seed: int, say) -> None:
    from .experiments.compare import compare

    runs_dir = result.paths.runs
    say(Step(f"5. train and compare {', '.join(models)} on {target} "
             f"({f'{epochs} epochs or ' if epochs else ''}{minutes:g} min each)"))
    board = compare(result.cache, target=target, models=list(models), minutes=minutes, epochs=epochs, seed=seed,
                    runs_dir=runs_dir)
    say(board)
    result.leaderboard = Path(getattr(board, "path", result.root))
    result.runs = [str(r) for r in getattr(board, "run_names", [])]
    result.best_run = getattr(board, "best_run", None) or (result.runs[0] if result.runs else None)
    if not result.best_run:
        return
    say(Step(f"6. evaluate the best run ({result.best_run})"))
    from .evaluate.report import evaluate

    report = evaluate(result.best_run, split="test", runs_dir=runs_dir)
    say(report.summary())

    say(Step("7. predict on a photo (detect → align → classify)"))
    try:
        test = result.manifest.table[result.manifest.table["split"] == "test"]
        row = test[test[target] == 1].iloc[0] if (test[target] == 1).any() else test.iloc[0]
        photo = _demo_photo(Path(row["path"]), result.root / "photos", seed=seed)
        say(f"a held-out test face ({row['image_id']}, {target}={int(row[target])}) "
            f"placed in a 640×480 photo, scaled 1.5× and turned 8°")
        from .predict.predictor import Predictor

        res = Predictor.from_run(result.best_run, runs_dir=runs_dir).predict(photo)
        result.photo_result = res.to_dict()
        for face in res.faces:
            say(f"{photo.name}: face {face.index} at {face.box.x:.0f},{face.box.y:.0f} "
                f"{face.box.w:.0f}×{face.box.h:.0f} (detector score {face.box.score:.2f}): {face.verdict}")
        if not res.faces:
            say(f"{photo.name}: no face found ({res.note})")
    except ImportError as e:  # pragma: no cover
        say(f"predict skipped: {e}")


def closing_lines(result: DemoResult) -> list[str]:
    """What the tour ends with: where things are, the ``export`` lines, and the next commands.

    Example:
        >>> r = DemoResult(root=Path("/d"), source=Path("/d/data"), cache=Path("/c"),
        ...                paths=Paths(home=Path("/d/home"), runs=Path("/d/runs")),
        ...                exports={"FACELAB_RUNS": "/d/runs"}, seconds=42.0)
        >>> for line in closing_lines(r)[:3]: print(line)
        finished in 42 s; data and reports under /d, runs in /d/runs
        Point the next commands at the demo's cache and runs:
          export FACELAB_RUNS=/d/runs
    """
    runs = result.paths.runs.expanduser().resolve() if result.paths else ""
    lines = [f"finished in {result.seconds:.0f} s; data and reports under {result.root}, runs in {runs}"]
    if result.exports:
        lines.append("Point the next commands at the demo's cache and runs:")
        lines += [f"  export {var}={shlex.quote(value)}" for var, value in result.exports.items()]
    if result.best_run:
        lines += ["Then list the runs, evaluate the best one, serve it as a REST API, open the dashboard:",
                  "  facelab runs",
                  f"  facelab evaluate {result.best_run}",
                  f"  facelab serve {result.best_run} --port 8000",
                  f"  facelab app --data {shlex.quote(str(result.root / 'reports'))} --port 8501"]
    return lines


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
