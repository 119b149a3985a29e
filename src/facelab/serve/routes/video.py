"""``POST /v1/predict/video``: faces tracked through a video."""
from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/v1", tags=["video"])
