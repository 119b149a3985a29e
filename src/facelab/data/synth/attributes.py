"""What a synthetic face is: the 40 CelebA attribute names, identities and their looks.

An *identity* fixes what a person keeps from photo to photo (sex, age, skin, hair, face shape, the
shape of eyes, nose and lips). A *photo* adds what changes (smile, open mouth, glasses, hat,
make-up, jewellery, blur). Labels are derived from what is drawn, so they are truthful; the few
attributes the renderer does not draw (:data:`UNRENDERED`) are always -1.

Probabilities are loosely modelled on CelebA's frequencies and correlations (male ↔ beard and no
lipstick; grey hair ↔ not young; hats hide bangs; heavy make-up ↔ lipstick), with rare
attributes made a little more common so that small synthetic sets still hold positives.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: The 40 official CelebA attribute names, in the official order.
ATTRIBUTES: tuple[str, ...] = (
    "5_o_Clock_Shadow", "Arched_Eyebrows", "Attractive", "Bags_Under_Eyes", "Bald", "Bangs",
    "Big_Lips", "Big_Nose", "Black_Hair", "Blond_Hair", "Blurry", "Brown_Hair", "Bushy_Eyebrows",
    "Chubby", "Double_Chin", "Eyeglasses", "Goatee", "Gray_Hair", "Heavy_Makeup",
    "High_Cheekbones", "Male", "Mouth_Slightly_Open", "Mustache", "Narrow_Eyes", "No_Beard",
    "Oval_Face", "Pale_Skin", "Pointy_Nose", "Receding_Hairline", "Rosy_Cheeks", "Sideburns",
    "Smiling", "Straight_Hair", "Wavy_Hair", "Wearing_Earrings", "Wearing_Hat",
    "Wearing_Lipstick", "Wearing_Necklace", "Wearing_Necktie", "Young",
)

#: Attributes the renderer does not draw (subjective or too subtle): always labelled -1.
UNRENDERED: frozenset[str] = frozenset({"Attractive", "High_Cheekbones", "Oval_Face", "Pointy_Nose"})

#: Attributes drawn visibly and labelled from the drawing.
RENDERED: tuple[str, ...] = tuple(a for a in ATTRIBUTES if a not in UNRENDERED)

#: FER2013 expressions in the order of the csv's emotion codes.
EXPRESSIONS: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")

HAIR_COLOURS: dict[str, tuple[int, int, int]] = {
    "black": (28, 24, 22),
    "brown": (96, 62, 38),
    "blond": (214, 178, 112),
    "gray": (170, 168, 164),
    "red": (150, 64, 32),  # drawn but not one of the four labelled colours
}

# Skin tones (RGB). Pale tones are kept clearly lighter than the others so Pale_Skin is visible.
_SKIN = np.array([[236, 200, 176], [222, 178, 150], [198, 150, 118], [170, 120, 88],
                  [132, 90, 62], [96, 64, 44]], dtype=np.float32)
_PALE = np.array([[250, 228, 216], [246, 222, 206]], dtype=np.float32)

_IDENTITY_FLAGS = ("Male", "Young", "Pale_Skin", "Bald", "Receding_Hairline", "Chubby",
                   "Double_Chin", "Big_Nose", "Big_Lips", "Narrow_Eyes", "Bushy_Eyebrows",
                   "Arched_Eyebrows", "Straight_Hair", "Wavy_Hair")


@dataclass(frozen=True)
class Look:
    """The continuous parameters of one person's face (pixels in the 178x218 CelebA frame)."""

    skin: tuple[float, float, float]
    hair_rgb: tuple[float, float, float]
    hair_colour: str           # a key of HAIR_COLOURS
    hair_long: bool
    face_a: float              # half width of the face oval
    face_b: float              # half height of the face oval
    eye_w: float
    eye_h: float
    iris_rgb: tuple[float, float, float]
    brow_thick: int
    brow_arch: float
    nose_w: float
    lip: float                 # lip thickness
    mouth_hw: float            # half width of the mouth
    beard: str                 # "none", "full", "goatee"
    mustache: bool
    sideburns: bool
    forehead: float = 12.0     # how much taller the upper half of the head is than the lower


