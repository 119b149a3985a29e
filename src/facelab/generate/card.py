"""The model card of a generator run (``card.md``): data, recipe, progress, scores and their limits."""
from __future__ import annotations

from pathlib import Path


def _fmt(v) -> str:
    return "-" if v is None or v != v else (f"{v:.4g}" if isinstance(v, float) else str(v))


def write_card(path: Path, cfg: dict, history, metrics: dict) -> Path:
    """Write ``card.md`` into the run folder ``path`` (rewritten after every epoch)."""
    cond = ", ".join(cfg.get("condition") or []) or "none (unconditional)"
    if cfg.get("condition"):
        ac = float(cfg["ac_weight"])
        cond += (f" (AC-GAN: D's auxiliary classifier of the attributes, loss weight {ac:g})" if ac
                 else " (the attributes as D's constant input planes)")
    lines = [
        f"# {path.name}: a DCGAN that makes {cfg['size']}×{cfg['size']} "
        f"{'grey' if cfg['channels'] == 1 else 'RGB'} faces",
        "",
        f"- **Data**: `{cfg['data']}` (the prepared cache's training split)",
        f"- **Conditioned on**: {cond}",
        f"- **Recipe**: DCGAN (Radford et al. 2016, as in PyTorch's tutorial), z={cfg['nz']}, "
        f"G width {cfg['ngf']}, D width {cfg['ndf']}, batch {cfg['batch_size']}, Adam lr {cfg['lr']} "
        f"β1 {cfg['beta1']}, BCE, real label {cfg['real_label']}, seed {cfg['seed']}",
        f"- **Trained**: {len(history)} epochs of up to {cfg['epoch_images']} images, "
        f"{_fmt(metrics.get('images'))} images in all",
        "",
        "## Last epoch",
        "",
        "| figure | value |",
        "|---|---|",
    ]
    for k, v in metrics.items():
        lines.append(f"| {k} | {_fmt(v)} |")
    lines += [
        "",
        "## How to read the scores",
        "",
        "- `frechet` is a Fréchet distance in the feature space of the facelab classifier run "
        f"`{cfg.get('feature_run') or '(none given)'}`. **It is not the Inception FID**: it is comparable "
        "only between generators scored with the same feature run.",
        "- `face_rate` is the share of 1 in N samples where the Haar face detector finds a face; "
        "`real_face_rate` is the same for real faces of the cache — the ceiling.",
        "- `diversity` is the mean pixel distance between fixed-noise samples as a share of that between "
        "real faces; near 0 means mode collapse.",
        "",
        "## Limits",
        "",
        "- Faces are as varied as the training data (CelebA: mostly young, light-skinned celebrities) and "
        "no more: do not use samples as if they represented people in general.",
        "- Generated faces are synthetic; do not present them as photographs of real people.",
        "",
        "Files: `samples/epoch_NNN.png` (fixed noise each epoch), `progress.png` (one row per epoch), "
        "`plots/curves.png`, `history.csv`.",
    ]
    p = path / "card.md"
    p.write_text("\n".join(lines) + "\n")
    return p
