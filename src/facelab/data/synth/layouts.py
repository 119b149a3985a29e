"""Writers: synthetic faces on disk in the layouts people download.

Each kind splits into a *plan* (made in the parent: who is in which image, which split) and
*chunks* of images rendered from a per-image seed (``np.random.default_rng([seed, KIND, i])``),
so the files do not depend on how many worker processes drew them.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from .attributes import ATTRIBUTES, EXPRESSIONS, Identity, sample_attributes, sample_identity
from .faces import render_face

LANDMARK_NAMES = ("lefteye_x lefteye_y righteye_x righteye_y nose_x nose_y "
                  "leftmouth_x leftmouth_y rightmouth_x rightmouth_y").split()
USAGES = ("Training", "PublicTest", "PrivateTest")
# Rough FER2013 class balance, with disgust less rare so small sets still hold some.
FER_PRIORS = np.array([0.13, 0.05, 0.13, 0.24, 0.15, 0.10, 0.20])
_KIND_CODE = {"celeba": 1, "fer2013": 2, "folder": 3}
# FER2013 crops are tight: this box of the 178x218 CelebA frame holds brows to chin.
_FER_BOX = (35, 72, 143, 180)


@dataclass
class Plan:
    """What a chunk worker needs: kind, seed, the output root and per-image assignments."""

    kind: str
    seed: int
    root: str
    identities: list[Identity]
    owner: np.ndarray          # identity index per image (celeba, folder)
    names: list[str]           # relative file name per image (celeba, folder, fer folders)
    labels: np.ndarray         # emotion per image (fer2013); unused otherwise
    split: np.ndarray | None = None   # celeba partition / fer Usage index per image
    quality: tuple[int, int] = (70, 96)
    fer_form: str = "csv"


def _rng(plan: Plan, i: int) -> np.random.Generator:
    return np.random.default_rng([plan.seed, _KIND_CODE[plan.kind], i])


def split_counts(n: int) -> tuple[int, int, int]:
    """~80/10/10 train/val/test counts that add up to ``n`` (at least one test row when n>=3)."""
    n_val = int(round(n * 0.1))
    n_test = int(round(n * 0.1))
    if n >= 3:
        n_val, n_test = max(n_val, 1), max(n_test, 1)
    return n - n_val - n_test, n_val, n_test


def _imwrite(path: Path, rgb: np.ndarray, quality: int) -> None:
    ok, buf = cv2.imencode(".jpg", rgb[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:  # pragma: no cover - OpenCV only fails on invalid arrays
        raise RuntimeError(f"could not encode {path}")
    path.write_bytes(buf.tobytes())


def render_chunk(plan: Plan, start: int, stop: int):
    """Render and write images ``start..stop-1``; return what the label files need, compactly.

    Returns:
        celeba: (labels int8 (m, 40) of -1/1, landmarks int32 (m, 10)); fer2013 csv: the csv lines;
        otherwise None.
    """
    root = Path(plan.root)
    m = stop - start
    labels = np.empty((m, len(ATTRIBUTES)), np.int8) if plan.kind == "celeba" else None
    marks = np.empty((m, 10), np.int32) if plan.kind == "celeba" else None
    lines = []
    for j, i in enumerate(range(start, stop)):
        rng = _rng(plan, i)
        q = int(rng.integers(*plan.quality))
        if plan.kind == "celeba":
            ident = plan.identities[plan.owner[i]]
            attrs = sample_attributes(ident, rng)
            img, lm = render_face(attrs, rng=rng, look=ident.look)
            _imwrite(root / "img_align_celeba" / plan.names[i], img, q)
            labels[j] = [attrs[a] for a in ATTRIBUTES]
            marks[j] = [int(round(v)) for k in ("lefteye", "righteye", "nose", "leftmouth", "rightmouth")
                        for v in lm[k]]
        elif plan.kind == "folder":
            ident = plan.identities[plan.owner[i]]
            attrs = sample_attributes(ident, rng)
            img, _ = render_face(attrs, rng=rng, look=ident.look, size=(250, 250), framing="photo")
            _imwrite(root / plan.names[i], img, q)
        else:
            ident = sample_identity(i, rng)
            attrs = sample_attributes(ident, rng)
            attrs["Blurry"] = -1
            img, _ = render_face(attrs, rng=rng, look=ident.look, expression=EXPRESSIONS[plan.labels[i]])
            x0, y0, x1, y1 = _FER_BOX
            grey = cv2.cvtColor(img[y0:y1, x0:x1], cv2.COLOR_RGB2GRAY)
            grey = cv2.resize(grey, (48, 48), interpolation=cv2.INTER_AREA)
            if plan.fer_form == "folders":
                _imwrite(root / plan.names[i], np.repeat(grey[..., None], 3, 2), q)
            else:
                px = " ".join(map(str, grey.ravel().tolist()))
                lines.append(f"{plan.labels[i]},{px},{USAGES[plan.split[i]]}\n")
    if plan.kind == "celeba":
        return labels, marks
    return lines if plan.kind == "fer2013" and plan.fer_form == "csv" else None


def write_text_atomic(path: Path, text: str) -> None:
    """Write via a temporary file and rename, so an interrupted run leaves no half label file."""
    tmp = path.with_name(path.name + ".part")
    tmp.write_text(text)
    os.replace(tmp, path)


def plan_celeba(root: Path, n: int, seed: int, identities: int | None) -> Plan:
    """Identities are disjoint between splits, and train images come first, as in CelebA."""
    k = identities or max(6, n // 20)
    rng = np.random.default_rng([seed, 100])
    idents = [sample_identity(j, np.random.default_rng([seed, 101, j])) for j in range(k)]
    counts = split_counts(n)
    kc = split_counts(k) if k >= 3 else (k, 0, 0)
    kc = tuple(max(c, 1) if counts[s] else 0 for s, c in enumerate(kc))
    owner, start = [], 0
    for s in range(3):
        pool = np.arange(start, start + kc[s]) % k
        start += kc[s]
        owner.extend(rng.choice(pool, counts[s]) if counts[s] else [])
    names = [f"{i + 1:06d}.jpg" for i in range(n)]
    return Plan("celeba", seed, str(root), idents, np.array(owner, int), names, np.zeros(0, int),
                split=np.repeat([0, 1, 2], counts))


def write_celeba(plan: Plan, labels: np.ndarray, marks: np.ndarray) -> None:
    """The four official label files, from the chunks' compact arrays."""
    root = Path(plan.root)
    n = len(labels)
    attr = [str(n), " ".join(ATTRIBUTES)]
    attr += [name + "".join(f" {v:2d}" for v in row.tolist()) for name, row in zip(plan.names, labels)]
    write_text_atomic(root / "list_attr_celeba.txt", "\n".join(attr) + "\n")
    write_text_atomic(root / "list_eval_partition.txt",
                      "".join(f"{name} {s}\n" for name, s in zip(plan.names, plan.split)))
    # Identity numbers are shuffled like CelebA's (not 1..k in order of appearance).
    ids = np.random.default_rng([plan.seed, 102]).permutation(len(plan.identities)) + 1
    write_text_atomic(root / "identity_CelebA.txt",
                      "".join(f"{name} {ids[o]}\n" for name, o in zip(plan.names, plan.owner)))
    lines = [str(n), " ".join(LANDMARK_NAMES)]
    lines += [f"{name} " + " ".join(f"{v:4d}" for v in row.tolist()) for name, row in zip(plan.names, marks)]
    write_text_atomic(root / "list_landmarks_align_celeba.txt", "\n".join(lines) + "\n")


