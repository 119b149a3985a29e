"""The galleries the dashboard shows (``$FACELAB_HOME/galleries``): names, opening, thumbnails."""
from __future__ import annotations


def gallery_names() -> list[str]:
    from facelab.identity.gallery import list_galleries

    return [p.name[: -len(".sqlite")] for p in list_galleries()]


def open_chosen(name: str):
    """Open the gallery ``name`` of the galleries folder (names come from :func:`gallery_names`)."""
    from facelab.identity.gallery import open_gallery

    return open_gallery(name)


def person_thumbs(gallery, person: str, n: int = 6) -> list[bytes]:
    """Up to ``n`` face thumbnails (JPEG bytes) of ``person``."""
    return [r["thumb"] for r in gallery.person(person).rows if r["thumb"]][:n]
