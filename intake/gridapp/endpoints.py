"""HTTP routes of the grid worker's app."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/api/v1/app", tags=["gridapp"])
