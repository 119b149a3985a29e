"""The framing record of a dataset's frame: where the five-point face template lies in it.

Plain data (no detector, no image code), so that a prepared cache records the framing of its
images from the data layer: CelebA's aligned images and FER2013's crops are each *the template
placed in their frame*. :mod:`facelab.faces.template` holds the alignment that uses them.

Example:
    >>> rec = framing_record("celeba", size=64, crop_box=[0, 0.09, 1, 0.91])
    >>> rec["detector"], rec["template"], rec["source_size"]
    ('mtcnn', 'mtcnn5-celeba-v1', [178, 218])
    >>> source_framing("fer2013-csv", [48, 48], 48, [0, 0, 1, 1])["frame"]
    'fer2013'
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Frame:
    """A dataset's frame: its size and where the template lies in it (``scale * T + offset``)."""

    name: str
    source_size: tuple[int, int]
    scale: float
    offset: tuple[float, float]
    #: faces tilted less than this (degrees) are not turned, only scaled and shifted: a dataset
    #: cropped by a detector's box (FER2013) kept its faces' small tilts
    snap_angle: float = 0.0


#: name of the template below (a new fit gets a new name: records name what framed them)
TEMPLATE_NAME = "mtcnn5-celeba-v1"
#: MTCNN's five landmarks on aligned CelebA, medians in the 178x218 frame (pixel-edge coordinates):
#: ``bench/template_fit.py --n 3000`` — found in 99.7% of the fit half (1,500 images); on the check
#: half, aligning each image by its own landmarks gives a median corner offset of 5.5 px from the
#: true frame and a 64 px ``face`` crop correlating 0.95 with the cache's (Haar box framing: 0.91)
TEMPLATE = np.array([[70.1, 112.2], [109.0, 112.2], [89.1, 136.5], [72.4, 153.4], [106.5, 153.4]])
TEMPLATES = {TEMPLATE_NAME: TEMPLATE}

#: The datasets' frames (``photo``: the CelebA frame, used for folders of photos aligned at
#: prepare). ``bench/template_fit.py --n 3000 --fer 3000``, check halves of 1,500 images:
#: CelebA: the template is the frame's own (fitted scale 1.003, shift under 0.5 px); turning only
#: faces tilted 10° or more matches the frame better (corner offset 4.5 px, correlation 0.952)
#: than turning every face (5.5 px, 0.950): under 10°, MTCNN's eye angle is mostly noise.
#: FER2013 (48x48 grey, upscaled 4x and padded to detect): found in 92.3% (Haar: 83.8%); corner
#: offset 4.8 px (Haar box framing: 4.8), crop correlation 0.69; turning faces tilted under 20°
#: lowers the match (offset 6.3 px, correlation 0.66): FER's crops kept their faces' small tilts.
FRAMES = {
    "celeba": Frame("celeba", (178, 218), 1.0, (0.0, 0.0), snap_angle=10.0),
    "fer2013": Frame("fer2013", (48, 48), 0.4529, (-16.38, -32.29), snap_angle=20.0),
    "photo": Frame("photo", (178, 218), 1.0, (0.0, 0.0), snap_angle=10.0),
}

#: the detector whose landmarks the template was fitted on
TEMPLATE_DETECTOR = "mtcnn"


def frame_for(input_spec: dict) -> Frame:
    """The frame that matches a dataset's layout / source size (CelebA, FER2013, else photo).

    Example:
        >>> frame_for({"layout": "fer2013-folders", "source_size": [48, 48]}).name
        'fer2013'
    """
    layout = str(input_spec.get("layout") or "").lower()
    size = tuple(int(v) for v in input_spec.get("source_size") or ()) or None
    if "fer" in layout or (size is not None and size[0] == size[1] and size[0] <= 64):
        return FRAMES["fer2013"]
    if "celeba" in layout or size == (178, 218):
        return FRAMES["celeba"]
    return FRAMES["photo"]


def framing_record(frame: str | Frame, *, size: int, crop_box, detector: str = TEMPLATE_DETECTOR,
                   template: str = TEMPLATE_NAME) -> dict:
    """The ``framing`` a cache's meta.json and a run's input.json record (a plain dict)."""
    fr = FRAMES[frame] if isinstance(frame, str) else frame
    return {"detector": detector, "template": template, "frame": fr.name,
            "source_size": [int(v) for v in fr.source_size], "scale": float(fr.scale),
            "offset": [float(v) for v in fr.offset], "snap_angle": float(fr.snap_angle), "size": int(size),
            "crop_box": [round(float(v), 6) for v in crop_box]}


def source_framing(layout: str, source_size, size: int, crop_box) -> dict | None:
    """The ``framing`` of a cache of a dataset whose images are already in its frame (CelebA,
    FER2013): the template in that frame; None for other layouts (their framing is unknown)."""
    lay = str(layout or "").lower()
    if "celeba" not in lay and "fer" not in lay:
        return None
    return framing_record(frame_for({"layout": lay, "source_size": source_size}), size=size, crop_box=crop_box)


def with_template_framing(input_spec: dict) -> dict:
    """A copy of a run's ``input.json`` with the template framing of its dataset's frame added:
    what a run trained on CelebA or FER2013 crops uses to be served on the five-point framing
    without retraining (``bench/predict.py --framing template`` measures it).

    Example:
        >>> with_template_framing({"size": 48, "crop_box": [0, 0, 1, 1], "layout": "fer2013-folders"})["framing"]["frame"]
        'fer2013'
    """
    spec = dict(input_spec)
    spec["framing"] = framing_record(frame_for(spec), size=int(spec["size"]),
                                     crop_box=spec.get("crop_box") or (0.0, 0.0, 1.0, 1.0))
    return spec


__all__ = ["FRAMES", "TEMPLATE", "TEMPLATES", "TEMPLATE_DETECTOR", "TEMPLATE_NAME", "Frame", "frame_for",
           "framing_record", "source_framing", "with_template_framing"]
