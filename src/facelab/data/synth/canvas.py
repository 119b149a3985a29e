"""The canvas faces are drawn on: geometry, anti-aliased sub-pixel primitives, backgrounds, and
the final warp + lighting + noise that turns a canvas into an output image.

The 178x218 CelebA aligned frame sits at offset (OX, OY) on a 256x300 canvas; the extra room lets
the looser 250x250 "photo" framing show shoulders instead of mirrored borders.
"""
from __future__ import annotations

import functools
import math

import cv2
import numpy as np

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


def p(x: float, y: float) -> tuple[int, int]:
    return int(round(x * _S)), int(round(y * _S))


def ell(img, c, axes, color, thick=-1, angle=0.0, a0=0, a1=360):
    cv2.ellipse(img, p(*c), p(max(axes[0], 0.5), max(axes[1], 0.5)), angle, a0, a1,
                col(color), thick, _AA, _SHIFT)


def poly(img, pts, color, closed=True, thick=-1):
    arr = (np.asarray(pts, np.float64) * _S).round().astype(np.int32).reshape(-1, 1, 2)
    if thick < 0:
        cv2.fillPoly(img, [arr], col(color), _AA, _SHIFT)
    else:
        cv2.polylines(img, [arr], closed, col(color), thick, _AA, _SHIFT)


def col(c) -> tuple[float, float, float]:
    return tuple(float(min(max(v, 0.0), 255.0)) for v in c)


def mul(c, k: float):
    return tuple(v * k for v in c)


def blend(img, overlay, alpha: float) -> None:
    cv2.addWeighted(overlay, alpha, img, 1.0 - alpha, 0.0, dst=img)


def ellipse_pts(c, a, b, t0, t1, n=24):
    t = np.radians(np.linspace(t0, t1, n))
    return np.stack([c[0] + a * np.cos(t), c[1] + b * np.sin(t)], 1)


def oval(img, c, a, b_up, b_low, color) -> None:
    """A head: two half ellipses, the upper (skull) taller than the lower (jaw)."""
    ell(img, c, (a, b_up), color, a0=180, a1=360)
    ell(img, c, (a, b_low), color, a0=0, a1=180)


def background(rng: np.random.Generator, skin_lum: float) -> np.ndarray:
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
            ell(img, (x, y), rng.uniform(10, 50, 2), c)
        else:
            w, h = rng.uniform(10, 70, 2)
            poly(img, [(x, y), (x + w, y), (x + w, y + h), (x, y + h)], c)
    return img


def finish(img, lm, rng, size, framing, blurry):
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
    gx, gy = grid(w, h)
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
def grid(w: int, h: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel coordinates centred and divided by the longer side (for lighting ramps)."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    m = float(max(w, h))
    return (xx - w / 2) / m, (yy - h / 2) / m
