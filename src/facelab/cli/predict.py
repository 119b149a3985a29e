"""``facelab predict`` and ``facelab export`` (argument parsing only)."""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from ..errors import ConfigError
from .common import runs_dir_option


def _summary_table(report, classes: list[str], limit: int = 40):
    from rich.table import Table

    t = Table(title=f"{report.photos} photos, {report.faces} faces ({report.classified} classified)")
    for col in ("file", "face", "status", "verdict", "top probabilities"):
        t.add_column(col, overflow="fold")
    n = 0
    for r in report.results:
        if r.error or not r.faces:
            t.add_row(r.source, "-", "error" if r.error else "no face", "", r.error or r.note or "")
            n += 1
        for f in r.faces:
            top = sorted(f.probabilities.items(), key=lambda kv: -kv[1])[:3]
            t.add_row(r.source, str(f.index), "ok" if f.classified else "too small", f.verdict or ", ".join(f.labels),
                      "  ".join(f"{k} {v:.2f}" for k, v in top) if top else (f.note or ""))
            n += 1
        if n >= limit:
            t.caption = f"first {limit} rows; write them all with --out faces.csv"
            break
    return t


def _print_report(c, rep, pred, run: str, out, json_: bool) -> None:
    """What `facelab predict` prints: the per-face table (or JSON), the counts, the unreadable files."""
    if json_:
        import json

        print(json.dumps({"run": pred.name if pred is not None else str(run),
                          "classes": pred.classes if pred is not None else None,
                          "photos": [r.to_dict() for r in getattr(rep, "results", [])],
                          "summary": {"photos": rep.photos, "faces": rep.faces, "classified": rep.classified,
                                      "no_face": rep.no_face, "unreadable": len(rep.failed),
                                      "seconds": round(rep.seconds, 3), "out": str(rep.out) if rep.out else None}},
                         indent=1))
    elif out is None and pred is not None:
        c.print(_summary_table(rep, pred.classes))
    c.print(f"[bold]{rep.photos}[/] photos, [bold]{rep.faces}[/] faces, {rep.classified} classified, "
            f"{rep.no_face} without a face, {len(rep.failed)} unreadable"
            + (f", {rep.skipped_files} non-image files skipped in folders" if rep.skipped_files else "")
            + f" ({rep.seconds:.1f} s)", highlight=False)
    if rep.out:
        c.print(f"results: {rep.out}", highlight=False)
    if rep.failed:
        c.print(f"[yellow]{len(rep.failed)} file(s) could not be read:[/]")
        for f, e in rep.failed:  # the reason names the file already, as every read error does
            c.print(f"  {e}" if e.startswith(str(f)) else f"  {f}: {e}", highlight=False, markup=False)


def register(app: typer.Typer) -> None:
    """Add ``predict`` and ``export`` to the main app."""
    _register_predict(app)
    _register_export(app)


