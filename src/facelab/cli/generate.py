"""``facelab generate train|sample|interpolate`` (argument parsing only; see facelab.generate)."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from .common import runs_dir_option


def _print_gan(c, run) -> None:
    """What `facelab generate train` prints when it stops: status, figures, the run folder."""
    colour = {"finished": "green", "interrupted": "yellow"}.get(run.status, "red")
    c.print(f"[bold {colour}]{run.status}[/] {run.name}: {run.epochs} epochs, {run.size} px "
            f"{'grey' if run.channels == 1 else 'RGB'}" + (f", conditioned on {', '.join(run.condition)}"
                                                             if run.condition else ""))
    for k in ("loss_d", "loss_g", "d_x", "d_gz", "frechet", "face_rate", "real_face_rate", "images_per_s"):
        if run.metrics.get(k) is not None:
            c.print(f"  {k:15s} {run.metrics[k]:.4f}")
    c.print(f"  run folder      {run.path}  (progress.png, samples/, plots/curves.png)")


def register(app: typer.Typer) -> None:
    gen = typer.Typer(help="Generate faces: train a DCGAN on a prepared cache, sample it, walk its latent space.",
                      no_args_is_help=True)
    app.add_typer(gen, name="generate")

    @gen.command("train")
    def train_cmd(
        data: Optional[Path] = typer.Argument(None, help="Prepared cache (or its source folder); "
                                                          "not needed with --resume."),
        size: Optional[int] = typer.Option(None, help="64 or 32 px (default: the cache's, at most 64)."),
        minutes: Optional[float] = typer.Option(None, help="Stop after this many minutes of training."),
        epochs: Optional[int] = typer.Option(None, help="Stop after this many epochs (default 5 without --minutes)."),
        name: Optional[str] = typer.Option(None, help="Run name (default dcgan<size>-<time>)."),
        condition: Optional[str] = typer.Option(None, help="Attributes to ask for, e.g. Smiling,Male: fed to G, "
                                                           "and learnt by D's auxiliary classifier (AC-GAN)."),
        seed: int = typer.Option(0, help="Seed for init, noise and shuffling."),
        resume: Optional[str] = typer.Option(None, help="Continue the named run (same cache geometry)."),
        feature_run: Optional[str] = typer.Option(None, help="A classifier run whose features score the "
                                                             "Fréchet distance (and attribute agreement)."),
        batch_size: Optional[int] = typer.Option(None, help="Images per step (default 64)."),
        lr: Optional[float] = typer.Option(None, help="Adam learning rate of G and D (default 2e-4)."),
        ngf: Optional[int] = typer.Option(None, help="Generator width (default 32; the tutorial's 64 is 4x slower)."),
        ndf: Optional[int] = typer.Option(None, help="Discriminator width (default 32)."),
        epoch_images: Optional[int] = typer.Option(None, help="Images per epoch (default: the training split, "
                                                              "at most 20,000)."),
        quality_samples: Optional[int] = typer.Option(None, help="Samples scored after each epoch (default 1000)."),
        quality_every: Optional[int] = typer.Option(None, help="Score every k epochs (0: never; default 1)."),
        ac_weight: Optional[float] = typer.Option(None, help="With --condition: weight of D's auxiliary "
                                                             "classifier loss (default 1; 0: the labels as D's "
                                                             "input planes instead, the plain conditional GAN)."),
        threads: Optional[int] = typer.Option(None, help="torch threads (default: the free cores)."),
        progress: bool = typer.Option(True, help="Show the progress bar."),
        runs_dir: Optional[Path] = runs_dir_option(),
    ) -> None:
        """Train a DCGAN; the run (checkpoints, samples per epoch, progress strip, curves) goes to runs/<name>/."""
        from rich.console import Console

        from ..errors import ConfigError
        from ..generate.train import train_gan

        opts = {k: v for k, v in dict(batch_size=batch_size, lr=lr, ngf=ngf, ndf=ndf, epoch_images=epoch_images,
                                      quality_samples=quality_samples, quality_every=quality_every,
                                      ac_weight=ac_weight).items()
                if v is not None}
        if data is None and not resume:
            raise ConfigError("give the prepared cache to train on", fix="facelab generate train CACHE (or --resume NAME)")
        if resume and opts:
            raise ConfigError(f"--resume continues with the run's own options; drop {', '.join(opts)}",
                              fix="resume with only --minutes/--epochs, or start a new run")
        src = data
        if resume and data is None:
            from ..generate.run import GeneratorRun
            from ..runs import resolve_run

            src = Path(GeneratorRun.load(resolve_run(resume, runs_dir)).config["data"])
        run = train_gan(str(src), size=size, minutes=minutes, epochs=epochs, name=name, condition=condition,
                        seed=seed, resume=resume or False, feature_run=feature_run, threads=threads,
                        progress=progress, runs_dir=runs_dir, **opts)
        c = Console()
        status = run.status
        _print_gan(c, run)
        if status == "interrupted":
            raise SystemExit(130)
        if status == "nan":
            c.print("[red]the loss became NaN: the last good checkpoint is kept; lower --lr and resume[/]")
            raise SystemExit(1)

    @gen.command("sample")
    def sample_cmd(
        run: str = typer.Argument(..., help="A generator run (name or folder)."),
        n: int = typer.Option(64, "-n", "--n", help="How many faces."),
        seed: int = typer.Option(0, help="Seed of the noise (the same seed gives the same faces)."),
        out: Path = typer.Option(Path("samples.png"), help="grid.png for one grid, or a folder for one PNG each."),
        condition: Optional[str] = typer.Option(None, help="For a conditional run: Smiling=1,Male=0."),
        runs_dir: Optional[Path] = runs_dir_option(),
    ) -> None:
        """Draw new faces from a generator run."""
        from ..generate import sample
        from ..runs import resolve_run

        images = sample(resolve_run(run, runs_dir), n, seed=seed, condition=condition, out=out)
        print(f"wrote {len(images)} faces to {out}")

    @gen.command("interpolate")
    def interpolate_cmd(
        run: str = typer.Argument(..., help="A generator run (name or folder)."),
        steps: int = typer.Option(10, help="Points on the walk."),
        seed: int = typer.Option(0, help="Seed of the two end points."),
        out: Path = typer.Option(Path("walk.png"), help="walk.png (a strip) or walk.gif (an animation)."),
        condition: Optional[str] = typer.Option(None, help="For a conditional run: Smiling=1,Male=0."),
        runs_dir: Optional[Path] = runs_dir_option(),
    ) -> None:
        """A walk between two latent points of a generator run, as a strip or a GIF."""
        from ..generate import interpolate
        from ..runs import resolve_run

        frames = interpolate(resolve_run(run, runs_dir), steps=steps, seed=seed, condition=condition, out=out)
        print(f"wrote a walk of {len(frames)} faces to {out}")
