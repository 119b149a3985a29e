"""Drawing one synthetic face with OpenCV: background, head, features, accessories, lighting.

Everything is drawn on a 256x300 canvas in which the 178x218 CelebA aligned frame sits at
offset (39, 19); a final similarity warp maps the canvas to the output with pose/scale/position
jitter, and the true landmarks go through the same warp. Faces keep the contrasts a Haar cascade
looks for: dark eye sockets, brows and mouth, a lighter nose bridge and cheeks, a shaded skin oval
against a background of different brightness.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...errors import ConfigError
from .attributes import EXPRESSIONS, Look, sample_look
from .canvas import (CANVAS_H, CX, EYE_DX, EYE_Y, MOUTH_Y, NOSE_Y, OY, background, blend, ell,
                     ellipse_pts, finish, mul, oval, poly)


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




def _hair_back(img, look: Look, f, cx, top, a, rng) -> None:
    hc = look.hair_rgb
    if look.hair_long:
        # Hair falling to the shoulders behind the head, with strands when it has a texture.
        length = MOUTH_Y + 40 + rng.uniform(-6, 14)
        pts = [(cx - a - 10, top + 50), (cx - a - 15, length - 20), (cx - a - 8, length),
               (cx - a + 8, length + 4), (cx + a - 8, length + 4), (cx + a + 8, length),
               (cx + a + 15, length - 20), (cx + a + 10, top + 50)]
        poly(img, pts, mul(hc, 0.8))
        if f.get("Straight_Hair") or f.get("Wavy_Hair"):
            for side in (-1, 1):
                for k in range(5):
                    x0 = cx + side * (a + 2 + 2.5 * k)
                    ys = np.linspace(top + 50, length - 4, 10)
                    xs = x0 + (3.0 * np.sin(ys / 4.0 + k) if f.get("Wavy_Hair") else 0 * ys)
                    poly(img, np.stack([xs, ys], 1), mul(hc, 0.6 if k % 2 else 1.2), closed=False, thick=1)
    ell(img, (cx, top + 52), (a + 8, 62), mul(hc, 0.9))


def _hair_front(img, look, f, cx, top, a, rng) -> None:
    hc = look.hair_rgb
    hairline = OY + (52 if f["Receding_Hairline"] else 66)
    pts = list(ellipse_pts((cx, top + 52), a + 8, 62, 180, 360, 30))
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
    poly(img, pts, hc)
    # Strands show the texture (straight lines or waves), kept inside the hair's outline.
    if f["Straight_Hair"] or f["Wavy_Hair"]:
        wavy = f["Wavy_Hair"]
        # Only the rows above the brows can hold strands: work on that band.
        y1 = int(EYE_Y)
        band = img[:y1]
        mask = np.zeros(band.shape[:2], np.uint8)
        poly(mask, pts, (255,))
        ov = band.copy()
        for k in range(14):
            x0 = cx + rng.uniform(-a, a)
            ys = np.linspace(top - 8, EYE_Y - 10, 8)
            xs = x0 + (4.0 * np.sin(ys / 5.0 + k) if wavy else (x0 - cx) * (ys - top) / 120.0)
            poly(ov, np.stack([xs, ys], 1), mul(hc, 0.65 if k % 2 else 1.25), closed=False, thick=1)
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
    poly(img, np.concatenate([np.stack([xs, upper], 1), np.stack([xs[::-1], lower[::-1]], 1)]), lip_rgb)
    if openness > 0.5:
        poly(img, np.concatenate([np.stack([xs, up_edge], 1), np.stack([xs[::-1], lo_edge[::-1]], 1)]),
              (45, 18, 22))
        if teeth:
            ty = up_edge + 0.3 * openness * bump
            poly(img, np.concatenate([np.stack([xs[3:-3], up_edge[3:-3] + 0.3], 1),
                                       np.stack([xs[3:-3][::-1], ty[3:-3][::-1]], 1)]), (235, 232, 222))
    else:
        poly(img, np.stack([xs, line], 1), mul(lip_rgb, 0.45), closed=False, thick=1)
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
        >>> img.shape, round(lm["lefteye"][0])
        ((218, 178, 3), 70)
    """
    if len(size) != 2 or min(size) < 16:
        raise ConfigError(f"size must be (width, height) of at least 16 pixels, got {size!r}",
                          fix="pass e.g. size=(178, 218)")
    if framing not in ("aligned", "photo"):
        raise ConfigError(f"unknown framing {framing!r}", fix="use 'aligned' or 'photo'")
    f = {k: bool(v) and v != -1 for k, v in attrs.items()}
    if look is None:
        look = sample_look(attrs, rng)
    ex = _expression(f, expression, rng)
    h = _head(f, look, rng)
    img = background(rng, float(h.skin @ [0.299, 0.587, 0.114]))
    # Every part draws in turn on the same canvas, from the back (clothes, hair) to the front
    # (hat, glasses); the order is also the order in which they draw from ``rng``.
    _body(img, h, rng)
    _skin(img, h, rng)
    hc, beard_c = _facial_hair(img, h)
    eyes = _eyes(img, h, ex, rng)
    nx, ny = _nose(img, h, expression, rng)
    _lines(img, h, eyes, nx, ny, beard_c)
    lm_l, lm_r = _lips(img, h, ex, expression, rng)
    _accessories(img, h, eyes, rng)
    lm = {"lefteye": eyes[0], "righteye": eyes[1], "nose": (nx, ny), "leftmouth": lm_l, "rightmouth": lm_r}
    return finish(img, lm, rng, size, framing, blurry=h.g("Blurry"))


