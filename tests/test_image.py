"""Image decoding: odd modes are normalised, bad files give ImageError (a DataError) naming the file."""
from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from facelab.data.image import (FACE_BOX, ImageError, box_pixels, crop_box, dct_scale,
                                decode_crop_resize, load_image)
from facelab.errors import ConfigError, DataError


def _face(w=178, h=218, seed=0) -> np.ndarray:
    """A smooth colourful test picture (JPEG-friendly) with a red left half marker."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    a = np.stack([xx * 255 // w, yy * 255 // h, np.full_like(xx, 90)], axis=2).astype(np.uint8)
    a[: h // 4, : w // 4] = (250, 10, 10)
    return np.clip(a.astype(int) + rng.integers(-3, 4, a.shape), 0, 255).astype(np.uint8)


def _save(tmp_path, name, img: Image.Image, **kw):
    p = tmp_path / name
    img.save(p, **kw)
    return p


def test_rgb_jpeg_decodes(tmp_path):
    p = _save(tmp_path, "a.jpg", Image.fromarray(_face()), quality=95)
    a = load_image(p)
    assert a.shape == (218, 178, 3) and a.dtype == np.uint8
    assert a[5, 5, 0] > 200 and a[5, 5, 1] < 60  # RGB order, not BGR
    assert load_image(p, grey=True).shape == (218, 178, 1)
    assert load_image(p.read_bytes()).shape == (218, 178, 3)


def test_grey_png_becomes_rgb(tmp_path):
    p = _save(tmp_path, "g.png", Image.fromarray(np.full((10, 12), 77, np.uint8), "L"))
    a = load_image(p)
    assert a.shape == (10, 12, 3) and (a == 77).all()


def test_rgba_composited_on_white(tmp_path):
    rgba = np.zeros((8, 8, 4), np.uint8)
    rgba[..., 0] = 255
    rgba[:4, :, 3] = 255  # top opaque red, bottom fully transparent
    p = _save(tmp_path, "t.png", Image.fromarray(rgba, "RGBA"))
    a = load_image(p)
    assert tuple(a[0, 0]) == (255, 0, 0) and tuple(a[7, 7]) == (255, 255, 255)


def test_palette_with_transparency(tmp_path):
    img = Image.new("P", (6, 6), 0)
    img.putpalette([0, 0, 255] + [0, 0, 0] * 255)
    img.info["transparency"] = 0
    p = _save(tmp_path, "p.png", img, transparency=0)
    assert tuple(load_image(p)[0, 0]) == (255, 255, 255)


def test_cmyk_jpeg_converted(tmp_path):
    img = Image.new("CMYK", (16, 16), (0, 255, 255, 0))  # pure red in CMYK
    p = _save(tmp_path, "c.jpg", img, quality=95)
    a = load_image(p)
    assert a.shape == (16, 16, 3) and a[8, 8, 0] > 200 and a[8, 8, 1] < 60
    b = decode_crop_resize(p, size=8, crop_box=(0, 0, 1, 1))  # the libjpeg fast path agrees
    assert np.abs(b[4, 4].astype(int) - a[8, 8]).max() <= 3


def test_16bit_png_scaled(tmp_path):
    arr = np.full((5, 7), 65535, np.uint16)
    arr[0, 0] = 0
    arr[1, 1] = 32896  # ~ half
    p = _save(tmp_path, "d.png", Image.fromarray(arr))
    a = load_image(p, grey=True)[..., 0]
    assert a.dtype == np.uint8 and a[0, 0] == 0 and a[2, 2] == 255 and 126 <= a[1, 1] <= 130


def test_exif_rotation_applied(tmp_path):
    a = np.zeros((20, 40, 3), np.uint8)
    a[:, :20] = 255  # left half white, landscape
    img = Image.fromarray(a)
    exif = img.getexif()
    exif[0x0112] = 6  # rotate 90 CW on display
    p = _save(tmp_path, "r.jpg", img, exif=exif.tobytes(), quality=95)
    out = load_image(p)
    assert out.shape == (40, 20, 3)
    assert out[2, 10].mean() > 200 and out[37, 10].mean() < 50  # white half now on top
    assert decode_crop_resize(p, size=8, crop_box=(0, 0, 1, 1)).shape == (8, 8, 3)


@pytest.mark.parametrize("maker, reason", [
    (lambda p: p.write_bytes(b""), "empty_file"),
    (lambda p: p.write_bytes(b"this is not an image at all"), "corrupt_image"),
    (lambda p: p.write_bytes(_jpeg_bytes()[:600]), "truncated_image"),
])
def test_bad_files_raise_dataerror(tmp_path, maker, reason):
    p = tmp_path / "bad.jpg"
    maker(p)
    for fn in (lambda: load_image(p), lambda: decode_crop_resize(p, size=16, crop_box=(0, 0, 1, 1))):
        with pytest.raises(ImageError) as ei:
            fn()
        assert isinstance(ei.value, DataError)
        assert ei.value.reason == reason and str(p) in str(ei.value)


def test_missing_file(tmp_path):
    with pytest.raises(ImageError) as ei:
        load_image(tmp_path / "nope.jpg")
    assert ei.value.reason == "missing_image"


def test_decompression_bomb(tmp_path, monkeypatch):
    p = _save(tmp_path, "big.png", Image.new("L", (100, 100)))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    with pytest.raises(ImageError) as ei:
        load_image(p)
    assert ei.value.reason == "too_large"


def _jpeg_bytes() -> bytes:
    b = io.BytesIO()
    Image.fromarray(_face()).save(b, "JPEG", quality=95)
    return b.getvalue()


def test_crop_geometry():
    assert crop_box("full", (178, 218)) == (0.0, 0.0, 1.0, 1.0)
    x0, y0, x1, y1 = crop_box("square", (178, 218))
    assert (x0, x1) == (0.0, 1.0) and round(y0 * 218) == 20 and round(y1 * 218) == 198
    assert crop_box("face", (178, 218)) == FACE_BOX
    assert crop_box("0,20,178,198", (178, 218)) == pytest.approx((0, 20 / 218, 1, 198 / 218))
    assert box_pixels((0.0, 20 / 218, 1.0, 198 / 218), 178, 218) == (0, 20, 178, 198)
    with pytest.raises(ConfigError):
        crop_box("banana", (178, 218))
    with pytest.raises(ConfigError):
        crop_box("0,0,500,20", (178, 218))
    assert dct_scale(178, 218, crop_box("square", (178, 218)), 64) == 2
    assert dct_scale(178, 218, crop_box("square", (178, 218)), 200) == 1


@pytest.mark.parametrize("size", [16, 32, 64, 100])
def test_fast_path_matches_pillow_reference(tmp_path, size):
    """The reduced-size libjpeg path agrees with a full-resolution Pillow decode + area resize."""
    import cv2

    p = _save(tmp_path, "f.jpg", Image.fromarray(_face()), quality=95)
    box = crop_box("square", (178, 218))
    fast = decode_crop_resize(p, size=size, crop_box=box)
    ref = load_image(p)[20:198]
    ref = cv2.resize(ref, (size, size), interpolation=cv2.INTER_AREA)
    assert fast.shape == (size, size, 3)
    assert np.abs(fast.astype(int) - ref).mean() < 4
    grey = decode_crop_resize(p, size=size, crop_box=box, grey=True)
    assert grey.shape == (size, size, 1)
    assert np.abs(grey[..., 0].astype(int) - cv2.cvtColor(ref, cv2.COLOR_RGB2GRAY)).mean() < 4


def test_png_and_bytes_paths_agree(tmp_path):
    img = Image.fromarray(_face())
    png = _save(tmp_path, "f.png", img)
    a = decode_crop_resize(png, size=32, crop_box=FACE_BOX)
    b = decode_crop_resize(png.read_bytes(), size=32, crop_box=FACE_BOX)
    assert a.shape == (32, 32, 3) and (a == b).all()
    import cv2

    ref = cv2.resize(load_image(png)[48:188, 19:159], (32, 32), interpolation=cv2.INTER_AREA)
    assert np.abs(a.astype(int) - ref).max() <= 1  # face box = pixels x 19..159, y 48..188
