"""What `facelab serve` does: settings → app → uvicorn (the CLI module only parses arguments)."""
from __future__ import annotations

from pathlib import Path

from ..errors import ConfigError


def serve(*, runs: list[str], runs_dir: Path | None = None, host: str = "127.0.0.1", port: int = 8000,
          processes: int | None = None, workers: int | None = None, log_level: str = "info",
          **options) -> None:
    """Load the runs and serve them until interrupted.

    Args:
        runs: run names (empty: every run in ``runs_dir``).
        runs_dir: the runs folder.
        host, port: where to listen.
        processes: photo worker processes (default: the cores, at most 8; 0: the photo path in threads).
        workers: inference threads (default: the cores).
        log_level: JSON log level.
        **options: other :class:`ServeSettings` fields (``max_upload_mb``, ``torch_threads``, ...).

    Example: docs/python.md#serve-and-the-dashboard.
    """
    import uvicorn
    from pydantic import ValidationError

    from .app import create_app
    from .settings import ServeSettings

    fields = {"runs": runs, "log_level": log_level.upper(), **options}
    if runs_dir is not None:
        fields["runs_dir"] = runs_dir
    if workers is not None:
        fields["workers"] = workers
    if processes is not None:
        fields["processes"] = processes
    try:
        settings = ServeSettings(**fields)
    except ValidationError as e:
        err = e.errors()[0]
        raise ConfigError(f"invalid option --{str(err['loc'][0]).replace('_', '-')}: {err['msg']}",
                          fix="see `facelab serve --help`") from None
    from .logging import setup_logging

    app = create_app(settings)
    # uvicorn's own lines (start-up, shutdown) go out as JSON too; our middleware logs every
    # request with its id, so uvicorn's access log is off.
    setup_logging(settings.log_level, names=("facelab", "uvicorn"))
    uvicorn.run(app, host=host, port=port, log_level=log_level.lower(), access_log=False, log_config=None)