def _expression(f: dict, expression: str | None, rng) -> dict:
    """The mouth, eye and brow parameters of the expression (or of Smiling / Mouth_Slightly_Open)."""
    if expression is None:
        smiling = f.get("Smiling", False)
        ex = dict(_EXPR["happy" if smiling else "neutral"])
        if smiling:
            ex["curve"] = rng.uniform(4.0, 7.0)
            ex["open"] = rng.uniform(6.0, 10.0) if f.get("Mouth_Slightly_Open", False) else 0.0
            ex["teeth"] = ex["open"] > 0
        else:
            ex["curve"] = rng.uniform(-0.5, 1.0)
            ex["open"] = rng.uniform(4.0, 7.0) if f.get("Mouth_Slightly_Open", False) else 0.0
        return ex
    if expression not in _EXPR:
        raise ConfigError(f"unknown expression {expression!r}", fix=f"use one of: {', '.join(EXPRESSIONS)}")
    return {k: (v * rng.uniform(0.8, 1.2) if isinstance(v, float) else v) for k, v in _EXPR[expression].items()}


@dataclass
class _Head:
    """Where one face sits on the canvas: what every part is drawn relative to."""

    f: dict          # attribute -> drawn
    look: Look
    skin: np.ndarray
    yaw: float       # features slide sideways on a turned head
    cx: float        # the head's centre line
    fx: float        # where the features sit
    a: float         # half width
    b: float         # jaw height below the oval's centre
    fcy: float       # face oval centre
    bu: float        # skull height above it (taller than the jaw)
    top: float

    def g(self, k: str) -> bool:
        return self.f.get(k, False)


def _head(f: dict, look: Look, rng) -> _Head:
    yaw = float(np.clip(rng.normal(0, 3.5), -9, 9))
    fcy = EYE_Y + 12 + rng.normal(0, 1)
    bu = look.face_b + look.forehead
    return _Head(f=f, look=look, skin=np.array(look.skin), yaw=yaw, cx=CX + yaw * 0.3, fx=CX + yaw,
                 a=look.face_a, b=look.face_b, fcy=fcy, bu=bu, top=fcy - bu)


