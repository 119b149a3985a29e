"""Defaults chosen by task: the built-in recipe table (the one place the tuned defaults live).

The plain command, ``facelab train data/celeba --target Smiling --minutes 10``, trains with the
recipe the benchmarks chose on the validation split (docs/training.md, "Recipes"): the table
is keyed by dataset (``celeba``, ``fer2013``, ``folder``, ``other``, from the manifest's layout),
task kind (``binary``, ``multilabel``, ``multiclass``) and budget (``--minutes``: a row applies
from its ``from_minutes`` up; no ``--minutes`` takes the shortest row). A row gives the cache
geometry (used when DATA is a dataset folder), cnn parameters, training options, and an epoch
cap with no early stopping that apply only with a time budget.

Every value a user sets (a flag, ``--set``, ``--param`` or a ``--config`` file) wins over the
recipe; ``recipe="none"`` (``--recipe none``) trains with the plain :class:`TrainConfig`
defaults; ``recipe="celeba/binary"`` picks a row by name. The chosen row's key is saved as
``recipe`` in the run's ``config.yaml`` beside every resolved value, and :func:`describe`
says what it chose and why (printed by ``facelab train``).

Imbalance: every row trains with ``balance: none``. The score is accuracy (mean accuracy for
many attributes), and weighting rare classes up trades accuracy for their recall: the
40-attribute model at ``sqrt`` weighting had precision 0.60 against recall 0.73 and 87.5% mean
accuracy. ``--set balance=sqrt`` (or ``full``) asks for balanced recall instead.

Example:
    >>> r = choose("celeba", "binary", 10)
    >>> r.key, r.size, r.options["aux"], r.epochs
    ('celeba/binary', 80, 'all', 25)
    >>> choose("fer2013", "multiclass", 30).params
    {'first_stride': 1}
    >>> choose("folder", "multiclass", None).key   # no tuned row: the catch-all
    'default'
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..data.ensure import DATASET_GEOMETRY
from ..errors import ConfigError

_BASE = {"ema": 0.999, "tta": True, "balance": "none", "batch_size": 64}  # the benchmarks' batch
_REGULARISE = {"weight_decay": 0.02, "shift": 0.06, "scale": 0.08, "rotate": 8, "jitter": 0.2}
_AUX = {"aux": "all", "aux_weight": 3.0}
_FER_AUGMENT = {"erase": 0.25, "shift": 0.08, "scale": 0.1, "rotate": 10}

#: why the rows train without imbalance weighting (printed, and in docs/training.md)
BALANCE_WHY = ("accuracy is the score, and weighting rare classes up trades accuracy for their recall "
               "(all 40 CelebA attributes at sqrt: precision 0.60, recall 0.73, mean accuracy 0.875); "
               "--set balance=sqrt favours balanced recall instead")


@dataclass(frozen=True)
class Recipe:
    """One row of the table: what a network trained on ``dataset``/``kind`` gets by default."""

    dataset: str  # celeba | fer2013 | folder | other | * (any)
    kind: str  # binary | multilabel | multiclass | * (any)
    from_minutes: float  # the row applies to budgets of at least this many minutes
    size: int
    crop: str
    grey: bool
    params: dict = field(default_factory=dict)  # cnn parameters (other models keep their own)
    options: dict = field(default_factory=dict)  # TrainConfig fields
    epochs: int | None = None  # epoch cap, with --minutes only: whichever ends first
    why: str = ""

    @property
    def key(self) -> str:
        if self.dataset == "*":
            return "default"
        k = f"{self.dataset}/{self.kind if self.kind != '*' else 'any'}"
        return k + (f"/{self.from_minutes:g}min" if self.from_minutes else "")


def _geo(dataset: str, **kw) -> dict:
    return {**DATASET_GEOMETRY[dataset], **kw}


#: The table. Figures in ``why`` are validation accuracy on the benchmark splits (docs/training.md).
RECIPES: list[Recipe] = [
    Recipe("celeba", "binary", 0, **_geo("celeba", size=80), params={"dropout": 0.3},
           options={**_BASE, **_REGULARISE, **_AUX}, epochs=25,
           why="Smiling 0.921-0.926 in 10 min: 80 px beat 64, the other 39 attributes as auxiliary "
               "outputs (weight 3) lifted every single-attribute run, and more than 25 epochs over-fit"),
    Recipe("celeba", "multilabel", 0, **_geo("celeba"), params={"dropout": 0.3},
           options={**_BASE, **_REGULARISE},
           why="all 40 attributes 0.902 mean in 30 min: 40 outputs over-fit without the extra "
               "regularising; face crops beat square ones"),
    Recipe("celeba", "multilabel", 20, **_geo("celeba", size=96), params={"dropout": 0.3},
           options={**_BASE, **_REGULARISE}, epochs=40,
           why="all 40 attributes 0.907 mean in 11 of 30 min (64 px: 0.902, 80 px: 0.905): the 64 px "
               "model peaked by epoch 40 of 188, so the budget buys resolution instead; a wider "
               "network at 64 px did not help (0.902)"),
    Recipe("fer2013", "multiclass", 0, **_geo("fer2013"), options={**_BASE, **_FER_AUGMENT},
           why="0.613 in 10 min; the finer first_stride=1 network needs more epochs than a short "
               "budget allows (0.491 against 0.524 in 5 minutes)"),
    Recipe("fer2013", "multiclass", 20, **_geo("fer2013"), params={"first_stride": 1},
           options={**_BASE, **_FER_AUGMENT},
           why="0.657 in 30 min: first_stride=1 keeps 24x24 after the first stage of a 48 px face "
               "(+4.4 points), with erasing and stronger geometry against over-fitting"),
    # Mirrored test-time averaging is left out here: it helped every face benchmark, but a folder
    # of classes may be told apart by their side (the trainer's own test data is).
    Recipe("*", "*", 0, **_geo("other"), options={"balance": "none"},
           why="no tuned recipe for this dataset: the plain defaults (with the weight average), "
               "without imbalance weighting; --set tta=true mirrors faces at test time"),
]

_WITH_BUDGET = {"patience": 0}  # a time budget ends the schedule; the best epoch is kept anyway


def choose(dataset: str, kind: str, minutes: float | None) -> Recipe:
    """The row for ``dataset`` and task ``kind`` with the largest ``from_minutes`` the budget
    reaches (no budget: the shortest row); ``*`` rows catch the rest."""
    budget = minutes if minutes is not None else 0.0
    for d, k in ((dataset, kind), (dataset, "*"), ("*", "*")):
        rows = [r for r in RECIPES if r.dataset == d and r.kind == k and r.from_minutes <= budget]
        if rows:
            return max(rows, key=lambda r: r.from_minutes)
    raise AssertionError("the table has a catch-all row")  # pragma: no cover


def by_key(key: str) -> Recipe:
    """A row by its printed key (``celeba/binary``, ``fer2013/multiclass/20min``)."""
    for r in RECIPES:
        if r.key == key:
            return r
    raise ConfigError(f"unknown recipe {key!r}",
                      fix=f"choose auto, none or one of: {', '.join(r.key for r in RECIPES)}")


def pick(name: str | None, dataset: str, kind: str, minutes: float | None) -> Recipe | None:
    """``auto`` (or None): :func:`choose`; ``none``: no recipe; otherwise a row by key."""
    if name in (None, "", "auto"):
        return choose(dataset, kind, minutes)
    if name == "none":
        return None
    return by_key(name)


def geometry(recipe: Recipe | None, dataset: str, explicit: dict) -> dict:
    """Cache geometry for a dataset folder: explicit size/crop/grey, then the recipe's, then the
    dataset's default."""
    geo = dict(DATASET_GEOMETRY[dataset])
    if recipe is not None and recipe.dataset != "*":  # the catch-all keeps the dataset's own
        geo.update(size=recipe.size, crop=recipe.crop, grey=recipe.grey)
    geo.update({k: explicit[k] for k in ("size", "crop", "grey") if explicit.get(k) is not None})
    return geo


