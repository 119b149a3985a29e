"""`facelab serve` (the REST API) and `facelab app` (the dashboard). Argument parsing only."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer


def register(app: typer.Typer) -> None:
    """Add `serve` and `app` to the main app."""

    @app.command()
    def serve(
        runs: Optional[list[str]] = typer.Argument(None, metavar="RUN...",
                                                   help="Run names to serve (default: every run in --runs-dir)."),
        runs_dir: Optional[Path] = typer.Option(None, help="The runs folder (default $FACELAB_RUNS or ./runs)."),
        host: str = typer.Option("127.0.0.1", help="Address to bind (0.0.0.0 to accept other machines)."),
        port: int = typer.Option(8000, help="Port to listen on."),
        workers: Optional[int] = typer.Option(None, help="Inference threads (default: the number of cores)."),
        torch_threads: int = typer.Option(1, help="torch threads per inference call."),
        max_upload_mb: float = typer.Option(10.0, help="Largest request body accepted (413 above)."),
        max_batch: int = typer.Option(16, help="Most images in one batch request."),
        detector: str = typer.Option("haar", help="Face detector."),
        backend: str = typer.Option("auto", help="torch, onnx, or auto (onnx when onnxruntime is installed)."),
        fast: bool = typer.Option(True, help="Fast photo path and micro-batching (docs/serving.md)."),
        batch_window_ms: float = typer.Option(3.0, help="How long a batch waits for concurrent requests."),
        batch_max_faces: int = typer.Option(32, help="Most face crops classified in one batch."),
        log_level: str = typer.Option("info", help="Log level of the JSON logs."),
    ) -> None:
        """Serve runs over HTTP: POST /v1/predict, /v1/predict/batch; GET /v1/models, /v1/health; docs at /docs."""
        from ..serve.cli import serve as run_server

        run_server(runs=runs or [], runs_dir=runs_dir, host=host, port=port, workers=workers,
                   torch_threads=torch_threads, max_upload_mb=max_upload_mb, max_batch=max_batch,
                   detector=detector, backend=backend, log_level=log_level, fast=fast,
                   batch_window_ms=batch_window_ms, batch_max_faces=batch_max_faces)

    @app.command("app")
    def app_cmd(
        runs: Optional[Path] = typer.Option(None, help="The runs folder (default $FACELAB_RUNS or ./runs)."),
        data: Optional[Path] = typer.Option(None, help="A data folder whose explore/cluster reports to show."),
        host: str = typer.Option("127.0.0.1", help="Address to bind."),
        port: int = typer.Option(8501, help="Port of the dashboard."),
        api: str = typer.Option("http://127.0.0.1:8000", help="URL of `facelab serve`, for the API page."),
    ) -> None:
        """Open the dashboard (Streamlit): overview, data, models, clusters, predict, API."""
        from ..app.launch import launch

        raise typer.Exit(launch(runs=runs, data=data, host=host, port=port, api=api))
