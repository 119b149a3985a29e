"""`facelab verify`, `verify-eval`, `identify` and `gallery ...`: who is in a photo."""
from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add the identity commands to ``app``."""