def options_for(recipe: Recipe, *, minutes: float | None) -> dict:
    """The training options a row sets (its epoch cap and no early stopping only with a budget)."""
    wanted = dict(recipe.options)
    if minutes is not None:
        wanted.update(_WITH_BUDGET)
        if recipe.epochs:
            wanted["epochs"] = recipe.epochs
    return wanted


def apply(cfg, recipe: Recipe | None, explicit: set[str], *, network: bool) -> dict:
    """Fill ``cfg`` (a TrainConfig) with the recipe's values for every option not in ``explicit``.

    Returns:
        ``{"set": {option: value}, "kept": {option: value}}``: what the recipe set, and the
        recipe values the user's own overrode.
    """
    chosen: dict = {}
    kept: dict = {}
    if recipe is None or not network:  # a classical model has no epochs, aux or ema to set
        cfg.recipe = "none"
        return {"set": chosen, "kept": kept}
    cfg.recipe = recipe.key
    for k, v in options_for(recipe, minutes=cfg.minutes).items():
        if k in explicit:
            kept[k] = getattr(cfg, k)
        else:
            setattr(cfg, k, v)
            chosen[k] = v
    if recipe.params and cfg.model == "cnn":
        mine = dict(cfg.params or {})
        cfg.params = {**recipe.params, **mine}
        chosen.update({f"param {k}": v for k, v in recipe.params.items() if k not in mine})
        kept.update({f"param {k}": mine[k] for k in recipe.params if k in mine})
    return {"set": chosen, "kept": kept}


