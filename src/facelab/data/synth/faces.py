"""Drawing one synthetic face with OpenCV: background, head, features, accessories, lighting.

Everything is drawn on a 256x300 canvas in which the 178x218 CelebA aligned frame sits at
offset (39, 19); a final similarity warp maps the canvas to the output with pose/scale/position
jitter, and the true landmarks go through the same warp. Faces keep the contrasts a Haar cascade
looks for: dark eye sockets, brows and mouth, a lighter nose bridge and cheeks, a shaded skin oval
against a background of different brightness.
"""
from __future__ import annotations

import functools
import math

import cv2
import numpy as np

from ...errors import ConfigError
from .attributes import EXPRESSIONS, Look, sample_look

CANVAS_W, CANVAS_H = 256, 300           # room below the chin for the 250x250 photo framing
OX, OY = 39.0, 19.0                      # CelebA frame origin on the canvas
CX = 88.5 + OX                           # face centre line
EYE_Y = 111.0 + OY                       # eye line
EYE_DX = 19.5                            # half the distance between the eye centres
NOSE_Y = 134.0 + OY
MOUTH_Y = 152.0 + OY
_SHIFT = 4                               # OpenCV fixed-point bits for sub-pixel drawing
_S = 1 << _SHIFT
_AA = cv2.LINE_AA

# How an expression moves the features: brow inner/outer raise (px, up is +), eye opening factor,
# mouth curve (corners up +), mouth opening (px), mouth half-width factor, teeth shown.
_EXPR = {
    "neutral": dict(brow_in=0.0, brow_out=0.0, eye=1.0, curve=0.5, open=0.0, width=1.0, teeth=False),
    "happy": dict(brow_in=0.5, brow_out=0.5, eye=0.8, curve=6.0, open=4.0, width=1.2, teeth=True),
    "sad": dict(brow_in=4.0, brow_out=-2.0, eye=0.85, curve=-4.5, open=0.0, width=0.9, teeth=False),
    "angry": dict(brow_in=-5.0, brow_out=1.0, eye=0.7, curve=-1.5, open=0.0, width=0.85, teeth=False),
    "surprise": dict(brow_in=7.0, brow_out=6.0, eye=1.45, curve=0.0, open=11.0, width=0.65, teeth=False),
    "fear": dict(brow_in=5.0, brow_out=1.5, eye=1.35, curve=-2.0, open=5.0, width=1.15, teeth=True),
    "disgust": dict(brow_in=-3.0, brow_out=-1.0, eye=0.6, curve=-3.0, open=2.0, width=0.95, teeth=True),
}


def _p(x: float, y: float) -> tuple[int, int]:
    return int(round(x * _S)), int(round(y * _S))


def _ell(img, c, axes, color, thick=-1, angle=0.0, a0=0, a1=360):
    cv2.ellipse(img, _p(*c), _p(max(axes[0], 0.5), max(axes[1], 0.5)), angle, a0, a1,
                _col(color), thick, _AA, _SHIFT)


def _poly(img, pts, color, closed=True, thick=-1):
    arr = (np.asarray(pts, np.float64) * _S).round().astype(np.int32).reshape(-1, 1, 2)
    if thick < 0:
        cv2.fillPoly(img, [arr], _col(color), _AA, _SHIFT)
    else:
        cv2.polylines(img, [arr], closed, _col(color), thick, _AA, _SHIFT)


def _col(c) -> tuple[float, float, float]:
    return tuple(float(min(max(v, 0.0), 255.0)) for v in c)


def _mul(c, k: float):
    return tuple(v * k for v in c)


def _blend(img, overlay, alpha: float) -> None:
    cv2.addWeighted(overlay, alpha, img, 1.0 - alpha, 0.0, dst=img)


def _ellipse_pts(c, a, b, t0, t1, n=24):
    t = np.radians(np.linspace(t0, t1, n))
    return np.stack([c[0] + a * np.cos(t), c[1] + b * np.sin(t)], 1)


