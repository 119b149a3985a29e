"""``train_gan(...)``: the DCGAN training loop over the uint8 prepared cache, writing a generator run.

The recipe is the PyTorch tutorial's (Adam 2e-4, β1 0.5, binary cross-entropy, one D step then
one G step per batch); what facelab adds is what the notebooks lack:

- it reads the prepared cache (no JPEG decoding in the loop; grey or RGB, 64 or 32 px — a 64 px
  cache can train a 32 px GAN, halved by 2×2 averaging);
- an **epoch** is ``epoch_images`` images (default: the training split, at most 20,000), drawn
  without replacement from a running shuffle, so that a 160,000-face CelebA still gets a sample
  grid, a checkpoint and quality scores every few minutes on a CPU;
- after every epoch: checkpoints of G, D and both optimisers (safetensors, written atomically),
  a history row, a sample grid from fixed noise, the progress strip, the curves, the model card;
- the run folder is a :class:`~facelab.runs.lifecycle.Lifecycle`'s, as every run's: a checked
  name, ``--resume`` continues exactly (RNG states and the shuffle position are saved); Ctrl-C
  saves the current networks, marks the run interrupted and re-raises; a NaN loss marks it ``nan``
  and raises :class:`~facelab.errors.RunError` with the last good checkpoint kept;
- a discriminator that wins outright or a collapsed generator gets a warning that says what to change.

Example:
    >>> run = train_gan("~/.facelab/prepared/celeba-64", minutes=30)   # doctest: +SKIP
    >>> run.sample(16).shape                                          # doctest: +SKIP
    (16, 64, 64, 3)
"""
from __future__ import annotations

import logging
import math
import time
import warnings
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import ConfigError, DataError, RunError
from ..runs.lifecycle import EpochResult, Lifecycle, NonFiniteLoss
from . import run as layout
from .dcgan import SIZES, build, from_uint8, to_uint8
from .run import GeneratorRun

log = logging.getLogger(__name__)

MIN_IMAGES = 64           # below this a GAN only memorises
DEFAULTS = dict(nz=100, ngf=32, ndf=32, batch_size=64, lr=2e-4, beta1=0.5, real_label=0.9,
                epoch_images=20000, quality_every=1, quality_samples=1000, fixed_samples=64, strip_samples=8,
                ac_weight=1.0)  # conditional runs: weight of the auxiliary classifier's loss (0: label planes)
D_WINS_LOSS, D_WINS_STEPS = 0.05, 200    # D loss under this for this many steps in a row: D has won
COLLAPSE_RATIO = 0.25                    # sample spread under this share of the real spread: collapse


class GanWarning(UserWarning):
    """Training is going wrong in a way the user can fix (D wins outright, mode collapse)."""


def _parse_condition(condition, ds) -> list[str]:
    if not condition:
        return []
    names = [c.strip() for c in condition.split(",")] if isinstance(condition, str) else [str(c) for c in condition]
    names = [n for n in names if n]
    binary = [n for n, info in ds.labels.items() if info.kind == "binary"]
    bad = [n for n in names if n not in binary]
    if bad:
        import difflib

        close = difflib.get_close_matches(bad[0], binary, n=3)
        raise ConfigError(f"cannot condition on {', '.join(bad)}: not a 0/1 attribute of {ds.path}"
                          + (f". Did you mean {', '.join(close)}?" if close else ""), path=ds.path,
                          fix=f"choose from: {', '.join(binary[:12])}{' ...' if len(binary) > 12 else ''}")
    return names


def _optim_tensors(opt: torch.optim.Optimizer) -> dict[str, torch.Tensor]:
    out = {}
    for idx, st in opt.state_dict()["state"].items():
        for k, v in st.items():
            out[f"{idx}.{k}"] = (v if isinstance(v, torch.Tensor) else torch.tensor(v)).detach().contiguous()
    return out


def _load_optim(opt: torch.optim.Optimizer, tensors: dict[str, torch.Tensor]) -> None:
    sd = opt.state_dict()
    state: dict[int, dict] = {}
    for key, v in tensors.items():
        idx, name = key.split(".", 1)
        state.setdefault(int(idx), {})[name] = v
    sd["state"] = state
    opt.load_state_dict(sd)