def _body(img, h: _Head, rng) -> None:
    """Neck, shoulders and what is worn on them."""
    cx, skin = h.cx, h.skin
    clothes = rng.uniform(0, 255, 3)
    poly(img, [(cx - 20, h.fcy + 30), (cx + 20, h.fcy + 30), (cx + 24, CANVAS_H), (cx - 24, CANVAS_H)],
         mul(skin, 0.78))
    ell(img, (cx, OY + 262), (104, 62), clothes)
    if h.g("Wearing_Necktie"):
        poly(img, [(cx - 26, OY + 203), (cx, OY + 218), (cx + 26, OY + 203), (cx + 20, OY + 222),
                    (cx - 20, OY + 222)], (240, 240, 240))
        tie = rng.uniform(20, 200, 3)
        poly(img, [(cx - 5, OY + 210), (cx + 5, OY + 210), (cx + 8, CANVAS_H), (cx - 8, CANVAS_H)], tie)
    if h.g("Wearing_Necklace"):
        gold = (230, 200, 90) if rng.random() < 0.6 else (225, 225, 230)
        for x, y in ellipse_pts((cx, OY + 188), 24, 18, 20, 160, 15):
            ell(img, (x, y), (1.6, 1.6), gold)


def _skin(img, h: _Head, rng) -> None:
    """The hair behind the head, the ears, then the shaded skin oval: darker rim, lighter centre."""
    cx, fx, a, b, bu, fcy, skin = h.cx, h.fx, h.a, h.b, h.bu, h.fcy, h.skin
    if not h.g("Bald"):
        _hair_back(img, h.look, h.f, cx, h.top, a, rng)
    for s in (-1, 1):
        ell(img, (cx + s * (a - 1), EYE_Y + 12), (6, 12), mul(skin, 0.85))
    oval(img, (cx, fcy), a, bu, b, mul(skin, 0.78))
    oval(img, (cx + h.yaw * 0.2, fcy - 2), a * 0.88, bu * 0.9, b * 0.9, mul(skin, 0.9))
    oval(img, (fx, fcy - 4), a * 0.7, bu * 0.75, b * 0.75, skin + 8)
    for s in (-1, 1):
        ell(img, (fx + s * 21, EYE_Y + 17), (10, 8), skin * 1.04 + 14)
    if h.g("Double_Chin"):
        ell(img, (cx, fcy + b - 3), (a * 0.55, 9), mul(skin, 0.85), a0=0, a1=180)
        ell(img, (cx, fcy + b + 3), (a * 0.45, 6), mul(skin, 0.65), thick=1, a0=20, a1=160)
    if h.g("Bald"):
        ell(img, (cx - 12, h.top + 18), (14, 8), mul(skin, 1.12))  # shine on the scalp


def _facial_hair(img, h: _Head) -> tuple[np.ndarray, np.ndarray]:
    """Beard, goatee, stubble and sideburns, drawn before the features so lips and nose sit on top;
    returns the hair and beard colours."""
    cx, fx, a, b, fcy, skin, look = h.cx, h.fx, h.a, h.b, h.fcy, h.skin, h.look
    hc = np.array(look.hair_rgb) if not h.g("Gray_Hair") else np.array(look.hair_rgb) * 0.9
    beard_c = np.minimum(hc, skin * 0.55) if hc.mean() > 150 and not h.g("Gray_Hair") else hc
    if look.beard == "full" and h.g("Male"):
        pts = list(ellipse_pts((cx, fcy), a + 1, b + 2, 5, 175, 20))
        pts += [(cx - a + 4, NOSE_Y + 4), (fx - 12, NOSE_Y + 8), (fx + 12, NOSE_Y + 8), (cx + a - 4, NOSE_Y + 4)]
        ov = img.copy()
        poly(ov, pts, beard_c)
        blend(img, ov, 0.9)
    if look.beard == "goatee" and h.g("Male"):
        # Round the sides of the mouth and down over the chin (the lips are drawn on top); the
        # upper lip stays clear, since a moustache is its own attribute.
        chin = fcy + b
        poly(img, [(fx - 18, MOUTH_Y - 2), (fx - 20, MOUTH_Y + 6), (fx - 13, chin - 4), (fx, chin + 2),
                    (fx + 13, chin - 4), (fx + 20, MOUTH_Y + 6), (fx + 18, MOUTH_Y - 2)], beard_c * 0.8)
    if h.g("5_o_Clock_Shadow"):
        ov = img.copy()
        pts = list(ellipse_pts((cx, fcy), a - 1, b - 1, 8, 172, 20)) + [(fx - 14, NOSE_Y + 10), (fx + 14, NOSE_Y + 10)]
        poly(ov, pts, mul(skin, 0.45))
        blend(img, ov, 0.35)
    if look.sideburns and h.g("Sideburns") and not h.g("Bald"):
        for s in (-1, 1):
            poly(img, [(cx + s * (a - 1), EYE_Y - 12), (cx + s * (a - 9), EYE_Y - 12),
                        (cx + s * (a - 8), EYE_Y + 22), (cx + s * (a - 2), EYE_Y + 22)], hc)
    return hc, beard_c


