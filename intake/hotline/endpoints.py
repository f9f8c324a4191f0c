"""HTTP routes of the 12345 hotline channel."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/channels/hotline", tags=["hotline"])