def plan_fer(root: Path, n: int, seed: int, fer_form: str) -> Plan:
    """Rows ordered Training, PublicTest, PrivateTest as in fer2013.csv; splits stratified by class."""
    rng = np.random.default_rng([seed, 200])
    drawn = rng.choice(7, n, p=FER_PRIORS / FER_PRIORS.sum())
    # Stratify with exact split sizes: walk the draws grouped by class and give each a point of the
    # golden-ratio sequence (evenly spread over any run); the lowest points go to Training.
    by_class = np.lexsort((rng.random(n), drawn))
    points = (np.arange(n) * 0.6180339887498949) % 1.0
    usage_sorted = np.empty(n, int)
    usage_sorted[np.argsort(points, kind="stable")] = np.repeat([0, 1, 2], split_counts(n))
    usage_of = np.empty(n, int)
    usage_of[by_class] = usage_sorted
    order = np.lexsort((rng.random(n), usage_of))  # by split, shuffled within each
    labels, usage = drawn[order], usage_of[order]
    names = []
    counter: dict[tuple[str, int], int] = {}
    for i in range(n):
        part = "train" if usage[i] == 0 else "test"
        key = (part, int(labels[i]))
        counter[key] = counter.get(key, 0) + 1
        prefix = "Training" if usage[i] == 0 else USAGES[usage[i]]
        names.append(f"{part}/{EXPRESSIONS[labels[i]]}/{prefix}_{i + 1:08d}.jpg")
    return Plan("fer2013", seed, str(root), [], np.zeros(0, int), names, labels, split=usage,
                fer_form=fer_form)


def person_names(k: int, seed: int) -> list[str]:
    """``k`` distinct LFW-style names (``First_Last``), deterministic by seed."""
    first = ["Ada", "Ben", "Chen", "Dana", "Emil", "Fatima", "Goran", "Hana", "Ivan", "Jade", "Kofi",
             "Lena", "Marco", "Nadia", "Omar", "Priya", "Quinn", "Rosa", "Sven", "Tariq", "Uma",
             "Vera", "Wei", "Ximena", "Yusuf", "Zoe"]
    last = ["Alvarez", "Brown", "Costa", "Dubois", "Eriksen", "Fischer", "Garcia", "Haddad", "Ito",
            "Jensen", "Kowalski", "Lopez", "Mensah", "Novak", "Okafor", "Petrov", "Rossi", "Silva",
            "Tanaka", "Usman", "Varga", "Weber", "Yilmaz", "Zhang"]
    rng = np.random.default_rng([seed, 300])
    combos = [f"{a}_{b}" for a in first for b in last]
    if k > len(combos):
        combos += [f"Person_{j:05d}" for j in range(k - len(combos))]
    return sorted(rng.choice(combos, k, replace=False).tolist())


def plan_folder(root: Path, n: int, seed: int, identities: int | None) -> Plan:
    k = identities or max(2, min(10, n // 10))
    names_p = person_names(k, seed)
    idents = [sample_identity(j, np.random.default_rng([seed, 301, j])) for j in range(k)]
    owner = np.arange(n) % k  # as even as possible
    count = [0] * k
    names = []
    for o in owner:
        count[o] += 1
        names.append(f"{names_p[o]}/{names_p[o]}_{count[o]:04d}.jpg")
    return Plan("folder", seed, str(root), idents, owner, names, np.zeros(0, int))
