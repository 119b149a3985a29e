"""Training options as one typed dataclass: YAML file → defaults → explicit overrides.

The resolved config is saved with each run as ``config.yaml``; ``facelab train --config FILE``
reads one back (so a run can be repeated exactly).

Example:
    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "my.yaml"
    >>> _ = path.write_text("target: Smiling\\nlr: 0.001\\n")
    >>> cfg = TrainConfig.resolve(path, epochs=5)
    >>> cfg.target, cfg.lr, cfg.epochs
    ('Smiling', 0.001, 5)
    >>> TrainConfig(target="Smiling").model
    'cnn'
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from ..errors import ConfigError


@dataclass
class TrainConfig:
    """Every option of :func:`facelab.train.trainer.train` (see there for meanings)."""

    data: str = ""
    target: Any = None  # str, list of attributes or None (the dataset's class column)
    model: str = "cnn"
    epochs: int | None = None
    minutes: float | None = None
    name: str | None = None
    seed: int = 0
    batch_size: int = 128
    lr: float = 3e-3
    optimizer: str = "adamw"  # adamw | sgd (Nesterov momentum 0.9; wants a larger lr, e.g. 0.05)
    weight_decay: float = 5e-4
    warmup: float = 0.05  # fraction of the schedule spent warming up
    schedule: str = "cosine"  # cosine | onecycle | constant
    label_smoothing: float = 0.1  # multiclass: softened one-hot targets
    # 0/1 targets (binary, multilabel): y -> y (1 - e) + e / 2 in the training loss, for labels
    # with some noise (CelebA's are hand-made); 0 = off
    binary_smoothing: float = 0.0
    balance: str = "sqrt"  # none | sqrt | full: class/positive weighting against imbalance
    augment: bool = True
    flip: bool = True
    # Mild by default: on CelebA Smiling (5-minute runs) this beat shift .06/scale .08/rotate 8/
    # jitter .2 by 0.8 points of validation accuracy; short CPU runs cannot afford hard examples.
    shift: float = 0.04  # max translation, fraction of the image
    scale: float = 0.05  # max zoom in/out
    rotate: float = 0.0  # degrees
    jitter: float = 0.1  # brightness/contrast strength
    erase: float = 0.0  # probability of blanking a random rectangle (random erasing / cutout)
    mixup: float = 0.0  # mixup alpha (0 = off): trains on blends of two images and their labels
    # Decay of a weight average that is evaluated and saved instead of the last weights (0 = off).
    # On by default: free at inference; it smooths the epoch-to-epoch swings and delays over-fitting
    # (CelebA Smiling val 0.906 with it vs 0.899 without, both without mirroring; docs/training.md).
    ema: float = 0.999
    tta: bool = False  # average each prediction with that of the mirrored face (2x inference)
    # Temperature scaling fitted on the validation split after training (runs/calibrate.py):
    # calibrated probabilities, unchanged decisions and accuracy.
    calibrate: bool = True
    # Auxiliary attributes learnt beside the target and dropped when saving (train/auxiliary.py):
    # None, "all" (every other 0/1 attribute) or a list; aux_weight scales their mean loss.
    aux: Any = None
    aux_weight: float = 1.0
    patience: int = 6  # epochs without validation improvement before stopping
    # Early stopping counts those epochs only once this fraction of the schedule has run: a small
    # network can sit at chance for its first epochs before it takes off (the demo's cnn did for
    # 7 of 26, one face away from being stopped there), and a high-learning-rate start is no time
    # to give up.
    patience_after: float = 0.25
    val_fraction: float = 0.1
    weights: str | None = None
    init: str | None = None
    threads: int | None = None
    channels_last: bool = True
    precision: str = "auto"  # auto | fp32 | bf16: bf16 autocast where the CPU has native bf16
    eval_batch_size: int = 512
    params: dict = field(default_factory=dict)  # model parameters (widths, depths, ...)
    # The defaults chosen by task (train/recipes.py): "auto" picks the row for the dataset, task
    # and --minutes (the saved config names the row), "none" keeps the defaults above, or a row's key.
    recipe: str = "auto"
    # Cache geometry when DATA is a dataset folder (None: the recipe's); saved as the cache's.
    size: int | None = None
    crop: str | None = None
    grey: bool | None = None

    def to_dict(self) -> dict:
        return asdict(self)

    def save(self, path: str | Path) -> None:
        Path(path).write_text(yaml.safe_dump(self.to_dict(), sort_keys=False))

    @classmethod
    def from_dict(cls, d: dict, *, source: str | Path | None = None) -> "TrainConfig":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            import difflib

            close = {u: difflib.get_close_matches(u, known, n=1) for u in unknown}
            hint = "; ".join(f"{u!r}" + (f" (did you mean {c[0]!r}?)" if c else "") for u, c in close.items())
            raise ConfigError(f"unknown training option(s): {hint}", path=source,
                              fix=f"valid options: {', '.join(sorted(known))}")
        cfg = cls(**d)
        cfg.validate(source)
        return cfg

    @classmethod
    def load(cls, path: str | Path) -> "TrainConfig":
        path = Path(path)
        try:
            d = yaml.safe_load(path.read_text()) or {}
        except (OSError, yaml.YAMLError) as e:
            raise ConfigError(f"cannot read the config file {path}: {e}", path=path,
                              fix="pass a YAML file of option: value lines (see a run's config.yaml)") from None
        if not isinstance(d, dict):
            raise ConfigError(f"{path} is not a mapping of option: value", path=path,
                              fix="write one `option: value` per line")
        return cls.from_dict(d, source=path)

    @classmethod
    def resolve(cls, config: "str | Path | TrainConfig | dict | None" = None, **overrides) -> "TrainConfig":
        """Defaults, then the YAML file (or dict), then every override that is not ``None``."""
        if isinstance(config, TrainConfig):
            base = config.to_dict()
        elif isinstance(config, dict):
            base = cls.from_dict(config).to_dict()
        elif config is not None:
            base = cls.load(config).to_dict()
        else:
            base = cls().to_dict()
        base.update({k: v for k, v in overrides.items() if v is not None})
        return cls.from_dict(base)

    def validate(self, source=None) -> None:
        def bad(msg, fix):
            raise ConfigError(msg, path=source, fix=fix)

        if self.epochs is not None and self.epochs < 1:
            bad(f"epochs must be at least 1 (got {self.epochs})", "pass --epochs 1 or more")
        if self.minutes is not None and self.minutes <= 0:
            bad(f"minutes must be positive (got {self.minutes})", "pass --minutes 0.5 or more")
        if self.batch_size < 1:
            bad(f"batch_size must be at least 1 (got {self.batch_size})", "pass --batch-size 64")
        if not self.lr > 0:
            bad(f"lr must be positive (got {self.lr})", "pass --lr 0.003")
        if not 0 <= self.val_fraction < 0.9:
            bad(f"val_fraction must be in [0, 0.9) (got {self.val_fraction})", "pass --val-fraction 0.1")
        if self.optimizer not in ("adamw", "sgd"):
            bad(f"unknown optimizer {self.optimizer!r}", "choose adamw or sgd")
        if self.schedule not in ("cosine", "onecycle", "constant"):
            bad(f"unknown schedule {self.schedule!r}", "choose cosine, onecycle or constant")
        if self.precision not in ("auto", "fp32", "bf16"):
            bad(f"unknown precision {self.precision!r}", "choose auto, fp32 or bf16")
        if not 0 <= self.erase <= 1:
            bad(f"erase is a probability in [0, 1] (got {self.erase})", "pass erase: 0.25")
        if self.mixup < 0:
            bad(f"mixup alpha must be 0 (off) or positive (got {self.mixup})", "pass mixup: 0.2")
        if not (self.ema == 0 or 0 < self.ema < 1):
            bad(f"ema decay must be 0 (off) or in (0, 1) (got {self.ema})", "pass ema: 0.999")
        if not 0 <= self.binary_smoothing < 1:
            bad(f"binary_smoothing must be in [0, 1) (got {self.binary_smoothing})", "pass binary_smoothing: 0.1")
        if not 0 <= self.patience_after <= 1:
            bad(f"patience_after is a fraction of the schedule in [0, 1] (got {self.patience_after})",
                "pass patience_after: 0.25")
        if self.aux_weight < 0:
            bad(f"aux_weight must be 0 or more (got {self.aux_weight})", "pass aux_weight: 1.0")
        if self.balance not in ("none", "sqrt", "full"):
            bad(f"unknown balance {self.balance!r}", "choose none, sqrt or full")
