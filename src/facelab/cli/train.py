"""``facelab train``, ``facelab models`` and ``facelab runs`` (argument parsing only)."""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from .common import runs_dir_option


def _parse_params(items: list[str] | None, flag: str = "--param",
                  example: str = "--param widths=[32,64,128,256]") -> dict:
    import yaml

    from ..errors import ConfigError

    out: dict = {}
    for item in items or []:
        if "=" not in item:
            raise ConfigError(f"{flag} {item!r} is not KEY=VALUE", fix=f"e.g. {example}")
        k, v = item.split("=", 1)
        try:
            out[k.strip()] = yaml.safe_load(v)  # numbers, lists and booleans in YAML syntax
        except yaml.YAMLError as e:  # a tag such as !!python/object is refused, never run
            raise ConfigError(f"{flag} {item!r} is not a YAML value ({str(e).splitlines()[0]})",
                              fix=f"e.g. {example}") from None
    return out


def _set_options(items: list[str] | None, flags: dict) -> dict:
    """``--set KEY=VALUE`` items as training options; a key with its own flag is refused. Unknown
    keys are the config's to refuse (``TrainConfig.from_dict`` names the closest option)."""
    from ..errors import ConfigError

    sets = _parse_params(items, "--set", "--set ema=0.999")
    for k in sets:
        if k in flags or k in ("data", "params"):  # DATA is the argument, params come from --param
            raise ConfigError(f"--set {k}=... repeats an option that has its own flag",
                              fix="pass DATA as the argument" if k == "data" else "use --param KEY=VALUE"
                              if k == "params" else f"use --{k.replace('_', '-')} instead")
    return sets


def _print_shipped(console) -> None:
    """The models shipped with facelab: usable by name wherever a run is (predict, serve, --init)."""
    from rich.table import Table

    from ..pretrained import shipped_summaries

    t = Table(title="models shipped with facelab (use the name as a run: predict, evaluate, serve, --init)")
    for col in ("name", "task", "outputs", "val acc", "test acc", "status"):
        t.add_column(col, justify="right" if col in ("outputs", "val acc", "test acc") else "left")
    for r in shipped_summaries():
        t.add_row(r["name"], f"{r['kind']}:{r['target']}", str(r["outputs"]),
                  f"{r['val_accuracy']:.4f}" if r["val_accuracy"] is not None else "-",
                  f"{r['test_accuracy']:.4f}" if r["test_accuracy"] is not None else "-", r["status"])
    console.print(t)