def _oval(img, c, a, b_up, b_low, color) -> None:
    """A head: two half ellipses, the upper (skull) taller than the lower (jaw)."""
    _ell(img, c, (a, b_up), color, a0=180, a1=360)
    _ell(img, c, (a, b_low), color, a0=0, a1=180)


def _background(rng: np.random.Generator, skin_lum: float) -> np.ndarray:
    # Brightness far from the skin's, so the face oval stands out (as in most real photos).
    lum = rng.uniform(20, max(25, skin_lum - 60)) if (rng.random() < 0.5 or skin_lum > 200) and skin_lum > 85 \
        else rng.uniform(min(skin_lum + 50, 235), 250)
    base = np.clip(lum + rng.normal(0, 25, 3), 0, 255)
    other = np.clip(base + rng.normal(0, 35, 3), 0, 255)
    # A two-colour gradient: resizing a 2-pixel image interpolates it for free.
    pair = np.stack([base, other])[:, None, :] if rng.random() < 0.5 else np.stack([base, other])[None, :, :]
    img = cv2.resize(pair.astype(np.uint8), (CANVAS_W, CANVAS_H), interpolation=cv2.INTER_LINEAR)
    if rng.random() < 0.5:  # blotchy texture: smooth noise upsampled from a few pixels
        k = int(rng.integers(3, 12))
        tex = rng.normal(0, rng.uniform(6, 24), (k, k, 1)) + rng.normal(0, 5, (k, k, 3))  # mostly light/dark
        tex = tex.astype(np.float32)
        tex = cv2.resize(tex, (CANVAS_W, CANVAS_H), interpolation=cv2.INTER_CUBIC)
        img = cv2.add(img, tex, dtype=cv2.CV_8U)
    for _ in range(rng.integers(0, 4)):  # out-of-focus clutter behind the person
        c = np.clip(base + rng.normal(0, 45, 3), 0, 255)
        x, y = rng.uniform(0, CANVAS_W), rng.uniform(0, CANVAS_H)
        if rng.random() < 0.5:
            _ell(img, (x, y), rng.uniform(10, 50, 2), c)
        else:
            w, h = rng.uniform(10, 70, 2)
            _poly(img, [(x, y), (x + w, y), (x + w, y + h), (x, y + h)], c)
    return img


def _hair_back(img, look: Look, f, cx, top, a, rng) -> None:
    hc = look.hair_rgb
    if look.hair_long:
        # Hair falling to the shoulders behind the head, with strands when it has a texture.
        length = MOUTH_Y + 40 + rng.uniform(-6, 14)
        pts = [(cx - a - 10, top + 50), (cx - a - 15, length - 20), (cx - a - 8, length),
               (cx - a + 8, length + 4), (cx + a - 8, length + 4), (cx + a + 8, length),
               (cx + a + 15, length - 20), (cx + a + 10, top + 50)]
        _poly(img, pts, _mul(hc, 0.8))
        if f.get("Straight_Hair") or f.get("Wavy_Hair"):
            for side in (-1, 1):
                for k in range(5):
                    x0 = cx + side * (a + 2 + 2.5 * k)
                    ys = np.linspace(top + 50, length - 4, 10)
                    xs = x0 + (3.0 * np.sin(ys / 4.0 + k) if f.get("Wavy_Hair") else 0 * ys)
                    _poly(img, np.stack([xs, ys], 1), _mul(hc, 0.6 if k % 2 else 1.2), closed=False, thick=1)
    _ell(img, (cx, top + 52), (a + 8, 62), _mul(hc, 0.9))