@dataclass(frozen=True)
class Identity:
    """One synthetic person: identity-level attribute flags and the look that draws them."""

    index: int
    flags: dict[str, bool]
    look: Look


def _b(attrs: dict, name: str) -> bool:
    v = attrs.get(name, False)
    return bool(v) and v != -1


def sample_look(attrs: dict, rng: np.random.Generator) -> Look:
    """Sample continuous face parameters consistent with the given attribute flags.

    Args:
        attrs: attribute name → 1/True (present) or -1/0/False (absent); missing means absent.
        rng: numpy random generator.

    Returns:
        A :class:`Look`.

    Example:
        >>> look = sample_look({"Male": 1, "Black_Hair": 1}, np.random.default_rng(0))
        >>> look.hair_colour
        'black'
    """
    male = _b(attrs, "Male")
    if _b(attrs, "Pale_Skin"):
        skin = _PALE[rng.integers(len(_PALE))] + rng.normal(0, 3, 3)
    else:
        skin = _SKIN[rng.integers(len(_SKIN))] + rng.normal(0, 8, 3)
    hair = next((c for c, a in (("black", "Black_Hair"), ("blond", "Blond_Hair"),
                                ("brown", "Brown_Hair"), ("gray", "Gray_Hair")) if _b(attrs, a)), "red")
    hair_rgb = np.array(HAIR_COLOURS[hair], np.float32) + rng.normal(0, 6, 3)
    chubby = _b(attrs, "Chubby")
    face_a = rng.uniform(45, 50) + (6 if chubby else 0) + (1.5 if male else 0)
    face_b = rng.uniform(64, 70) + (2 if chubby else 0)
    eye_h = rng.uniform(2.0, 2.6) if _b(attrs, "Narrow_Eyes") else rng.uniform(3.8, 5.0)
    iris = [(60, 40, 25), (90, 60, 30), (60, 90, 120), (70, 100, 60), (30, 25, 20)][rng.integers(5)]
    beard = "none"
    if _b(attrs, "Goatee"):
        beard = "goatee"
    elif male and not _b(attrs, "No_Beard") and "No_Beard" in attrs:
        beard = "full"
    return Look(
        skin=tuple(np.clip(skin, 40, 255).tolist()),
        hair_rgb=tuple(np.clip(hair_rgb, 5, 250).tolist()),
        hair_colour=hair,
        hair_long=bool(rng.random() < (0.15 if male else 0.8)),
        face_a=float(face_a), face_b=float(face_b),
        eye_w=float(rng.uniform(8.5, 10.0)), eye_h=float(eye_h),
        iris_rgb=tuple(float(c) for c in iris),
        brow_thick=int(rng.integers(5, 7)) if _b(attrs, "Bushy_Eyebrows") else int(rng.integers(2, 4)),
        brow_arch=float(rng.uniform(4.5, 6.0)) if _b(attrs, "Arched_Eyebrows") else float(rng.uniform(0.5, 1.5)),
        nose_w=float(rng.uniform(9.5, 11.5)) if _b(attrs, "Big_Nose") else float(rng.uniform(6.0, 7.5)),
        lip=float(rng.uniform(5.5, 7.0)) if _b(attrs, "Big_Lips") else float(rng.uniform(2.8, 4.0)),
        mouth_hw=float(rng.uniform(14, 17)),
        beard=beard,
        mustache=_b(attrs, "Mustache"),
        sideburns=_b(attrs, "Sideburns"),
        forehead=float(rng.uniform(9, 15)),
    )


