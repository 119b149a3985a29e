"""The REST API (FastAPI): ``create_app(ServeSettings(...))``. See docs/serving.md."""
from __future__ import annotations


def __getattr__(name: str):
    # Lazy: importing facelab.serve must not pull FastAPI into a CLI call that does not serve.
    if name == "create_app":
        from .app import create_app

        return create_app
    if name == "ServeSettings":
        from .settings import ServeSettings

        return ServeSettings
    raise AttributeError(name)