def _hair_front(img, look, f, cx, top, a, rng) -> None:
    hc = look.hair_rgb
    hairline = OY + (52 if f["Receding_Hairline"] else 66)
    pts = list(_ellipse_pts((cx, top + 52), a + 8, 62, 180, 360, 30))
    if f["Bangs"]:
        # A fringe down to just above the brows.
        fringe_y = EYE_Y - 20
        edge = [(cx + a + 2, fringe_y - 4)]
        for x in np.linspace(cx + a - 2, cx - a + 2, 9):
            edge.append((x, fringe_y + rng.uniform(-2, 2)))
        pts += edge + [(cx - a - 2, fringe_y - 4)]
    elif f["Receding_Hairline"]:
        pts += [(cx + a + 2, hairline + 16), (cx + a - 10, hairline - 4), (cx + 6, hairline + 2),
                (cx - 6, hairline + 2), (cx - a + 10, hairline - 4), (cx - a - 2, hairline + 16)]
    else:
        part = cx + rng.uniform(-12, 12)
        pts += [(cx + a + 3, hairline + 22), (cx + a - 6, hairline + 2), (part + 6, hairline - 2),
                (part, hairline - 6), (part - 6, hairline - 2), (cx - a + 6, hairline + 2),
                (cx - a - 3, hairline + 22)]
    _poly(img, pts, hc)
    # Strands show the texture (straight lines or waves), kept inside the hair's outline.
    if f["Straight_Hair"] or f["Wavy_Hair"]:
        wavy = f["Wavy_Hair"]
        # Only the rows above the brows can hold strands: work on that band.
        y1 = int(EYE_Y)
        band = img[:y1]
        mask = np.zeros(band.shape[:2], np.uint8)
        _poly(mask, pts, (255,))
        ov = band.copy()
        for k in range(14):
            x0 = cx + rng.uniform(-a, a)
            ys = np.linspace(top - 8, EYE_Y - 10, 8)
            xs = x0 + (4.0 * np.sin(ys / 5.0 + k) if wavy else (x0 - cx) * (ys - top) / 120.0)
            _poly(ov, np.stack([xs, ys], 1), _mul(hc, 0.65 if k % 2 else 1.25), closed=False, thick=1)
        np.copyto(band, ov, where=mask[..., None] > 0)


def _mouth(img, cx, my, hw, curve, openness, lip, teeth, lip_rgb, skin) -> tuple:
    t = np.linspace(-1.0, 1.0, 17)
    xs = cx + hw * t
    line = my - curve * t * t
    bump = 1.0 - t * t
    up_edge = line - 0.45 * openness * bump
    lo_edge = line + 0.55 * openness * bump
    upper = up_edge - lip * 0.8 * np.sqrt(bump) - 0.6 * (1 - np.exp(-((t * 4) ** 2)))
    lower = lo_edge + lip * np.power(bump, 0.6)
    _poly(img, np.concatenate([np.stack([xs, upper], 1), np.stack([xs[::-1], lower[::-1]], 1)]), lip_rgb)
    if openness > 0.5:
        _poly(img, np.concatenate([np.stack([xs, up_edge], 1), np.stack([xs[::-1], lo_edge[::-1]], 1)]),
              (45, 18, 22))
        if teeth:
            ty = up_edge + 0.3 * openness * bump
            _poly(img, np.concatenate([np.stack([xs[3:-3], up_edge[3:-3] + 0.3], 1),
                                       np.stack([xs[3:-3][::-1], ty[3:-3][::-1]], 1)]), (235, 232, 222))
    else:
        _poly(img, np.stack([xs, line], 1), _mul(lip_rgb, 0.45), closed=False, thick=1)
    return (xs[0], line[0]), (xs[-1], line[-1])