def describe(recipe: Recipe | None, cfg, outcome: dict, geo: dict | None, *, cache_note: str = "") -> list[str]:
    """The lines ``facelab train`` prints: the recipe and each choice, and the imbalance handling."""
    s, kept = outcome["set"], outcome["kept"]
    budget = f"{cfg.minutes:g} min" if cfg.minutes is not None else "no --minutes"
    if recipe is None:
        lines = [f"recipe none ({budget}): the plain TrainConfig defaults"]
    else:
        parts = []
        if geo:
            parts.append(f"size {geo['size']} {geo['crop']} crop{' grey' if geo['grey'] else ''}" + cache_note)
        for k, v in s.items():
            if k == "aux":
                parts.append(f"aux {v} (weight {s.get('aux_weight', cfg.aux_weight):g})")
            elif k in ("aux_weight", "balance"):
                continue
            elif k == "tta":
                parts.append("tta (mirror)" if v else "no tta")
            elif k == "ema":
                parts.append(f"ema {v:g}")
            elif k == "epochs":
                parts.append(f"epochs ≤ {v}")
            elif k == "patience":
                parts.append("no early stop (best epoch kept)" if v == 0 else f"patience {v}")
            else:
                parts.append(f"{k} {v:g}" if isinstance(v, float) else f"{k} {v}")
        lines = [f"recipe {recipe.key} ({budget}): " + ", ".join(parts)]
        if kept:
            lines.append("  yours instead of the recipe's: " + ", ".join(f"{k} {v}" for k, v in kept.items()))
        lines.append(f"  why: {recipe.why}")
        lines.append("  override with --size/--crop/--grey, --param KEY=V, --set KEY=V, --epochs; --recipe none "
                     "for the plain defaults")
    lines.append(imbalance_line(cfg, "balance" in s))
    return lines


def imbalance_line(cfg, from_recipe: bool) -> str:
    """Which imbalance handling the run uses and why."""
    b = cfg.balance
    if from_recipe:
        return f"imbalance: {b} (no class weighting): {BALANCE_WHY}"
    if cfg.recipe == "none":
        return (f"imbalance: {b} (the TrainConfig default without a recipe): weights classes by the "
                "square root of their inverse frequency, favouring recall of rare classes over accuracy")
    return f"imbalance: {b} (yours): " + ("no class weighting" if b == "none" else
                                          "rare classes weighted up: better recall on them, lower accuracy")
