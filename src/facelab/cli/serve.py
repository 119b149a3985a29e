"""`facelab serve` (the REST API) and `facelab app` (the dashboard). Argument parsing only."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from .common import runs_dir_option


def runs_by_name(items: list[str], runs_dir: Optional[Path]) -> tuple[list[str], Optional[Path]]:
    """Run names and folders as the server takes them: names inside one runs folder. A folder
    (``facelab serve path/to/run``) serves from its parent; the server itself keeps refusing any
    name that leaves its runs folder (a client's name is never a path).

    Raises:
        ConfigError: the folders given live in different runs folders.
    """
    from ..errors import ConfigError
    from ..paths import runs_root
    from ..runs import resolve_run

    root = Path(runs_dir).expanduser() if runs_dir is not None else runs_root()
    names, parents = [], set()
    for item in items:
        if (_plain(item) and (root / item).is_dir()) or not Path(item).expanduser().is_dir():
            # a name (or something that is no folder): the server loads it, and refuses or
            # reports what it cannot, with the one rule it applies to its clients' names
            names.append(item)
            parents.add(root.resolve())
            continue
        folder = resolve_run(item, root)
        names.append(folder.name)
        parents.add(folder.expanduser().resolve().parent)
    if len(parents) > 1:
        raise ConfigError("the runs to serve live in different folders: " + ", ".join(sorted(map(str, parents))),
                          fix="serve runs of one runs folder at a time (or move them into one)")
    if parents and parents != {root.resolve()}:
        runs_dir = parents.pop()
    return names, runs_dir


def _plain(item: str) -> bool:
    from ..errors import ConfigError
    from ..runs import check_name

    try:
        check_name(item)
    except ConfigError:
        return False
    return True


def register(app: typer.Typer) -> None:
    """Add `serve` and `app` to the main app."""

    @app.command()
    def serve(
        runs: Optional[list[str]] = typer.Argument(None, metavar="RUN...",
                                                   help="Run names or run folders to serve (default: every "
                                                        "run in --runs-dir)."),
        runs_dir: Optional[Path] = runs_dir_option(),
        host: str = typer.Option("127.0.0.1", help="Address to bind (0.0.0.0 to accept other machines)."),
        port: int = typer.Option(8000, help="Port to listen on."),
        processes: Optional[int] = typer.Option(None, help="Photo worker processes: decode, detect, align "
                                                           "(default: the cores, at most 8; 0: in threads)."),
        workers: Optional[int] = typer.Option(None, help="Inference threads (default: the number of cores)."),
        torch_threads: int = typer.Option(1, help="torch threads per inference call."),
        max_upload_mb: float = typer.Option(10.0, help="Largest request body accepted (413 above)."),
        max_batch: int = typer.Option(16, help="Most images in one batch request."),
        detector: Optional[str] = typer.Option(None, help="Face detector (default: the run's own, else haar)."),
        backend: str = typer.Option("auto", help="torch, onnx, or auto (onnx when onnxruntime is installed)."),
        fast: bool = typer.Option(True, help="Fast photo path and micro-batching (docs/serving.md)."),
        batch_window_ms: float = typer.Option(3.0, help="How long a batch waits for concurrent requests."),
        batch_max_faces: int = typer.Option(32, help="Most face crops classified in one batch."),
        log_level: str = typer.Option("info", help="Log level of the JSON logs."),
        token: Optional[str] = typer.Option(None, envvar="FACELAB_SERVE_TOKEN",
                                            help="Bearer token that gallery writes (POST/DELETE /v1/galleries/...) "
                                                 "require; without one they are refused. Also $FACELAB_SERVE_TOKEN."),
        galleries_dir: Optional[Path] = typer.Option(None, help="Where /v1/galleries/NAME lives "
                                                                 "(default $FACELAB_HOME/galleries)."),
    ) -> None:
        """Serve runs over HTTP: POST /v1/predict, /v1/predict/batch; GET /v1/models, /v1/health; docs at /docs."""
        from ..serve.cli import serve as run_server

        names, runs_dir = runs_by_name(runs or [], runs_dir)
        run_server(runs=names, runs_dir=runs_dir, host=host, port=port, processes=processes, workers=workers,
                   torch_threads=torch_threads, max_upload_mb=max_upload_mb, max_batch=max_batch,
                   detector=detector, backend=backend, log_level=log_level, fast=fast,
                   batch_window_ms=batch_window_ms, batch_max_faces=batch_max_faces, token=token,
                   galleries_dir=galleries_dir)

    @app.command("app")
    def app_cmd(
        runs_dir: Optional[Path] = runs_dir_option(),
        runs_old: Optional[Path] = typer.Option(None, "--runs", hidden=True, help="Deprecated: --runs-dir."),
        data: Optional[Path] = typer.Option(None, help="A data folder whose explore/cluster reports to show."),
        host: str = typer.Option("127.0.0.1", help="Address to bind."),
        port: int = typer.Option(8501, help="Port of the dashboard."),
        api: str = typer.Option("http://127.0.0.1:8000", help="URL of `facelab serve`, for the API page."),
    ) -> None:
        """Open the dashboard (Streamlit): overview, data, models, clusters, predict, API."""
        from ..app.launch import launch

        raise typer.Exit(launch(runs=runs_dir or runs_old, data=data, host=host, port=port, api=api))
