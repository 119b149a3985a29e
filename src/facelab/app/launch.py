"""Start the dashboard: ``streamlit run <installed app/main.py> -- --runs DIR --data DIR``."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from ..errors import ConfigError, RunError

MAIN = Path(__file__).with_name("main.py")


def streamlit_command(*, runs: Path | None = None, data: Path | None = None, host: str = "127.0.0.1",
                      port: int = 8501, api: str | None = None) -> list[str]:
    """The command line that serves the dashboard (headless: no browser is opened, no telemetry,
    no Deploy/developer toolbar).

    Example:
        >>> streamlit_command(runs=Path("runs"), port=8600)[1:4]
        ['-m', 'streamlit', 'run']
    """
    cmd = [sys.executable, "-m", "streamlit", "run", str(MAIN),
           "--server.headless", "true", "--server.address", host, "--server.port", str(port),
           "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none",
           "--global.developmentMode", "false",
           # a viewer's dashboard: no Deploy button or developer menu (Streamlit's "minimal" toolbar)
           "--client.toolbarMode", "minimal", "--"]
    if runs is not None:
        cmd += ["--runs", str(Path(runs).expanduser().resolve())]
    if data is not None:
        cmd += ["--data", str(Path(data).expanduser().resolve())]
    if api:
        cmd += ["--api", api]
    return cmd


def launch(*, runs: Path | None = None, data: Path | None = None, host: str = "127.0.0.1", port: int = 8501,
           api: str | None = None) -> int:
    """Serve the dashboard until interrupted; returns Streamlit's exit code.

    Raises:
        RunError: ``runs`` is given but is not a folder.
        ConfigError: ``data`` is given but is not a folder.

    Example: docs/python.md#serve-and-the-dashboard.
    """
    if runs is not None and not Path(runs).expanduser().is_dir():
        raise RunError(f"the runs folder {runs} does not exist", path=runs,
                       fix="pass --runs-dir with the folder `facelab train` wrote to (default ./runs)")
    if data is not None and not Path(data).expanduser().is_dir():
        raise ConfigError(f"the data folder {data} does not exist", path=data,
                          fix="pass --data with the folder that holds the explore/cluster reports")
    print(f"facelab dashboard: http://{host}:{port}  (Ctrl-C to stop)", flush=True)
    try:
        return subprocess.call(streamlit_command(runs=runs, data=data, host=host, port=port, api=api))
    except KeyboardInterrupt:
        return 0
