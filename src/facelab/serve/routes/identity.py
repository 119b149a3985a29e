"""``/v1/verify``, ``/v1/identify`` and ``/v1/galleries/...``."""
from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/v1", tags=["identity"])
