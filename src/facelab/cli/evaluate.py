"""``facelab evaluate``, ``facelab compare`` and ``facelab search`` (argument parsing only)."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from .common import print_board, runs_dir_option


def register(app: typer.Typer) -> None:
    """Add this group's commands to the main app."""

    @app.command("evaluate")
    def evaluate_cmd(
        run: str = typer.Argument(..., help="Run name (under $FACELAB_RUNS) or run folder."),
        data: Optional[Path] = typer.Option(None, help="Evaluate on another prepared cache or a dataset folder "
                                                       "(prepared with the run's geometry; default: the run's "
                                                       "cache)."),
        split: str = typer.Option("test", help="train, val or test (an empty test split falls back to val)."),
        groups: Optional[str] = typer.Option(
            None, help="Attribute columns for the subgroup table, e.g. Pale_Skin,Eyeglasses "
                       "(default: Male,Young when present)."),
        out: Optional[Path] = typer.Option(None, help="Output folder (default runs/<run>/eval/<split>; a shipped "
                                                      "model's under $FACELAB_HOME/eval/)."),
        top_k: int = typer.Option(16, help="Images in the top-losses grid."),
        saliency: bool = typer.Option(False, help="Also average saliency maps over the test faces per output and "
                                                  "subgroup, beside their mean faces (saliency.html)."),
        saliency_faces: Optional[int] = typer.Option(None, help="Faces averaged by --saliency (default 256)."),
        json_: bool = typer.Option(False, "--json", help="Print metrics.json instead of the summary."),
        runs_dir: Optional[Path] = runs_dir_option(),
    ) -> None:
        """Metrics, calibration, confusion, top losses and subgroups of a run (PNG, CSV, Markdown)."""
        import json

        from ..evaluate.report import evaluate

        rep = evaluate(run, data=data, split=split, groups=groups, out=out, top_k=top_k, runs_dir=runs_dir,
                       saliency=saliency, saliency_faces=saliency_faces)
        print(json.dumps(rep.to_dict(), indent=2) if json_ else rep.summary())

    @app.command("compare")
    def compare_cmd(
        data: Path = typer.Argument(..., help="Prepared cache (or source folder with a cache)."),
        target: Optional[str] = typer.Option(None, help="Attribute, 'all', or class column (default: the "
                                                        "dataset's class column)."),
        models: str = typer.Option("logreg,cnn", help="Comma-separated model names, or a YAML list file."),
        epochs: Optional[int] = typer.Option(None, help="Epochs for every model."),
        minutes: Optional[float] = typer.Option(None, help="Minutes for every model."),
        seed: int = typer.Option(0, help="Seed shared by every run."),
        metric: str = typer.Option("accuracy", help="Ranking column: accuracy, balanced_accuracy, f1, roc_auc."),
        threads: Optional[int] = typer.Option(None, help="torch threads for training and timing."),
        batch_size: Optional[int] = typer.Option(None, help="Batch size of every torch model."),
        out: Optional[Path] = typer.Option(None, help="Leaderboard folder (default runs/_leaderboards/...)."),
        runs_dir: Optional[Path] = runs_dir_option(),
    ) -> None:
        """Train several models with the same split, seed and budget; print and write a leaderboard."""
        from ..experiments.compare import compare

        opts = {"batch_size": batch_size} if batch_size else {}
        board = compare(data, target=target, models=models, epochs=epochs, minutes=minutes, seed=seed,
                        metric=metric, threads=threads, out=out, runs_dir=runs_dir, **opts)
        print_board(board)

    @app.command("search")
    def search_cmd(
        data: Path = typer.Argument(..., help="Prepared cache (or source folder with a cache)."),
        target: Optional[str] = typer.Option(None, help="Attribute, 'all', or class column."),
        model: str = typer.Option("cnn", help="Model to tune (see `facelab models`)."),
        trials: Optional[int] = typer.Option(None, help="Stop after this many trials."),
        minutes: Optional[float] = typer.Option(None, help="Stop starting trials after this many minutes."),
        epochs: int = typer.Option(2, help="Training epochs of each trial."),
        seed: int = typer.Option(0, help="Seeds the TPE sampler and every run."),
        study: Optional[str] = typer.Option(None, help="Study name (runs are search-<study>-<n>)."),
        metric: str = typer.Option("accuracy", help="Validation metric to maximise."),
        sizes: Optional[str] = typer.Option(None, help="Candidate resolutions, e.g. 32,48,64 (≤ the cache's size)."),
        prune: bool = typer.Option(True, help="Median-prune trials on per-epoch validation accuracy."),
        threads: Optional[int] = typer.Option(None, help="torch threads."),
        out: Optional[Path] = typer.Option(None, help="Leaderboard folder."),
        join: Optional[Path] = typer.Option(None, help="A `facelab compare` leaderboard folder the trials join."),
        runs_dir: Optional[Path] = runs_dir_option(),
    ) -> None:
        """Optuna search over lr, width, resolution and augmentation; trials form a leaderboard."""
        from ..experiments.search import search

        board = search(data, target=target, model=model, trials=trials, minutes=minutes, epochs=epochs,
                       seed=seed, study=study, metric=metric, sizes=sizes, prune=prune, threads=threads, out=out,
                       join=join, runs_dir=runs_dir)
        print_board(board)
