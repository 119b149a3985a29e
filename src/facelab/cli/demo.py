"""`facelab demo`."""
from __future__ import annotations

from pathlib import Path

import typer

from ..demo import DEMO_EPOCHS, DEMO_MINUTES, DEMO_N


def register(app: typer.Typer) -> None:
    @app.command()
    def demo(
        out: Path = typer.Option(Path("facelab-demo"), help="Working folder of the demo (data, reports; the cache "
                                                            "and runs too unless $FACELAB_HOME/$FACELAB_RUNS "
                                                            "are set)."),
        n: int = typer.Option(DEMO_N, help="Number of synthetic faces."),
        size: int = typer.Option(48, help="Side of the prepared images."),
        minutes: float = typer.Option(DEMO_MINUTES, help="Training budget per model, in minutes (a cap: the "
                                                         f"cnn stops after {DEMO_EPOCHS} epochs if sooner)."),
        target: str = typer.Option("Smiling", help="Attribute the models learn."),
        seed: int = typer.Option(0, help="Random seed."),
    ) -> None:
        """The whole tour on built-in synthetic data: synth → info → prepare → explore → compare → predict."""
        from ..demo import run_demo

        run_demo(out, n=n, size=size, minutes=minutes, target=target, seed=seed)