def _eyes(img, h: _Head, ex: dict, rng) -> list[tuple[float, float]]:
    """Eyes (a shadowed socket, white, iris, pupil, lids) and brows; returns the eye centres."""
    look, skin = h.look, h.skin
    eh = look.eye_h * ex["eye"]
    ew = look.eye_w
    eyes = []
    sclera = 0.65 * np.array([232.0, 230.0, 225.0]) + 0.35 * skin  # in shade, never paper-white
    for s in (-1, 1):
        ex_, ey = h.fx + s * EYE_DX + rng.normal(0, 0.3), EYE_Y + rng.normal(0, 0.3)
        eyes.append((ex_, ey))
        ell(img, (ex_, ey - 1), (ew + 6, eh + 7), mul(skin, 0.68))
        if h.g("Heavy_Makeup"):
            ell(img, (ex_, ey - 3), (ew + 3, eh + 3), rng.choice([[110, 60, 120], [60, 80, 130], [90, 60, 50]]))
        ell(img, (ex_, ey), (ew, eh), sclera)
        gaze = rng.normal(0, 1.2)
        r = min(eh * 1.0, ew * 0.55)
        ell(img, (ex_ + gaze, ey), (r, r), look.iris_rgb)
        ell(img, (ex_ + gaze, ey), (r * 0.45, r * 0.45), (10, 10, 10))
        ell(img, (ex_ + gaze - 1, ey - 1), (0.8, 0.8), (250, 250, 250))
        ell(img, (ex_, ey), (ew + 0.5, eh + 0.5), (25, 20, 20), thick=2 if h.g("Heavy_Makeup") else 1, a0=180, a1=360)
        if h.g("Bags_Under_Eyes"):
            ell(img, (ex_, ey + eh + 1), (ew * 0.9, 3.5), mul(skin, 0.6), thick=1, a0=10, a1=170)
    # Brows: inner end, arch, outer end, moved by the expression.
    brow_c = np.minimum(np.array(look.hair_rgb), 90) * 0.8 if not h.g("Gray_Hair") else np.array(look.hair_rgb) * 0.6
    for s, (ex_, ey) in zip((-1, 1), eyes):
        by = ey - look.eye_h - 9
        asym = rng.normal(0, 0.6)
        inner = (ex_ - s * 9 + (s * 2 if ex["brow_in"] < 0 else 0), by - ex["brow_in"] + asym)
        peak = (ex_ + s * 1, by - look.brow_arch - (ex["brow_in"] + ex["brow_out"]) / 2)
        outer = (ex_ + s * 12, by + 2 - ex["brow_out"])
        poly(img, [inner, peak, outer], brow_c, closed=False, thick=look.brow_thick)
    return eyes