def render_face(attrs: dict, *, rng: np.random.Generator, size: tuple[int, int] = (178, 218),
                look: Look | None = None, expression: str | None = None,
                framing: str = "aligned") -> tuple[np.ndarray, dict[str, tuple[float, float]]]:
    """Draw one face in memory.

    Args:
        attrs: CelebA attribute name → 1/True (drawn) or -1/0/False; missing names are absent.
        rng: the random generator (pose, lighting, background, noise all come from it).
        size: output (width, height); the CelebA aligned framing is scaled to fit.
        look: the person's fixed look (identity); sampled from ``attrs`` when None.
        expression: a FER2013 expression name (overrides Smiling / Mouth_Slightly_Open).
        framing: "aligned" (CelebA framing, small jitter) or "photo" (smaller face, more jitter).

    Returns:
        (image HxWx3 uint8 RGB, landmarks {"lefteye", "righteye", "nose", "leftmouth",
        "rightmouth"} → (x, y) in output pixels).

    Raises:
        ConfigError: unknown expression or framing, or a size under 16 pixels.

    Example:
        >>> img, lm = render_face({"Smiling": 1, "Male": 1}, rng=np.random.default_rng(0))
        >>> img.shape, round(lm["lefteye"][0])  # doctest: +SKIP
        ((218, 178, 3), 69)
    """
    if len(size) != 2 or min(size) < 16:
        raise ConfigError(f"size must be (width, height) of at least 16 pixels, got {size!r}",
                          fix="pass e.g. size=(178, 218)")
    if framing not in ("aligned", "photo"):
        raise ConfigError(f"unknown framing {framing!r}", fix="use 'aligned' or 'photo'")
    f = {k: bool(v) and v != -1 for k, v in attrs.items()}
    g = lambda k: f.get(k, False)  # noqa: E731
    if look is None:
        look = sample_look(attrs, rng)
    if expression is None:
        ex = dict(_EXPR["happy" if g("Smiling") else "neutral"])
        if g("Smiling"):
            ex["curve"] = rng.uniform(4.0, 7.0)
            ex["open"] = rng.uniform(6.0, 10.0) if g("Mouth_Slightly_Open") else 0.0
            ex["teeth"] = ex["open"] > 0
        else:
            ex["curve"] = rng.uniform(-0.5, 1.0)
            ex["open"] = rng.uniform(4.0, 7.0) if g("Mouth_Slightly_Open") else 0.0
    else:
        if expression not in _EXPR:
            raise ConfigError(f"unknown expression {expression!r}", fix=f"use one of: {', '.join(EXPRESSIONS)}")
        ex = {k: (v * rng.uniform(0.8, 1.2) if isinstance(v, float) else v) for k, v in _EXPR[expression].items()}

    skin = np.array(look.skin)
    yaw = float(np.clip(rng.normal(0, 3.5), -9, 9))  # features slide sideways on a turned head
    cx = CX + yaw * 0.3
    fx = CX + yaw                            # where the features sit
    a, b = look.face_a, look.face_b
    fcy = EYE_Y + 12 + rng.normal(0, 1)      # face oval centre
    bu = b + look.forehead                   # the skull is taller than the jaw
    top = fcy - bu
    lum = float(skin @ [0.299, 0.587, 0.114])
    img = _background(rng, lum)
    clothes = rng.uniform(0, 255, 3)

    # Neck, shoulders and what is worn on them.
    _poly(img, [(cx - 20, fcy + 30), (cx + 20, fcy + 30), (cx + 24, CANVAS_H), (cx - 24, CANVAS_H)], _mul(skin, 0.78))
    _ell(img, (cx, OY + 262), (104, 62), clothes)
    if g("Wearing_Necktie"):
        _poly(img, [(cx - 26, OY + 203), (cx, OY + 218), (cx + 26, OY + 203), (cx + 20, OY + 222),
                    (cx - 20, OY + 222)], (240, 240, 240))
        tie = rng.uniform(20, 200, 3)
        _poly(img, [(cx - 5, OY + 210), (cx + 5, OY + 210), (cx + 8, CANVAS_H), (cx - 8, CANVAS_H)], tie)
    if g("Wearing_Necklace"):
        gold = (230, 200, 90) if rng.random() < 0.6 else (225, 225, 230)
        for x, y in _ellipse_pts((cx, OY + 188), 24, 18, 20, 160, 15):
            _ell(img, (x, y), (1.6, 1.6), gold)

    if not g("Bald"):
        _hair_back(img, look, f, cx, top, a, rng)
    # Ears, then the shaded skin oval: darker rim, lighter centre and cheeks.
    for s in (-1, 1):
        _ell(img, (cx + s * (a - 1), EYE_Y + 12), (6, 12), _mul(skin, 0.85))
    _oval(img, (cx, fcy), a, bu, b, _mul(skin, 0.78))
    _oval(img, (cx + yaw * 0.2, fcy - 2), a * 0.88, bu * 0.9, b * 0.9, _mul(skin, 0.9))
    _oval(img, (fx, fcy - 4), a * 0.7, bu * 0.75, b * 0.75, skin + 8)
    for s in (-1, 1):
        _ell(img, (fx + s * 21, EYE_Y + 17), (10, 8), skin * 1.04 + 14)
    if g("Double_Chin"):
        _ell(img, (cx, fcy + b - 3), (a * 0.55, 9), _mul(skin, 0.85), a0=0, a1=180)
        _ell(img, (cx, fcy + b + 3), (a * 0.45, 6), _mul(skin, 0.65), thick=1, a0=20, a1=160)
    if g("Bald"):
        _ell(img, (cx - 12, top + 18), (14, 8), _mul(skin, 1.12))  # shine on the scalp

    # Facial hair, drawn before the features so lips and nose sit on top.
    hc = np.array(look.hair_rgb) if not g("Gray_Hair") else np.array(look.hair_rgb) * 0.9
    beard_c = np.minimum(hc, skin * 0.55) if hc.mean() > 150 and not g("Gray_Hair") else hc
    if look.beard == "full" and g("Male"):
        pts = list(_ellipse_pts((cx, fcy), a + 1, b + 2, 5, 175, 20))
        pts += [(cx - a + 4, NOSE_Y + 4), (fx - 12, NOSE_Y + 8), (fx + 12, NOSE_Y + 8), (cx + a - 4, NOSE_Y + 4)]
        ov = img.copy()
        _poly(ov, pts, beard_c)
        _blend(img, ov, 0.9)
    if look.beard == "goatee" and g("Male"):
        # Round the sides of the mouth and down over the chin (the lips are drawn on top); the
        # upper lip stays clear, since a moustache is its own attribute.
        chin = fcy + b
        _poly(img, [(fx - 18, MOUTH_Y - 2), (fx - 20, MOUTH_Y + 6), (fx - 13, chin - 4), (fx, chin + 2),
                    (fx + 13, chin - 4), (fx + 20, MOUTH_Y + 6), (fx + 18, MOUTH_Y - 2)], beard_c * 0.8)
    if g("5_o_Clock_Shadow"):
        ov = img.copy()
        pts = list(_ellipse_pts((cx, fcy), a - 1, b - 1, 8, 172, 20)) + [(fx - 14, NOSE_Y + 10), (fx + 14, NOSE_Y + 10)]
        _poly(ov, pts, _mul(skin, 0.45))
        _blend(img, ov, 0.35)
    if look.sideburns and g("Sideburns") and not g("Bald"):
        for s in (-1, 1):
            _poly(img, [(cx + s * (a - 1), EYE_Y - 12), (cx + s * (a - 9), EYE_Y - 12),
                        (cx + s * (a - 8), EYE_Y + 22), (cx + s * (a - 2), EYE_Y + 22)], hc)

    # Eyes: a shadowed socket, white, iris, pupil, lids.
    eye_open = ex["eye"]
    eh = look.eye_h * eye_open
    ew = look.eye_w
    eyes = []
    sclera = 0.65 * np.array([232.0, 230.0, 225.0]) + 0.35 * skin  # in shade, never paper-white
    for s in (-1, 1):
        ex_, ey = fx + s * EYE_DX + rng.normal(0, 0.3), EYE_Y + rng.normal(0, 0.3)
        eyes.append((ex_, ey))
        _ell(img, (ex_, ey - 1), (ew + 6, eh + 7), _mul(skin, 0.68))
        if g("Heavy_Makeup"):
            _ell(img, (ex_, ey - 3), (ew + 3, eh + 3), rng.choice([[110, 60, 120], [60, 80, 130], [90, 60, 50]]))
        _ell(img, (ex_, ey), (ew, eh), sclera)
        gaze = rng.normal(0, 1.2)
        r = min(eh * 1.0, ew * 0.55)
        _ell(img, (ex_ + gaze, ey), (r, r), look.iris_rgb)
        _ell(img, (ex_ + gaze, ey), (r * 0.45, r * 0.45), (10, 10, 10))
        _ell(img, (ex_ + gaze - 1, ey - 1), (0.8, 0.8), (250, 250, 250))
        _ell(img, (ex_, ey), (ew + 0.5, eh + 0.5), (25, 20, 20), thick=2 if g("Heavy_Makeup") else 1, a0=180, a1=360)
        if g("Bags_Under_Eyes"):
            _ell(img, (ex_, ey + eh + 1), (ew * 0.9, 3.5), _mul(skin, 0.6), thick=1, a0=10, a1=170)
    # Brows: inner end, arch, outer end, moved by the expression.
    brow_c = np.minimum(np.array(look.hair_rgb), 90) * 0.8 if not g("Gray_Hair") else np.array(look.hair_rgb) * 0.6
    for s, (ex_, ey) in zip((-1, 1), eyes):
        by = ey - look.eye_h - 9
        asym = rng.normal(0, 0.6)
        inner = (ex_ - s * 9 + (s * 2 if ex["brow_in"] < 0 else 0), by - ex["brow_in"] + asym)
        peak = (ex_ + s * 1, by - look.brow_arch - (ex["brow_in"] + ex["brow_out"]) / 2)
        outer = (ex_ + s * 12, by + 2 - ex["brow_out"])
        _poly(img, [inner, peak, outer], brow_c, closed=False, thick=look.brow_thick)

    # Nose: a lighter bridge, a shadow on one side, dark nostrils.
    nw = look.nose_w
    nx, ny = fx + yaw * 0.3, NOSE_Y + rng.normal(0, 0.5)
    light = 1 if rng.random() < 0.5 else -1
    _poly(img, [(fx, EYE_Y - 4), (nx, ny - 5)], skin * 1.06 + 22, closed=False, thick=4)
    _poly(img, [(fx + light * 5, EYE_Y + 2), (nx + light * (nw - 2), ny - 2)], _mul(skin, 0.8), closed=False, thick=2)
    _ell(img, (nx, ny - 1), (nw * 0.55, 4.5), skin * 1.04 + 12)
    for s in (-1, 1):
        _ell(img, (nx + s * nw * 0.45, ny + 1.5), (2.2, 1.4), _mul(skin, 0.4))
        _ell(img, (nx + s * nw * 0.85, ny - 0.5), (2.5, 4), _mul(skin, 0.75), thick=1, a0=90 - s * 90, a1=270 - s * 90)
    if expression == "disgust":
        for k in (0, 1):
            _poly(img, [(nx - 6, ny - 14 + 3 * k), (nx + 6, ny - 14 + 3 * k)], _mul(skin, 0.7), closed=False, thick=1)

    if look.mustache and g("Mustache"):
        _poly(img, [(fx - 14, MOUTH_Y - 3), (fx - 5, ny + 4), (fx + 5, ny + 4), (fx + 14, MOUTH_Y - 3),
                    (fx, MOUTH_Y - 6)], beard_c)
    if not g("Young"):  # wrinkles: forehead lines, nasolabial folds, crow's feet
        wr = _mul(skin, 0.7)
        for k in range(2):
            y = EYE_Y - 30 - 5 * k
            _poly(img, _ellipse_pts((fx, y + 20), 18, 20, 240, 300, 8), wr, closed=False, thick=1)
        for s in (-1, 1):
            _poly(img, [(nx + s * (nw + 2), ny), (fx + s * (look.mouth_hw + 3), MOUTH_Y + 4)], wr, closed=False, thick=1)
            ex_, ey = eyes[(s + 1) // 2]
            for d in (-3, 0, 3):
                _poly(img, [(ex_ + s * (ew + 3), ey + d * 0.6), (ex_ + s * (ew + 7), ey + d)], wr, closed=False, thick=1)
    if g("Rosy_Cheeks") or g("Heavy_Makeup"):
        ov = img.copy()
        for s in (-1, 1):
            _ell(ov, (fx + s * 24, EYE_Y + 22), (9, 7), (235, 100, 110))
        _blend(img, ov, 0.45 if g("Rosy_Cheeks") else 0.2)

    # Mouth: lips (lipstick or skin-dark), opening, teeth.
    lip_rgb = rng.choice([[200, 30, 50], [170, 20, 60], [215, 60, 80]]) if g("Wearing_Lipstick") \
        else skin * np.array([0.78, 0.55, 0.55])
    mx = fx + yaw * 0.2
    lm_l, lm_r = _mouth(img, mx, MOUTH_Y + rng.normal(0, 0.5), look.mouth_hw * ex["width"], ex["curve"],
                        ex["open"], look.lip, ex["teeth"], lip_rgb, skin)
    if expression == "disgust":  # one corner pulled up
        _poly(img, [lm_r, (lm_r[0] + 3, lm_r[1] - 4)], _mul(lip_rgb, 0.6), closed=False, thick=2)

    # Earrings, hair in front, hat, glasses.
    if g("Wearing_Earrings"):
        metal = (235, 205, 90) if rng.random() < 0.6 else (230, 230, 235)
        for s in (-1, 1):
            ex0 = cx + s * (a + 1)
            _ell(img, (ex0, EYE_Y + 27), (2.5, 2.5), metal)
            if rng.random() < 0.5:
                _poly(img, [(ex0, EYE_Y + 27), (ex0, EYE_Y + 37)], metal, closed=False, thick=1)
                _ell(img, (ex0, EYE_Y + 38), (2.5, 3.5), metal)
    if not g("Bald"):
        hf = dict(f)
        for k in ("Bangs", "Receding_Hairline", "Straight_Hair", "Wavy_Hair"):
            hf.setdefault(k, False)
        _hair_front(img, look, hf, cx, top, a, rng)
    if g("Wearing_Hat"):
        hat = rng.uniform(0, 255, 3)
        style = rng.choice(["brim", "cap", "beanie"])
        brim_y = OY + rng.uniform(62, 72)
        if style == "brim":
            _ell(img, (cx, brim_y), (a + 8, 48), hat, a0=180, a1=360)
            _ell(img, (cx, brim_y), (a + 24 + rng.uniform(0, 10), 7), _mul(hat, 0.8))
            _poly(img, [(cx - a - 8, brim_y - 10), (cx + a + 8, brim_y - 10)], _mul(hat, 0.55), closed=False, thick=4)
        elif style == "cap":  # a dome and a visor seen from the front, shading the forehead
            _ell(img, (cx, brim_y), (a + 6, 44), hat, a0=180, a1=360)
            _ell(img, (fx, brim_y + 2), (a * 0.8, 9), _mul(hat, 0.7), a0=0, a1=180)
            _poly(img, [(cx - a - 6, brim_y), (cx + a + 6, brim_y)], _mul(hat, 0.5), closed=False, thick=2)
        else:  # a knitted beanie pulled down, with a folded band
            _ell(img, (cx, brim_y + 4), (a + 7, 46), hat, a0=180, a1=360)
            _poly(img, [(cx - a - 7, brim_y - 8), (cx + a + 7, brim_y - 8), (cx + a + 7, brim_y + 4),
                        (cx - a - 7, brim_y + 4)], _mul(hat, 0.8))
            for x in np.arange(cx - a, cx + a, 5):
                _poly(img, [(x, brim_y - 7), (x, brim_y + 3)], _mul(hat, 0.6), closed=False, thick=1)
    if g("Eyeglasses"):
        frame = (20, 20, 20) if rng.random() < 0.7 else rng.uniform(0, 160, 3)
        sun = rng.random() < 0.2
        round_ = rng.random() < 0.4
        th = int(rng.integers(2, 4))
        for s, (ex_, ey) in zip((-1, 1), eyes):
            w, h = ew + 5, 8.5
            if sun:
                _ell(img, (ex_, ey), (w, h), (25, 25, 30)) if round_ else \
                    _poly(img, [(ex_ - w, ey - h), (ex_ + w, ey - h), (ex_ + w, ey + h), (ex_ - w, ey + h)], (25, 25, 30))
            if round_:
                _ell(img, (ex_, ey), (w, h), frame, thick=th)
            else:
                _poly(img, [(ex_ - w, ey - h), (ex_ + w, ey - h), (ex_ + w, ey + h), (ex_ - w, ey + h)], frame, thick=th)
            _poly(img, [(ex_ + s * w, ey - 3), (cx + s * (a + 1), ey - 1)], frame, closed=False, thick=th)
        _poly(img, [(eyes[0][0] + ew + 5, eyes[0][1] - 2), (fx, eyes[0][1] - 4), (eyes[1][0] - ew - 5, eyes[1][1] - 2)],
              frame, closed=False, thick=th)

    lm = {"lefteye": eyes[0], "righteye": eyes[1], "nose": (nx, ny), "leftmouth": lm_l, "rightmouth": lm_r}
    return _finish(img, lm, rng, size, framing, blurry=g("Blurry"))


def _finish(img, lm, rng, size, framing, blurry):
    """Warp to the output framing with jitter, then lighting, blur, noise."""
    w, h = size
    if framing == "aligned":
        s0 = min(w / 178.0, h / 218.0)
        ang, sc, sh = np.clip(rng.normal(0, 2.5), -6, 6), rng.uniform(0.95, 1.05), np.clip(rng.normal(0, 1.6, 2), -4, 4)
    else:  # a looser photo: smaller face, more tilt and offset (like LFW's 250x250)
        s0 = min(w / 178.0, h / 218.0) * 0.75
        ang, sc, sh = np.clip(rng.normal(0, 5), -12, 12), rng.uniform(0.9, 1.1), rng.normal(0, 5, 2)
    # Similarity around the eye centre: canvas eye centre → output eye centre (+ jitter).
    # Aligned like CelebA: on the eyes' midpoint, so a turned head shows as the oval moving.
    src_c = ((lm["lefteye"][0] + lm["righteye"][0]) / 2, (lm["lefteye"][1] + lm["righteye"][1]) / 2)
    dst_c = (w / 2.0 + sh[0], (111.0 if framing == "aligned" else 118.0) * h / 218.0 + sh[1])
    M = cv2.getRotationMatrix2D(src_c, float(ang), float(s0 * sc))
    M[:, 2] += np.array(dst_c) - np.array(src_c)
    out = cv2.warpAffine(img, M, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT101)
    pts = np.array(list(lm.values()), np.float64)
    pts = pts @ M[:, :2].T + M[:, 2]
    landmarks = {k: (float(x), float(y)) for k, (x, y) in zip(lm, pts)}

    # Lighting: a directional ramp, global exposure and a colour cast, in one multiply.
    gx, gy = _grid(w, h)
    t = rng.uniform(0, 2 * math.pi)
    g0, k = rng.uniform(0.75, 1.2), rng.uniform(0, 0.5)
    gain = gx * np.float32(g0 * k * math.cos(t)) + gy * np.float32(g0 * k * math.sin(t)) + np.float32(g0)
    cast = rng.normal(1.0, 0.04, 3)
    outf = cv2.multiply(out, cv2.merge([gain * np.float32(c) for c in cast]), dtype=cv2.CV_32F)
    if blurry:
        outf = cv2.GaussianBlur(outf, (0, 0), rng.uniform(1.8, 2.8) * w / 178.0)
    else:
        outf = cv2.GaussianBlur(outf, (3, 3), 0.6)  # soften the vector look
    # Sensor noise from OpenCV's generator (much faster than numpy's), seeded from ours.
    noise = np.empty(outf.shape[:2], np.float32)  # luminance noise: a third of the cost of colour noise
    cv2.setRNGSeed(int(rng.integers(2**31 - 1)))
    cv2.randn(noise, 0.0, float(rng.uniform(1, 8)))
    outf += noise[..., None]
    np.clip(outf, 0, 255, out=outf)
    return outf.astype(np.uint8), landmarks


@functools.lru_cache(maxsize=8)
def _grid(w: int, h: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel coordinates centred and divided by the longer side (for lighting ramps)."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    m = float(max(w, h))
    return (xx - w / 2) / m, (yy - h / 2) / m
