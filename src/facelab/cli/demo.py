"""`facelab demo`."""
from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    @app.command()
    def demo(
        out: Path = typer.Option(Path("facelab-demo"), help="Working folder of the demo."),
        n: int = typer.Option(2000, help="Number of synthetic faces."),
        size: int = typer.Option(48, help="Side of the prepared images."),
        minutes: float = typer.Option(1.0, help="Training budget per model, in minutes."),
        target: str = typer.Option("Smiling", help="Attribute the models learn."),
        seed: int = typer.Option(0, help="Random seed."),
    ) -> None:
        """The whole tour on built-in synthetic data: synth → info → prepare → explore → compare → predict."""
        from ..demo import run_demo

        run_demo(out, n=n, size=size, minutes=minutes, target=target, seed=seed)