def _nose(img, h: _Head, expression: str | None, rng) -> tuple[float, float]:
    """A lighter bridge, a shadow on one side, dark nostrils; returns the nose tip."""
    fx, skin, nw = h.fx, h.skin, h.look.nose_w
    nx, ny = fx + h.yaw * 0.3, NOSE_Y + rng.normal(0, 0.5)
    light = 1 if rng.random() < 0.5 else -1
    poly(img, [(fx, EYE_Y - 4), (nx, ny - 5)], skin * 1.06 + 22, closed=False, thick=4)
    poly(img, [(fx + light * 5, EYE_Y + 2), (nx + light * (nw - 2), ny - 2)], mul(skin, 0.8), closed=False, thick=2)
    ell(img, (nx, ny - 1), (nw * 0.55, 4.5), skin * 1.04 + 12)
    for s in (-1, 1):
        ell(img, (nx + s * nw * 0.45, ny + 1.5), (2.2, 1.4), mul(skin, 0.4))
        ell(img, (nx + s * nw * 0.85, ny - 0.5), (2.5, 4), mul(skin, 0.75), thick=1, a0=90 - s * 90, a1=270 - s * 90)
    if expression == "disgust":
        for k in (0, 1):
            poly(img, [(nx - 6, ny - 14 + 3 * k), (nx + 6, ny - 14 + 3 * k)], mul(skin, 0.7), closed=False, thick=1)
    return nx, ny


