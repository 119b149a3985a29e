"""Does a model get a photo right? Compare its answer with the labels the photo is known to have.

The dashboard's sample photos are drawn with known attributes (a smiling woman is drawn smiling
and female); before showing one as an example of a model at work, the page checks that the model
agrees, and says so when it does not (a demo model scoring the smiling woman 0.12 Smiling should
not be shown without a word).

Example:
    >>> from facelab.predict.results import FaceBox, FaceResult, PhotoResult
    >>> face = FaceResult(0, FaceBox(200, 100, 240, 280, 1.0), {"Smiling": 0.12}, [])
    >>> c = check_photo(PhotoResult("s.jpg", 640, 480, [face]), [({"Smiling": 1, "Male": 0}, 320, 240)], ["Smiling"])
    >>> c.ok, c.wrong
    (False, ['Smiling: expected yes, the model says 0.12'])
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class PhotoCheck:
    """The outputs compared on one photo: ``right`` and ``wrong`` in words; ``ok`` when at least
    one output was compared and none is wrong."""

    right: list[str] = field(default_factory=list)
    wrong: list[str] = field(default_factory=list)

    @property
    def checked(self) -> bool:
        return bool(self.right or self.wrong)

    @property
    def ok(self) -> bool:
        return self.checked and not self.wrong


def _nearest(faces, cx: float, cy: float):
    """The detected face whose box holds (cx, cy), nearest centre first; None when no box holds it."""
    hits = [f for f in faces if f.box.x <= cx <= f.box.x + f.box.w and f.box.y <= cy <= f.box.y + f.box.h]
    return min(hits, key=lambda f: (f.box.x + f.box.w / 2 - cx) ** 2 + (f.box.y + f.box.h / 2 - cy) ** 2,
               default=None)


def check_photo(result, expected: list[tuple[dict, float, float]], classes: list[str],
                targets: list[str] | None = None) -> PhotoCheck:
    """Compare a :class:`~facelab.predict.results.PhotoResult` with the faces a photo is known to hold.

    Args:
        result: the model's answer for the photo.
        expected: one ``(labels, centre x, centre y)`` per face drawn; ``labels`` maps an attribute
            to 0/1, or a multiclass target to its class name.
        classes: the model's outputs (binary/multilabel: attributes; multiclass: class names).
        targets: a multiclass model's target (``["emotion"]``); None for attribute models.

    An output the photo has no label for is not compared; a photo with no face is never "right"
    (there is nothing to be right about), and a face drawn but not found is wrong.
    """
    check = PhotoCheck()
    for labels, cx, cy in expected:
        relevant = [t for t in (targets or []) if t in labels] if targets else [c for c in classes if c in labels]
        if not relevant:
            continue
        face = _nearest(result.faces, cx, cy)
        if face is None:
            check.wrong.append(f"the face at ({cx:.0f}, {cy:.0f}) was not found")
            continue
        for out in relevant:
            if targets:  # multiclass: the predicted class is the one label given
                want, got = str(labels[out]), (face.labels[0] if face.labels else "")
                (check.right if want == got else check.wrong).append(f"{out}: expected {want}, the model says {got}")
                continue
            p = float(face.probabilities.get(out, float("nan")))
            want, got = bool(labels[out]), out in face.labels
            words = f"{out}: expected {'yes' if want else 'no'}, the model says {p:.2f}"
            (check.right if want == got else check.wrong).append(words)
    return check