def register(app: typer.Typer) -> None:
    """Add this group's commands to the main app."""

    @app.command("train")
    def train_cmd(
        data: Optional[Path] = typer.Argument(None, help="Dataset folder (prepared on first use, with the "
                                                         "recipe's geometry) or a prepared cache."),
        target: Optional[str] = typer.Option(None, help="Attribute (Smiling), 'all', A,B,C, or a class column "
                                                        "(default: the dataset's class column)."),
        model: Optional[str] = typer.Option(None, help="Model name (see `facelab models`); default cnn."),
        epochs: Optional[int] = typer.Option(None, help="Number of epochs (default 10 unless --minutes)."),
        minutes: Optional[float] = typer.Option(None, help="Time budget; the LR schedule fits it."),
        name: Optional[str] = typer.Option(None, help="Run name (default <target>-<model>-<time>)."),
        seed: Optional[int] = typer.Option(None, help="Seed for split, init, shuffling, augmentation."),
        batch_size: Optional[int] = typer.Option(None, help="Images per batch (default 128)."),
        lr: Optional[float] = typer.Option(None, help="Peak learning rate of AdamW (default 3e-3)."),
        weights: Optional[Path] = typer.Option(None, help="Start from a .safetensors/.pth checkpoint "
                                                          "(torchvision names)."),
        init: Optional[str] = typer.Option(None, help="Start from the backbone of an earlier run."),
        aux: Optional[str] = typer.Option(None, help="Auxiliary attributes learnt beside the target and "
                                                     "dropped when saving: 'all' or A,B (--set aux_weight=1)."),
        resume: bool = typer.Option(False, help="Continue an interrupted run (pick it with --name)."),
        val_fraction: Optional[float] = typer.Option(None, help="Hold-out from train when there is no val "
                                                                "split (default 0.1)."),
        param: Optional[List[str]] = typer.Option(None, help="Model parameter KEY=VALUE (repeatable)."),
        config: Optional[Path] = typer.Option(None, help="YAML config (e.g. a run's config.yaml)."),
        threads: Optional[int] = typer.Option(None, help="torch threads (default: all cores)."),
        patience: Optional[int] = typer.Option(None, help="Stop after this many epochs without improvement."),
        progress: bool = typer.Option(True, help="Show the progress bar."),
        nproc: Optional[int] = typer.Option(None, help="Train with N DistributedDataParallel processes on this "
                                                       "machine (each reads its shard; see docs/scale.md)."),
        set_: Optional[List[str]] = typer.Option(None, "--set", help="Any other training option KEY=VALUE "
                                                 "(repeatable), e.g. --set ema=0.999 --set tta=true "
                                                 "--set weight_decay=0.02 (see docs/training.md)."),
        track: Optional[str] = typer.Option(None, help="Mirror the run into mlflow or tensorboard (needs "
                                                       "pip install \"facelab[track]\"); the run folder stays "
                                                       "the source of truth."),
        track_uri: Optional[str] = typer.Option(None, help="Tracking store (default: <runs>/_mlflow or "
                                                           "<runs>/_tensorboard)."),
        recipe: Optional[str] = typer.Option(None, help="Defaults chosen by task (docs/training.md, "
                                                        "'Recipes'): auto (default), none, or a row such as "
                                                        "celeba/binary."),
        size: Optional[int] = typer.Option(None, help="Cache side in pixels when DATA is a dataset folder "
                                                      "(default: the recipe's)."),
        crop: Optional[str] = typer.Option(None, help="Cache crop when DATA is a dataset folder: square | "
                                                      "face | full (default: the recipe's)."),
        grey: Optional[bool] = typer.Option(None, "--grey/--rgb", help="Cache colour when DATA is a dataset "
                                                                       "folder (default: the recipe's)."),
        runs_dir: Optional[Path] = runs_dir_option(),
    ) -> None:
        """Train a model on a dataset folder or a prepared cache; the run goes to runs/<name>/.

        The options nobody sets come from the recipe for the dataset, task and --minutes, printed
        at the start and saved in the run's config.yaml; every flag wins over it."""
        from rich.console import Console

        from ..train.trainer import train

        flags = dict(target=target, model=model, epochs=epochs, minutes=minutes, name=name, seed=seed,
                     batch_size=batch_size, lr=lr, weights=str(weights) if weights else None, init=init, aux=aux,
                     val_fraction=val_fraction, params=_parse_params(param) or None, threads=threads,
                     patience=patience, recipe=recipe, size=size, crop=crop, grey=grey,
                     runs_dir=runs_dir)
        try:
            fit = train
            if nproc is not None and int(nproc) > 1:  # scale-out: the same train() in N DDP processes
                if track:
                    from ..errors import ConfigError

                    raise ConfigError("--track is not yet supported with --nproc (every worker would log a run)",
                                      fix="drop --track, or train in one process")
                from functools import partial

                from ..scale.ddp import train_ddp

                fit = partial(train_ddp, nproc=nproc)
            run = fit(str(data) if data else None, resume=resume, config=config, progress=progress, echo=True,
                      track=track, track_uri=track_uri, **flags, **_set_options(set_, flags))
        except KeyboardInterrupt:
            # train() has saved the checkpoint and printed the resume command. SystemExit, because
            # click turns KeyboardInterrupt/typer.Exit into a return value that would exit with 0.
            raise SystemExit(130) from None
        _print_trained(Console(), run, track, track_uri, runs_dir)

    @app.command("models")
    def models_cmd(
        size: int = typer.Option(64, help="Input side in pixels for the FLOPs count."),
        channels: int = typer.Option(3, help="Input channels (1 grey, 3 RGB)."),
        json_: bool = typer.Option(False, "--json", help="Print the list as JSON (nothing else on stdout)."),
    ) -> None:
        """List the registered models with parameters and FLOPs per image."""
        _print_models(size, channels, json_)

    @app.command("runs")
    def runs_cmd(
        root: Optional[Path] = runs_dir_option("--root"),
        json_: bool = typer.Option(False, "--json", help="Print the runs as JSON (nothing else on stdout)."),
    ) -> None:
        """List training runs: name, target, model, key metric, status, date."""
        _print_runs(root, json_)