class GanTask:
    """The GAN's :class:`~facelab.runs.lifecycle.RunTask`: one epoch of D/G steps and its scores,
    the checkpoint (networks, optimisers, RNG, samples, curves, card). The run folder, its state,
    history and the NaN / Ctrl-C policy are the :class:`~facelab.runs.lifecycle.Lifecycle`'s."""

    def __init__(self, path: Path, cfg: dict, ds, rows: np.ndarray, state: dict, feature_run=None,
                 progress: bool = True, *, epochs: int | None = None, minutes: float | None = None):
        self.path, self.cfg, self.ds, self.rows, self.state = path, cfg, ds, rows, state
        self.progress = progress
        self.cond = list(cfg.get("condition") or [])
        self.ac = float(cfg["ac_weight"]) if self.cond else 0.0
        torch.manual_seed(cfg["seed"])  # the initial weights come from the seed too
        self.g, self.d = build(cfg)
        self.opt_g = torch.optim.Adam(self.g.parameters(), cfg["lr"], betas=(cfg["beta1"], 0.999))
        self.opt_d = torch.optim.Adam(self.d.parameters(), cfg["lr"], betas=(cfg["beta1"], 0.999))
        self.labels = (ds.table[self.cond].to_numpy().astype(np.float32) if self.cond else None)
        fixed = np.random.default_rng(cfg["seed"] + 1)  # the same noise every epoch and on resume
        self.fixed_z = torch.from_numpy(fixed.standard_normal((cfg["fixed_samples"], cfg["nz"])).astype(np.float32))
        self.fixed_y = (torch.from_numpy(fixed.integers(0, 2, (cfg["fixed_samples"], len(self.cond))).astype(np.float32))
                        if self.cond else None)
        self.features = None
        if feature_run is not None:
            from .quality import FeatureSpace

            self.features = FeatureSpace(feature_run)
        self.real_face_rate = state.get("real_face_rate")
        self.d_low = 0
        self.warned: set[str] = set(state.get("warned", []))
        bs = int(cfg["batch_size"])
        self.per_epoch = max(bs, min(int(cfg["epoch_images"]), len(rows)) // bs * bs)
        self.target = epochs
        self.budget = None if minutes is None else minutes * 60 - float(state.get("train_seconds", 0.0))
        self.spent = 0.0

    # -- data ------------------------------------------------------------------------------------
    def _batch(self, idx: np.ndarray) -> tuple[torch.Tensor, torch.Tensor | None]:
        idx = np.sort(idx)  # sorted reads of a memmap are sequential reads
        x = from_uint8(np.asarray(self.ds.images[idx]))
        if x.shape[-1] != self.cfg["size"]:
            x = F.avg_pool2d(x, x.shape[-1] // self.cfg["size"])
        y = torch.from_numpy(self.labels[idx]) if self.cond else None
        return x, y

    def _next_indices(self, n: int) -> np.ndarray:
        """The next ``n`` rows of the running shuffle (a new permutation when one is used up)."""
        out = []
        while n > 0:
            if self.perm is None or self.pos >= len(self.perm):
                self.perm, self.pos = self.rng.permutation(self.rows), 0
            take = self.perm[self.pos:self.pos + n]
            self.pos += len(take)
            n -= len(take)
            out.append(take)
        return np.concatenate(out)

    # -- state -----------------------------------------------------------------------------------
    def restore(self) -> "GanTask":
        from safetensors.torch import load_file

        self.rng = np.random.default_rng(self.cfg["seed"])
        self.perm, self.pos = None, 0
        torch.manual_seed(self.cfg["seed"])
        if not (self.path / layout.G_FILE).is_file():
            return self
        try:
            self.g.load_state_dict(load_file(str(self.path / layout.G_FILE)))
            self.d.load_state_dict(load_file(str(self.path / layout.D_FILE)))
            _load_optim(self.opt_g, load_file(str(self.path / layout.OG_FILE)))
            _load_optim(self.opt_d, load_file(str(self.path / layout.OD_FILE)))
            extra = load_file(str(self.path / "rng.safetensors"))
        except Exception as e:
            raise RunError(f"cannot resume {self.path}: its checkpoint does not load ({e})", path=self.path,
                           fix="start a new run (the checkpoint is corrupt or from another version)") from None
        torch.set_rng_state(extra["torch"])
        if "perm" in extra:
            self.perm = extra["perm"].numpy()
        self.pos = int(self.state.get("pos", 0))
        self.rng.bit_generator.state = self.state["numpy_rng"]
        return self

    def save_networks(self) -> None:
        """Write everything a resume needs and note it in the state (the lifecycle writes state.json last)."""
        from ..train.checkpoint import save_weights

        save_weights(self.path / layout.G_FILE, self.g)
        save_weights(self.path / layout.D_FILE, self.d)
        save_weights(self.path / layout.OG_FILE, _optim_tensors(self.opt_g))
        save_weights(self.path / layout.OD_FILE, _optim_tensors(self.opt_d))
        extra = {"torch": torch.get_rng_state()}
        if self.perm is not None:
            extra["perm"] = torch.from_numpy(np.ascontiguousarray(self.perm))
        save_weights(self.path / "rng.safetensors", extra)
        self.state.update(pos=int(self.pos), numpy_rng=self.rng.bit_generator.state, warned=sorted(self.warned),
                          real_face_rate=self.real_face_rate)

    # -- one step --------------------------------------------------------------------------------
    def step(self, x: torch.Tensor, y) -> tuple[float, float, float, float]:
        n = len(x)
        real_t = torch.full((n,), float(self.cfg["real_label"]))
        fake_t = torch.zeros(n)
        z = torch.randn(n, self.cfg["nz"])
        if self.cond:  # fakes are asked for random attribute values, so D must check they are shown
            yf = torch.randint(0, 2, (n, len(self.cond))).float()
        else:
            yf = None
        fake = self.g(z, yf)
        bce = F.binary_cross_entropy_with_logits
        self.opt_d.zero_grad(set_to_none=True)
        if self.ac:  # AC-GAN: D also learns the attributes of real faces
            out_real, attr_real = self.d(x, with_aux=True)
            out_fake = self.d(fake.detach())
            loss_d = bce(out_real, real_t) + bce(out_fake, fake_t)
            (loss_d + self.ac * bce(attr_real, y)).backward()
        else:
            out_real = self.d(x, y)
            out_fake = self.d(fake.detach(), yf)
            loss_d = bce(out_real, real_t) + bce(out_fake, fake_t)
            loss_d.backward()
        self.opt_d.step()
        self.opt_g.zero_grad(set_to_none=True)
        if self.ac:  # ... and G is paid for fakes whose attributes D sees as requested
            out, attr_fake = self.d(fake, with_aux=True)
            loss_g = bce(out, torch.ones(n))
            (loss_g + self.ac * bce(attr_fake, yf)).backward()
        else:
            out = self.d(fake, yf)
            loss_g = bce(out, torch.ones(n))
            loss_g.backward()
        self.opt_g.step()
        # the adversarial losses (the D-wins and collapse checks read these; the auxiliary part is apart)
        return (loss_d.item(), loss_g.item(), float(out_real.detach().sigmoid().mean()),
                float(out_fake.detach().sigmoid().mean()))

    # -- per epoch -------------------------------------------------------------------------------
    def fixed_samples(self) -> np.ndarray:
        self.g.eval()
        with torch.inference_mode():
            out = to_uint8(self.g(self.fixed_z, self.fixed_y))
        self.g.train()
        return out

    def diversity(self, fake: np.ndarray) -> float:
        """Mean pixel distance between fixed-noise samples, as a share of that between real images."""
        def spread(a: np.ndarray) -> float:
            f = a.reshape(len(a), -1).astype(np.float32) / 255
            return float(np.mean(np.abs(f[:, None, :] - f[None, :, :]).mean(-1)))
        if not hasattr(self, "_real_spread"):
            idx = np.random.default_rng(0).choice(self.rows, size=min(len(fake), len(self.rows)), replace=False)
            self._real_spread = spread(to_uint8(self._batch(idx)[0]))
        return spread(fake[:32]) / max(self._real_spread, 1e-8)

    def quality(self, epoch: int) -> dict:
        from .quality import attribute_agreement, face_rate

        n = int(self.cfg["quality_samples"])
        run = GeneratorRun(self.path, self.cfg, self.state, {})
        run._g = self.g.eval()
        try:
            fake, labels = run.sample_with_labels(n, seed=self.cfg["seed"] + 2)
        finally:
            self.g.train()
        out: dict = {"face_rate": face_rate(fake)}
        if self.real_face_rate is None:
            idx = np.random.default_rng(self.cfg["seed"] + 3).choice(self.rows, min(n, len(self.rows)), replace=False)
            real = to_uint8(self._batch(idx)[0])
            self.real_face_rate = face_rate(real)
            if self.features is not None:
                self.features.fit_real(real)
        out["real_face_rate"] = self.real_face_rate
        if self.features is not None:
            if self.features.real_stats is None:
                idx = np.random.default_rng(self.cfg["seed"] + 3).choice(self.rows, min(n, len(self.rows)), replace=False)
                self.features.fit_real(to_uint8(self._batch(idx)[0]))
            out["frechet"] = self.features.distance(fake)
            if self.cond:
                agree = attribute_agreement(fake, labels, self.cond, self.features.run)
                out.update({f"agree_{k}": v for k, v in agree.items()})
        return out

    def epoch(self, epoch: int) -> EpochResult | None:
        """The steps of ``epoch`` and its scores (diversity, and quality when due); None when the
        epochs or the minutes are spent."""
        if (self.target is not None and epoch > self.target) or (self.budget is not None and self.spent >= self.budget):
            return None
        bs = int(self.cfg["batch_size"])
        t0 = time.time()
        sums, done, last = self._steps(epoch, t0)
        secs = time.time() - t0
        self.spent += secs
        self.state["train_seconds"] = float(self.state.get("train_seconds", 0.0)) + secs
        self.state["images"] = int(self.state.get("images", 0)) + done * bs
        m = sums / max(done, 1)
        last = last or (self.target is not None and epoch == self.target)
        row = {"epoch": epoch, "steps": done, "images": self.state["images"], "seconds": round(secs, 1),
               "images_per_s": round(done * bs / max(secs, 1e-9), 1), "loss_d": m[0], "loss_g": m[1],
               "d_x": m[2], "d_gz": m[3]}
        fake = self.fixed_samples()
        row["diversity"] = self.diversity(fake)
        if self.cfg["quality_every"] and (epoch % self.cfg["quality_every"] == 0 or last):
            t1 = time.time()
            row.update(self.quality(epoch))
            row["quality_seconds"] = round(time.time() - t1, 1)
        return EpochResult(row, stop=last, extra={"fake": fake})

    def _steps(self, epoch: int, t0: float) -> tuple[np.ndarray, int, bool]:
        """The D/G steps of one epoch: (summed losses and D outputs, steps done, the minutes ran out)."""
        from tqdm.auto import tqdm

        bs = int(self.cfg["batch_size"])
        n_steps = self.per_epoch // bs
        sums, done, last = np.zeros(4), 0, False
        bar = tqdm(total=n_steps, desc=f"epoch {epoch}" + (f"/{self.target}" if self.target else ""),
                   disable=not self.progress, leave=False, unit="step")
        try:
            for _ in range(n_steps):
                x, y = self._batch(self._next_indices(bs))
                vals = self.step(x, y)
                if not all(math.isfinite(v) for v in vals[:2]):
                    raise NonFiniteLoss(epoch)
                sums += vals
                done += 1
                self._check_d_wins(vals[0])
                m = sums / done
                bar.set_postfix(loss_d=f"{m[0]:.3f}", loss_g=f"{m[1]:.3f}", d_x=f"{m[2]:.2f}", d_gz=f"{m[3]:.2f}")
                bar.update()
                if self.budget is not None and self.spent + time.time() - t0 >= self.budget:
                    last = True
                    break
        finally:
            bar.close()
        return sums, done, last

    def _check_d_wins(self, loss_d: float) -> None:
        self.d_low = self.d_low + 1 if loss_d < D_WINS_LOSS else 0
        if self.d_low >= D_WINS_STEPS:
            self._warn("d_wins", f"the discriminator wins outright in {self.path.name}: D loss under "
                       f"{D_WINS_LOSS} for {D_WINS_STEPS} steps, so G learns nothing. Fix: lower "
                       "--lr (try 1e-4), keep --real-label 0.9, or widen G (--ngf) relative to D "
                       "(--ndf); the last good checkpoint is kept")

    def checkpoint(self, lc: Lifecycle, result: EpochResult) -> None:
        """Samples, the progress strip, curves, metrics, the networks and the card of a finished epoch."""
        from .card import write_card
        from .images import grid, plot_curves, progress_strip, save_png

        epoch, fake, row = result.row["epoch"], result.extra["fake"], result.row
        save_png(grid(fake, cols=8), self.path / "samples" / f"epoch_{epoch:03d}.png", scale=1)
        np.save(self.path / "samples" / f"strip_{epoch:03d}.npy", fake[:self.cfg["strip_samples"]])
        strips = sorted((self.path / "samples").glob("strip_*.npy"))
        progress_strip([np.load(p) for p in strips], [int(p.stem[6:]) for p in strips], self.path / layout.PROGRESS)
        hist = GeneratorRun(self.path, self.cfg, self.state, {}).history()
        plot_curves(hist, self.path / "plots" / "curves.png", title=self.path.name)
        metrics = {k: v for k, v in row.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
        if self.features is not None:
            metrics["frechet_feature_run"] = self.features.name
        lc.write_json(layout.METRICS, metrics)
        self.save_networks()
        write_card(self.path, self.cfg, hist, metrics)

    def epoch_done(self, lc: Lifecycle, result: EpochResult) -> None:
        row = result.row
        self._warn_collapse(row["diversity"])
        if self.progress:
            extra = "".join(f" {k}={row[k]:.3f}" for k in ("frechet", "face_rate") if k in row)
            log.info("epoch %d: loss_d=%.3f loss_g=%.3f D(x)=%.2f D(G(z))=%.2f %.0f img/s%s", row["epoch"],
                     row["loss_d"], row["loss_g"], row["d_x"], row["d_gz"], row["images_per_s"], extra)

    def interrupted(self, lc: Lifecycle) -> None:
        """Save the networks as they are now; the unfinished epoch's images count as seen."""
        self.save_networks()

    def nan_fix(self, lc: Lifecycle) -> str:
        return f"lower --lr (1e-4) and resume: facelab generate train --resume {self.path.name}"

    def resume_command(self, lc: Lifecycle) -> str:
        return f"facelab generate train {self.cfg['data']} --resume {self.path.name}"

    def evaluate(self, lc: Lifecycle) -> None:
        """A GAN is scored every epoch; the end saves the networks once more (the exact resume point)."""
        self.save_networks()

    def card(self, lc: Lifecycle) -> None:
        """The card is rewritten after every epoch (:meth:`checkpoint`)."""

    def result(self, lc: Lifecycle) -> GeneratorRun:
        return GeneratorRun.load(self.path)

    def _warn(self, key: str, msg: str) -> None:
        if key not in self.warned:
            self.warned.add(key)
            warnings.warn(msg, GanWarning, stacklevel=3)

    def _warn_collapse(self, diversity: float) -> None:
        # Early samples are all alike (a near-constant blur) in every healthy run: judge from epoch 3.
        if diversity < COLLAPSE_RATIO and int(self.state.get("epoch", 0)) >= 3:
            self._warn("collapse", f"mode collapse in {self.path.name}: the fixed-noise samples differ "
                       f"{diversity:.0%} as much as real faces do. Fix: lower --lr (1e-4), a smaller "
                       "--batch-size, or restart with another --seed; the last checkpoints are kept")


def _stem(cfg: dict) -> str:
    """An unnamed run's name before its timestamp: ``dcgan64`` or ``dcgan64-Smiling+Male``."""
    return f"dcgan{cfg['size']}" + (f"-{'+'.join(cfg['condition'])}" if cfg["condition"] else "")


def _check_framing(feature_run, ds) -> None:
    """Warn when the feature run was trained on faces framed otherwise than the cache's: its
    Fréchet features and attribute judgements then see unfamiliar crops (the shipped 40-attribute
    model gets Smiling right on 90.8% of real face crops, 83.8% of square ones)."""
    want, have = feature_run.input.get("crop"), ds.meta.get("crop")
    if want and have and want != have:
        warnings.warn(f"the feature run {feature_run.name} was trained on {want} crops, the cache {ds.path} "
                      f"holds {have} crops: its Fréchet distance and attribute agreement will judge faces "
                      f"framed unlike its training. Fix: prepare the cache with --crop {want}", GanWarning,
                      stacklevel=3)


def train_gan(data, *, size: int | None = None, minutes: float | None = None, epochs: int | None = None,
              name: str | None = None, condition: "str | Sequence[str] | None" = None, seed: int = 0,
              resume: "bool | str" = False, feature_run=None, threads: int | None = None,
              progress: bool = True, runs_dir: "str | Path | None" = None, **options) -> GeneratorRun:
    """Train a DCGAN on a prepared cache; the run goes to ``runs/<name>/``.

    Args:
        data: a prepared cache folder (or the source folder it came from, or a ``PreparedDataset``).
        size: 64 or 32 (default: the cache's size, 64 for larger caches is an error to fix by preparing).
        minutes / epochs: when to stop (default 5 epochs when neither is given); both: whichever first.
        name: the run's name (a plain folder name inside the runs folder; default ``dcgan<size>-<timestamp>``).
        condition: attributes to condition on, ``"Smiling,Male"``.
        resume: True (the run named by ``name``) or a run name/path: continue it.
        feature_run: a facelab classifier run whose features score the Fréchet distance (and, for a
            conditional run, attribute agreement) each epoch; None skips those scores.
        threads: torch threads (default: free cores, as `facelab train`).
        runs_dir: the runs folder (default ``runs_root()``).
        options: ``nz, ngf, ndf, batch_size, lr, beta1, real_label, epoch_images, quality_every,
            quality_samples, ac_weight`` (see ``DEFAULTS``; ``ac_weight``: a conditional run's
            auxiliary-classifier loss weight, 0 for the label-plane discriminator).

    Raises:
        DataError: a cache with fewer than 64 training images. ConfigError: bad options, a refused
        ``name`` (a path, ``..``) or one that exists, or a resume whose cache differs in size or
        channels from the run's. RunError: a NaN loss (``status: nan``, the last good checkpoint kept).
        KeyboardInterrupt: after saving (``status: interrupted``), on Ctrl-C.
    """
    from ..data.prepared import PreparedDataset, open_prepared
    from ..train.trainer import default_threads

    unknown = set(options) - set(DEFAULTS)
    if unknown:
        raise ConfigError(f"unknown option(s) {', '.join(sorted(unknown))}", fix=f"use some of: {', '.join(DEFAULTS)}")
    ds = data if isinstance(data, PreparedDataset) else open_prepared(data)
    torch.set_num_threads(threads or default_threads())
    if resume:
        lc, cfg = _resumed(ds, name if resume is True else resume, epochs, minutes, runs_dir)
        epochs, minutes = cfg.get("epochs"), cfg.get("minutes")
    else:
        epochs = 5 if epochs is None and minutes is None else epochs
        cfg = _new_config(ds, size, epochs, minutes, condition, seed, options)
        lc = None
    rows = _training_rows(ds, cfg)
    if feature_run is not None:
        from ..runs.run import Run

        feature_run = Run.load(feature_run)  # a Run comes back as it is; a name or path is opened once
        cfg["feature_run"] = feature_run.name
        _check_framing(feature_run, ds)
    elif cfg.get("feature_run"):
        feature_run = cfg["feature_run"]
    task = {"kind": layout.KIND, "targets": [("+".join(cfg["condition"]) or "faces")], "classes": list(cfg["condition"])}
    input_ = {k: ds.meta.get(k) for k in ("channels", "grey", "crop", "crop_box", "source_size")} | \
        {"size": cfg["size"], "layout": ds.manifest.layout}
    if lc is None:
        lc = Lifecycle.create(name, stem=_stem(cfg), runs_dir=runs_dir)
        lc.start(config=cfg, task=task, files={layout.INPUT: input_})
    else:
        lc.write_config(cfg)  # the epochs/minutes of this resume, the feature run
    gan = GanTask(lc.path, cfg, ds, rows, lc.state, feature_run, progress, epochs=epochs, minutes=minutes)
    return lc.train(gan.restore())


def _new_config(ds, size, epochs, minutes, condition, seed, options) -> dict:
    """A new run's resolved options (checked before any folder exists)."""
    size = int(size or (64 if ds.size >= 64 else ds.size))
    if size not in SIZES:
        raise ConfigError(f"--size {size}: the DCGAN makes 64 or 32 px images", fix="use --size 64 or 32")
    if ds.size < size or ds.size % size:
        raise ConfigError(f"the cache {ds.path} is {ds.size} px; a {size} px GAN needs a cache of {size} px "
                          f"(or a multiple)", path=ds.path, fix=f"run `facelab data prepare SOURCE --size {size}`")
    if (epochs is not None and epochs < 1) or (minutes is not None and minutes <= 0):
        raise ConfigError("--epochs and --minutes must be positive", fix="e.g. --epochs 5 or --minutes 30")
    cfg = {"kind": layout.KIND, "model": "dcgan", "data": str(Path(ds.path).resolve()), "size": size,
           "channels": ds.channels, "grey": ds.channels == 1, "condition": _parse_condition(condition, ds),
           "seed": int(seed), "epochs": epochs, "minutes": minutes, **DEFAULTS, **options,
           "feature_run": None}
    for k in ("nz", "ngf", "ndf", "batch_size", "epoch_images", "quality_samples"):
        if int(cfg[k]) < 1:
            raise ConfigError(f"{k} must be at least 1, not {cfg[k]}", fix=f"see the defaults: {DEFAULTS}")
    return cfg


def _resumed(ds, run, epochs, minutes, runs_dir) -> tuple[Lifecycle, dict]:
    """The lifecycle and config of the generator run ``run`` to resume on ``ds``."""
    if run is None:
        raise ConfigError("--resume needs the run's name", fix="pass --resume NAME (see `facelab runs`)")
    path = GeneratorRun.load(run if runs_dir is None or Path(str(run)).is_dir() else Path(runs_dir) / str(run)).path
    lc = Lifecycle.resume(path)
    cfg = GeneratorRun.load(path).config  # brought to the current format (runs.migrate)
    if int(cfg["channels"]) != ds.channels or ds.size % int(cfg["size"]) or ds.size < int(cfg["size"]):
        raise ConfigError(f"cannot resume {path.name} on {ds.path}: the run is "
                          f"{cfg['size']} px {'grey' if cfg['channels'] == 1 else 'RGB'}, the cache is "
                          f"{ds.size} px {'grey' if ds.channels == 1 else 'RGB'}", path=ds.path,
                          fix=f"resume on the run's own cache ({cfg['data']}) or start a new run")
    if epochs is not None:
        cfg["epochs"] = epochs
    if minutes is not None:
        cfg["minutes"] = minutes
    return lc, cfg


def _training_rows(ds, cfg: dict) -> np.ndarray:
    """The rows a GAN learns from: the training split (every row when the cache has no split)."""
    rows = ds.split("train")
    if len(rows) == 0:
        rows = np.arange(len(ds))
    if len(rows) < max(MIN_IMAGES, int(cfg["batch_size"])):
        raise DataError(f"{ds.path} has {len(rows)} training images: too few to train a GAN (at least "
                        f"{max(MIN_IMAGES, int(cfg['batch_size']))})", path=ds.path,
                        fix="prepare more images (a larger --limit), or lower --batch-size")
    return rows
