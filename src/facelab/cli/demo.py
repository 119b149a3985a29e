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
        from rich.console import Console

        from ..demo import closing_lines, run_demo

        con = Console()
        result = run_demo(out, n=n, size=size, minutes=minutes, target=target, seed=seed,
                          say=lambda item: show(con, item))
        for line in closing_lines(result):
            con.print(line, highlight=False, markup=False)


def show(con, item) -> None:
    """One thing the tour shows: a step heading, a leaderboard, or a line."""
    from ..demo import Step
    from ..evaluate.leaderboard import Leaderboard
    from .common import print_board

    if isinstance(item, Step):
        if con.is_terminal:
            con.rule(f"[bold cyan]{item.title}")
        else:  # a log keeps a short heading, not a rule as wide as the (unwrapped) console
            con.print(f"== {item.title} ==", highlight=False, markup=False)
    elif isinstance(item, Leaderboard):
        print_board(item, con)
    else:
        con.print(str(item), highlight=False, markup=False)