def _print_trained(c, run, track, track_uri, runs_dir) -> None:
    """What `facelab train` prints when a run is done: its key figures and where it is."""
    m = run.metrics
    c.print(f"[bold green]done[/] {run.name}: {run.task.kind} {run.task.name} with {run.model_name}")
    for k in ("val_accuracy", "test_accuracy", "val_loss", "best_epoch", "epochs", "train_seconds",
              "images_per_s"):
        if m.get(k) is not None:
            v = m[k]
            c.print(f"  {k:15s} {v:.4f}" if isinstance(v, float) else f"  {k:15s} {v}")
    c.print(f"  recipe          {run.config.get('recipe') or 'none'}; imbalance {run.config.get('balance')}")
    c.print(f"  run folder      {run.path}")
    if m.get("degenerate"):
        c.print(f"[bold yellow]warning:[/] {m['degenerate']}", highlight=False)
    if track:
        from ..paths import runs_root

        where = track_uri or str(runs_root(runs_dir).expanduser().resolve() / ("_mlflow" if track == "mlflow"
                                                                               else "_tensorboard"))
        c.print(f"  tracked in      {track}: {where}", highlight=False)


def _print_models(size: int, channels: int, json_: bool) -> None:
    from rich.console import Console
    from rich.table import Table

    from ..train.modelinfo import all_models

    if json_:
        import json

        from ..pretrained import shipped_summaries

        print(json.dumps({"models": [{**i.to_dict(), "size": size, "channels": channels}
                                     for i in all_models(size=size, channels=channels)],
                          "shipped": shipped_summaries()}, indent=1, default=str))
        return

    t = Table(title=f"models (FLOPs per {size}×{size}×{channels} image)")
    for col in ("name", "kind", "description", "parameters", "FLOPs"):
        t.add_column(col, justify="right" if col in ("parameters", "FLOPs") else "left")
    for i in all_models(size=size, channels=channels):
        t.add_row(i.name, i.kind, i.description,
                  f"{i.parameters / 1e6:.2f} M" if i.parameters else "fitted",
                  f"{i.flops / 1e6:.0f} M" if i.flops else "-")
    Console().print(t)
    _print_shipped(Console())


def _print_runs(root, json_: bool) -> None:
    from rich.console import Console
    from rich.table import Table

    from ..paths import runs_root
    from ..runs import broken_runs, list_runs

    runs = list_runs(root)
    folder = root or runs_root()
    broken = broken_runs(folder)  # listed, with the reason, rather than left out without a word
    if json_:
        import json

        from ..pretrained import shipped_summaries

        print(json.dumps({"runs": [r.summary() for r in runs],
                          "broken": [{"name": n, "reason": why} for n, why in broken],
                          "shipped": shipped_summaries()}, indent=1, default=str))
        return
    if not runs and not broken:
        Console().print(f"no runs in {folder} — train one with `facelab train DATA --target ...`")
        _print_shipped(Console())
        return
    t = Table(title=f"runs in {folder}")
    for col in ("name", "task", "model", "metric", "value", "status", "created"):
        # a narrow terminal folds names and tasks rather than squeezing the name column away
        t.add_column(col, justify="right" if col == "value" else "left", no_wrap=col in ("value", "metric"),
                     overflow="fold", min_width=16 if col == "name" else None)
    for r in runs:
        s = r.summary()
        t.add_row(s["name"], f"{s['kind']}:{s['target']}", s["model"], s["metric"].replace("_accuracy", " acc"),
                  f"{s['value']:.4f}" if s["value"] is not None else "-", s["status"],
                  s["created"][:16].replace("T", " "))
    for name, reason in broken:
        t.add_row(name, "-", "-", "-", "-", "broken", "-")
    Console().print(t)
    for name, reason in broken:
        Console(soft_wrap=True).print(f"[yellow]broken[/] {name}: {reason}", highlight=False, markup=True)
    _print_shipped(Console())