def _lines(img, h: _Head, eyes, nx: float, ny: float, beard_c) -> None:
    """Moustache, wrinkles (forehead lines, nasolabial folds, crow's feet) and cheeks."""
    fx, skin, look = h.fx, h.skin, h.look
    nw, ew = look.nose_w, look.eye_w
    if look.mustache and h.g("Mustache"):
        poly(img, [(fx - 14, MOUTH_Y - 3), (fx - 5, ny + 4), (fx + 5, ny + 4), (fx + 14, MOUTH_Y - 3),
                    (fx, MOUTH_Y - 6)], beard_c)
    if not h.g("Young"):
        wr = mul(skin, 0.7)
        for k in range(2):
            y = EYE_Y - 30 - 5 * k
            poly(img, ellipse_pts((fx, y + 20), 18, 20, 240, 300, 8), wr, closed=False, thick=1)
        for s in (-1, 1):
            poly(img, [(nx + s * (nw + 2), ny), (fx + s * (look.mouth_hw + 3), MOUTH_Y + 4)], wr, closed=False, thick=1)
            ex_, ey = eyes[(s + 1) // 2]
            for d in (-3, 0, 3):
                poly(img, [(ex_ + s * (ew + 3), ey + d * 0.6), (ex_ + s * (ew + 7), ey + d)], wr, closed=False, thick=1)
    if h.g("Rosy_Cheeks") or h.g("Heavy_Makeup"):
        ov = img.copy()
        for s in (-1, 1):
            ell(ov, (fx + s * 24, EYE_Y + 22), (9, 7), (235, 100, 110))
        blend(img, ov, 0.45 if h.g("Rosy_Cheeks") else 0.2)


def _lips(img, h: _Head, ex: dict, expression: str | None, rng) -> tuple:
    """Lips (lipstick or skin-dark), opening, teeth; returns the mouth corners."""
    lip_rgb = rng.choice([[200, 30, 50], [170, 20, 60], [215, 60, 80]]) if h.g("Wearing_Lipstick") \
        else h.skin * np.array([0.78, 0.55, 0.55])
    mx = h.fx + h.yaw * 0.2
    lm_l, lm_r = _mouth(img, mx, MOUTH_Y + rng.normal(0, 0.5), h.look.mouth_hw * ex["width"], ex["curve"],
                        ex["open"], h.look.lip, ex["teeth"], lip_rgb, h.skin)
    if expression == "disgust":  # one corner pulled up
        poly(img, [lm_r, (lm_r[0] + 3, lm_r[1] - 4)], mul(lip_rgb, 0.6), closed=False, thick=2)
    return lm_l, lm_r


def _accessories(img, h: _Head, eyes, rng) -> None:
    """Earrings, hair in front, hat, glasses."""
    cx, a = h.cx, h.a
    if h.g("Wearing_Earrings"):
        metal = (235, 205, 90) if rng.random() < 0.6 else (230, 230, 235)
        for s in (-1, 1):
            ex0 = cx + s * (a + 1)
            ell(img, (ex0, EYE_Y + 27), (2.5, 2.5), metal)
            if rng.random() < 0.5:
                poly(img, [(ex0, EYE_Y + 27), (ex0, EYE_Y + 37)], metal, closed=False, thick=1)
                ell(img, (ex0, EYE_Y + 38), (2.5, 3.5), metal)
    if not h.g("Bald"):
        hf = dict(h.f)
        for k in ("Bangs", "Receding_Hairline", "Straight_Hair", "Wavy_Hair"):
            hf.setdefault(k, False)
        _hair_front(img, h.look, hf, cx, h.top, a, rng)
    if h.g("Wearing_Hat"):
        _hat(img, h, rng)
    if h.g("Eyeglasses"):
        _glasses(img, h, eyes, rng)


def _hat(img, h: _Head, rng) -> None:
    cx, fx, a = h.cx, h.fx, h.a
    hat = rng.uniform(0, 255, 3)
    style = rng.choice(["brim", "cap", "beanie"])
    brim_y = OY + rng.uniform(62, 72)
    if style == "brim":
        ell(img, (cx, brim_y), (a + 8, 48), hat, a0=180, a1=360)
        ell(img, (cx, brim_y), (a + 24 + rng.uniform(0, 10), 7), mul(hat, 0.8))
        poly(img, [(cx - a - 8, brim_y - 10), (cx + a + 8, brim_y - 10)], mul(hat, 0.55), closed=False, thick=4)
    elif style == "cap":  # a dome and a visor seen from the front, shading the forehead
        ell(img, (cx, brim_y), (a + 6, 44), hat, a0=180, a1=360)
        ell(img, (fx, brim_y + 2), (a * 0.8, 9), mul(hat, 0.7), a0=0, a1=180)
        poly(img, [(cx - a - 6, brim_y), (cx + a + 6, brim_y)], mul(hat, 0.5), closed=False, thick=2)
    else:  # a knitted beanie pulled down, with a folded band
        ell(img, (cx, brim_y + 4), (a + 7, 46), hat, a0=180, a1=360)
        poly(img, [(cx - a - 7, brim_y - 8), (cx + a + 7, brim_y - 8), (cx + a + 7, brim_y + 4),
                    (cx - a - 7, brim_y + 4)], mul(hat, 0.8))
        for x in np.arange(cx - a, cx + a, 5):
            poly(img, [(x, brim_y - 7), (x, brim_y + 3)], mul(hat, 0.6), closed=False, thick=1)


def _glasses(img, h: _Head, eyes, rng) -> None:
    cx, fx, a, ew = h.cx, h.fx, h.a, h.look.eye_w
    frame = (20, 20, 20) if rng.random() < 0.7 else rng.uniform(0, 160, 3)
    sun = rng.random() < 0.2
    round_ = rng.random() < 0.4
    th = int(rng.integers(2, 4))
    for s, (ex_, ey) in zip((-1, 1), eyes):
        w, hh = ew + 5, 8.5
        box = [(ex_ - w, ey - hh), (ex_ + w, ey - hh), (ex_ + w, ey + hh), (ex_ - w, ey + hh)]
        if sun:
            if round_:
                ell(img, (ex_, ey), (w, hh), (25, 25, 30))
            else:
                poly(img, box, (25, 25, 30))
        if round_:
            ell(img, (ex_, ey), (w, hh), frame, thick=th)
        else:
            poly(img, box, frame, thick=th)
        poly(img, [(ex_ + s * w, ey - 3), (cx + s * (a + 1), ey - 1)], frame, closed=False, thick=th)
    poly(img, [(eyes[0][0] + ew + 5, eyes[0][1] - 2), (fx, eyes[0][1] - 4), (eyes[1][0] - ew - 5, eyes[1][1] - 2)],
         frame, closed=False, thick=th)