def sample_identity(index: int, rng: np.random.Generator) -> Identity:
    """Sample one person: identity-level flags (sex, age, hair, face shape) and their look.

    Example:
        >>> ident = sample_identity(0, np.random.default_rng(0))
        >>> sorted(ident.flags)[:3]
        ['Arched_Eyebrows', 'Bald', 'Big_Lips']
    """
    r = rng.random
    male = r() < 0.42
    young = r() < 0.78
    f: dict[str, bool] = {"Male": male, "Young": young, "Pale_Skin": r() < 0.08}
    f["Bald"] = male and r() < (0.04 if young else 0.2)
    f["Receding_Hairline"] = (not f["Bald"]) and r() < (0.05 if young else 0.3) * (1.5 if male else 0.5)
    if f["Bald"]:
        colour = None
    elif not young and r() < 0.22:
        colour = "Gray_Hair"
    else:
        u = r()
        blond = 0.28 if not male else 0.06
        colour = ("Black_Hair" if u < 0.3 else "Brown_Hair" if u < 0.58
                  else "Blond_Hair" if u < 0.58 + blond else "Gray_Hair" if (u < 0.6 + blond and not young)
                  else None)
    for c in ("Black_Hair", "Blond_Hair", "Brown_Hair", "Gray_Hair"):
        f[c] = colour == c
    f["Chubby"] = r() < (0.08 if young else 0.18)
    f["Double_Chin"] = f["Chubby"] and r() < 0.5
    f["Big_Nose"] = r() < (0.3 if male else 0.15)
    f["Big_Lips"] = r() < 0.3
    f["Narrow_Eyes"] = r() < 0.12
    f["Bushy_Eyebrows"] = r() < (0.25 if male else 0.08)
    f["Arched_Eyebrows"] = (not f["Bushy_Eyebrows"]) and r() < (0.08 if male else 0.4)
    style = "none" if f["Bald"] else ("straight" if r() < 0.22 else "wavy" if r() < 0.42 else "plain")
    f["Straight_Hair"] = style == "straight"
    f["Wavy_Hair"] = style == "wavy"
    f["Goatee"] = male and r() < 0.12
    f["No_Beard"] = not (f["Goatee"] or (male and r() < 0.3))
    f["Mustache"] = male and not f["No_Beard"] and r() < 0.5
    f["Sideburns"] = male and not f["Bald"] and r() < 0.15
    look = sample_look(f, rng)
    return Identity(index=index, flags=f, look=look)


def sample_attributes(identity: Identity, rng: np.random.Generator) -> dict[str, int]:
    """The 40 labels (1/-1) of one photo of ``identity``: its flags plus per-photo attributes.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> attrs = sample_attributes(sample_identity(0, rng), rng)
        >>> len(attrs), attrs["Attractive"]
        (40, -1)
    """
    r = rng.random
    f = dict(identity.flags)
    male = f["Male"]
    f["Smiling"] = r() < 0.48
    f["Mouth_Slightly_Open"] = r() < (0.7 if f["Smiling"] else 0.25)
    f["Eyeglasses"] = r() < 0.12
    f["Wearing_Hat"] = r() < 0.1
    # A hat hides the fringe; bald heads have none.
    f["Bangs"] = not f["Bald"] and not f["Wearing_Hat"] and not f["Receding_Hairline"] \
        and r() < (0.1 if male else 0.3)
    f["Wearing_Lipstick"] = (not male) and r() < 0.8
    f["Heavy_Makeup"] = f["Wearing_Lipstick"] and r() < 0.8
    f["Rosy_Cheeks"] = r() < (0.02 if male else 0.1)
    f["Wearing_Earrings"] = r() < (0.03 if male else 0.3)
    f["Wearing_Necklace"] = r() < (0.02 if male else 0.2)
    f["Wearing_Necktie"] = male and r() < 0.15
    f["5_o_Clock_Shadow"] = male and f["No_Beard"] and r() < 0.35
    f["Bags_Under_Eyes"] = r() < (0.12 if f["Young"] else 0.45)
    f["Blurry"] = r() < 0.05
    return {a: (1 if (a not in UNRENDERED and f.get(a, False)) else -1) for a in ATTRIBUTES}
