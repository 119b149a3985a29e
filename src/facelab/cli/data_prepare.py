"""CLI command (owner: see docs/CONTRACTS.md)."""
from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add this command to the `facelab data` group."""
