"""A run is scored only on faces framed as it was trained: same size, crop, crop box, channels
and (when recorded) face framing.

:func:`matching_cache` takes the cache a user named and returns one framed like the run: the cache
itself when it matches; otherwise the cache's source prepared again with the run's geometry
(:func:`facelab.data.cache.prepare`, reused next time); when the source is gone, the cache resized
on the fly if only the size differs, else a :class:`~facelab.errors.DataError` naming both framings.

Example:
    >>> run = {"size": 64, "channels": 3, "crop": "face", "crop_box": [0.1, 0.2, 0.9, 0.86]}
    >>> differences(run, {**run, "crop": "square", "crop_box": [0, 0.1, 1, 0.9]})
    ['crop', 'crop_box']
    >>> describe(run)
    '64 px, crop face [0.1, 0.2, 0.9, 0.86], RGB'
"""
from __future__ import annotations

from pathlib import Path

from ..errors import DataError

#: the keys of a run's ``input.json`` and a cache's ``meta.json`` that say how a face is framed
KEYS = ("size", "channels", "crop", "crop_box", "framing")


def differences(run_input: dict, meta: dict) -> list[str]:
    """The framing keys on which a cache differs from a run (a key the run does not record is not
    compared, except ``framing``, compared when either side records it)."""
    out = []
    for k in KEYS:
        want, got = run_input.get(k), meta.get(k)
        if want is None and (k != "framing" or got is None):
            continue
        if k == "crop_box" and want is not None and got is not None:
            if len(want) == len(got) and all(abs(float(a) - float(b)) < 1e-4 for a, b in zip(want, got)):
                continue
        elif want == got:
            continue
        out.append(k)
    return out


def describe(d: dict) -> str:
    """One framing in words: ``64 px, crop face [..], RGB`` (plus the face framing when recorded)."""
    box = d.get("crop_box")
    parts = [f"{d.get('size')} px", f"crop {d.get('crop')}" + (f" {list(box)}" if box is not None else ""),
             "grey" if int(d.get("channels") or 3) == 1 else "RGB"]
    if d.get("framing"):
        parts.append(f"framing {d['framing']}")
    return ", ".join(parts)


def _source(meta: dict) -> Path | None:
    """The source folder a cache was prepared from, when it is still there and is a dataset."""
    from .ensure import source_layout
    from .prepared import META_FILE

    root = (meta.get("source") or {}).get("root")
    if not root or not Path(root).is_dir() or (Path(root) / META_FILE).is_file():
        return None
    try:
        source_layout(root)
    except DataError:
        return None
    return Path(root)


def matching_cache(run_input: dict, ds, *, progress: bool = True, aligner=None):
    """``(cache, note)``: ``ds`` or a cache framed like the run; ``note`` says what was done (or None).

    Raises:
        DataError: the framings differ (beyond the size) and ``ds``'s source is not available.
    """
    diff = differences(run_input, ds.meta)
    if not diff:
        return ds, None
    source = _source(ds.meta)
    if source is None:
        if diff == ["size"]:
            return ds, f"images resized from {ds.size} to the run's {run_input.get('size')} px on the fly"
        raise DataError(f"{ds.path} is framed otherwise than the run ({', '.join(diff)} differ): the cache is "
                        f"{describe(ds.meta)}; the run was trained on {describe(run_input)}", path=ds.path,
                        fix="evaluate on the dataset folder (it is prepared with the run's framing), or "
                            f"prepare the data with --size {run_input.get('size')} --crop {run_input.get('crop')}"
                            + (" --grey" if int(run_input.get("channels") or 3) == 1 else ""))
    from .cache import face_aligner, prepare

    if run_input.get("crop") == "detect":
        face_aligner(aligner)  # a clear error when no aligner frames detected faces
    kw = {"detector": run_input["detector"]} if run_input.get("detector") else {}
    new = prepare(source, size=int(run_input["size"]), crop=run_input.get("crop"),
                  grey=int(run_input.get("channels") or 3) == 1, progress=progress, aligner=aligner, **kw)
    still = differences(run_input, new.meta)
    if still and still != ["size"]:
        raise DataError(f"{source} cannot be framed as the run was ({', '.join(still)} differ): prepared "
                        f"{describe(new.meta)}; the run was trained on {describe(run_input)}", path=source,
                        fix="evaluate on data prepared the way the run's data was")
    return new, (f"{ds.path} is framed otherwise ({describe(ds.meta)}): evaluated on {new.path}, prepared "
                 f"from its source {source} with the run's framing ({describe(run_input)})")
