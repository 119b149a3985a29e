"""The GAN's part of a generator run: :class:`GanTask`, plugged into the run
:class:`~facelab.runs.lifecycle.Lifecycle` by :func:`facelab.generate.train.train_gan`.

One epoch is ``epoch_images`` images of D/G steps (one D step then one G step per batch, the
PyTorch tutorial's recipe), then its scores (diversity of fixed-noise samples, the face rate and,
with a feature run, the Fréchet distance); the checkpoint after it holds both networks, both
optimisers, the RNG states and the shuffle position (an exact resume), a sample grid, the
progress strip, the curves, the metrics and the card. A discriminator that wins outright or a
collapsed generator gets a :class:`GanWarning` that says what to change.

Example:
    >>> import torch
    >>> opt = torch.optim.Adam(torch.nn.Linear(2, 1).parameters())
    >>> optim_tensors(opt)
    {}
"""
from __future__ import annotations

import logging
import math
import time
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import RunError
from ..runs.lifecycle import EpochResult, Lifecycle, NonFiniteLoss
from . import run as layout
from .dcgan import build, from_uint8, to_uint8
from .run import GeneratorRun

log = logging.getLogger(__name__)

D_WINS_LOSS, D_WINS_STEPS = 0.05, 200    # D loss under this for this many steps in a row: D has won
COLLAPSE_RATIO = 0.25                    # sample spread under this share of the real spread: collapse


class GanWarning(UserWarning):
    """Training is going wrong in a way the user can fix (D wins outright, mode collapse)."""


def optim_tensors(opt: torch.optim.Optimizer) -> dict[str, torch.Tensor]:
    out = {}
    for idx, st in opt.state_dict()["state"].items():
        for k, v in st.items():
            out[f"{idx}.{k}"] = (v if isinstance(v, torch.Tensor) else torch.tensor(v)).detach().contiguous()
    return out


def load_optim(opt: torch.optim.Optimizer, tensors: dict[str, torch.Tensor]) -> None:
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
            load_optim(self.opt_g, load_file(str(self.path / layout.OG_FILE)))
            load_optim(self.opt_d, load_file(str(self.path / layout.OD_FILE)))
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
        save_weights(self.path / layout.OG_FILE, optim_tensors(self.opt_g))
        save_weights(self.path / layout.OD_FILE, optim_tensors(self.opt_d))
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
                   disable=None if self.progress else True, leave=False, unit="step")
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