def _register_predict(app: typer.Typer) -> None:
    @app.command("predict")
    def predict_cmd(
        run: str = typer.Argument(..., metavar="[RUN] PHOTOS...",
                                  help="Run name or folder (see `facelab runs`); without one, the models shipped "
                                       "with facelab (40 CelebA attributes + 7 FER2013 emotions) are used."),
        photos: Optional[List[str]] = typer.Argument(None, help="Photos, folders (recursive) or globs ('shots/*.jpg')."),
        out: Optional[Path] = typer.Option(None, help="Results file: .csv, .json or .parquet (one row per face)."),
        format: Optional[str] = typer.Option(None, help="csv, json or parquet (default: from --out's extension)."),
        aligned: bool = typer.Option(False, help="Photos are already framed like the dataset: skip detection."),
        save_crops: Optional[Path] = typer.Option(None, help="Folder for the aligned crops the model saw."),
        annotate: Optional[Path] = typer.Option(None, help="Folder for copies with boxes and labels (video: an MP4)."),
        backend: str = typer.Option("auto", help="auto (ONNX Runtime when the run has an export: the shipped "
                                                 "models do, `facelab export RUN` makes one; else torch), torch "
                                                 "or onnx."),
        workers: Optional[int] = typer.Option(None, help="Decoding/detection threads (default: up to 4)."),
        batch_size: int = typer.Option(64, help="Faces per classification batch."),
        min_face: int = typer.Option(24, help="Faces smaller than this (pixels) are reported, not classified."),
        max_side: Optional[int] = typer.Option(None, help="Detect on a copy downscaled to this longest side "
                                                          "(haar: 320 by default; mtcnn: none)."),
        progress: bool = typer.Option(True, help="Show the progress bar."),
        engine: str = typer.Option("local", help="local, or spark (writes --out results.parquet; "
                                                 "needs the spark extra)."),
        master: Optional[str] = typer.Option(None, help="Spark master with --engine spark "
                                                        "(default local[2]; spark://host:7077, yarn)."),
        explain: Optional[str] = typer.Option(
            None, help="Saliency maps of these outputs: a name (Smiling), names (Smiling,Male), all, or top "
                       "(each face's most probable output). A 16x16 map per face goes into --json / --out "
                       "x.json; with --annotate, photo.face0.explain-Smiling.png beside each copy. Needs "
                       "torch (chosen by --backend auto)."),
        json_: bool = typer.Option(False, "--json", help="Print every photo's faces as JSON on stdout (the "
                                                         "summary goes to stderr)."),
        every: int = typer.Option(1, help="Video: analyse one frame in N."),
        fps: Optional[float] = typer.Option(None, help="Video: analyse at most this many frames per second."),
        smooth: float = typer.Option(1.0, help="Video: seconds each face track's probabilities are averaged; 0: off."),
        hold: float = typer.Option(0.15, help="Video: a track's label changes only once its probability crosses "
                                             "the threshold by this margin; 0: off."),
        timeline: Optional[Path] = typer.Option(None, help="Video: folder for one timeline PNG per face track."),
        live: Optional[str] = typer.Option(None, help="A live stream: http(s)/rtsp URL or camera index (Ctrl-C)."),
        seconds: Optional[float] = typer.Option(None, help="Video/stream: stop after this many seconds."),
        timeout: float = typer.Option(10.0, help="Stream: seconds to wait for the first and each next frame."),
        runs_dir: Optional[Path] = runs_dir_option(),
    ) -> None:
        """Find every face in photos and classify it with a trained run (or, with no run, with the
        models shipped with facelab)."""
        from rich.console import Console

        from ..model import Model
        from ..predict.batch import predict_files
        from .video import run_video, video_source

        detector_params = {"max_side": max_side} if max_side else {}
        if explain and backend == "auto":
            backend = "torch"  # saliency needs gradients
        if engine != "local":  # scale-out: the run goes to Spark's executors, not a Predictor
            from ..scale.predict import predict_spark
            from ..scale.spark import check_engine

            check_engine(engine)
            if detector_params:
                raise ConfigError("--max-side is not passed to Spark yet", fix="drop --max-side with --engine spark")
            if explain:
                raise ConfigError("--engine spark does not explain", fix="drop --explain, or use --engine local")
            if save_crops or annotate:
                raise ConfigError("--engine spark writes no crops or annotated copies",
                                  fix="drop --save-crops/--annotate, or use --engine local")
            if not photos:
                raise typer.BadParameter("give the photos to classify after the run", param_hint="PHOTOS")
            rep = predict_spark(run, photos, out=out, aligned=aligned, backend=backend, min_face=min_face,
                                batch_size=batch_size, master=master, progress=progress, runs_dir=runs_dir)
            pred = None
        else:
            model, photos = Model.from_arguments(run, photos or [], runs_dir=runs_dir)  # no run: the shipped models
            if not photos and live is None:
                raise typer.BadParameter("give the photos to classify after the run", param_hint="PHOTOS")
            pred = model.predictor(backend=backend, min_face=min_face, **detector_params)
            if model.shipped:
                Console(stderr=True).print(f"no run given: using the models shipped with facelab ({pred.name}; "
                                           "`facelab runs` lists them)", highlight=False)
            source = video_source(photos, live, photo_options=bool(save_crops or aligned or format))
            if source is not None:
                run_video(pred, source, live=live is not None, out=out, annotate=annotate, timeline=timeline,
                          every=every, fps=fps, smooth=smooth, hold=hold, seconds=seconds, timeout=timeout,
                          progress=progress, json_=json_)
                return
            rep = predict_files(pred, photos, out=out, format=format, aligned=aligned, save_crops=save_crops,
                                annotate=annotate, workers=workers, batch_size=batch_size, progress=progress,
                                explain=explain)
        _print_report(Console(stderr=json_), rep, pred, run, out, json_)  # --json: stdout holds the JSON alone
        if explain and annotate is None and not json_:
            Console(stderr=True).print("saliency maps are in the JSON results (--json, --out x.json); add "
                                       "--annotate DIR for the heat-map pictures", highlight=False)
        if rep.photos and len(rep.failed) == rep.photos:
            import sys

            sys.exit(1)  # nothing could be read (typer.Exit is swallowed in non-standalone mode)



def _register_export(app: typer.Typer) -> None:
    @app.command("export")
    def export_cmd(
        run: str = typer.Argument(..., help="Run name or folder."),
        format: str = typer.Option("onnx", help="Export format (onnx)."),
        out: Optional[Path] = typer.Option(None, help="Output file (default <run>/model.onnx; a shipped model's goes under $FACELAB_HOME/onnx/)."),
        opset: int = typer.Option(17, help="ONNX opset version."),
        check: bool = typer.Option(True, help="Check ONNX Runtime against PyTorch (to --atol)."),
        atol: float = typer.Option(1e-4, help="Largest allowed difference of probabilities."),
        runs_dir: Optional[Path] = runs_dir_option(),
    ) -> None:
        """Export a run's network (with its preprocessing) to ONNX, checked against PyTorch."""
        from rich.console import Console

        from ..errors import ConfigError
        from ..predict.export import export_onnx

        if format.lower() != "onnx":
            raise ConfigError(f"unknown export format {format!r}", fix="use --format onnx")
        res = export_onnx(run, out, opset=opset, check=check, atol=atol, runs_dir=runs_dir)
        msg = f"wrote {res.path} ({res.size_bytes / 1e6:.2f} MB, opset {res.opset})"
        if check:
            msg += f"; ONNX Runtime vs PyTorch max |diff| {res.max_abs_diff:.2e} on {res.checked_on} faces"
        Console().print(msg, highlight=False)
