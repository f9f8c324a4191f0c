"""HTTP routes of the WeChat channel."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/channels/wechat", tags=["wechat"])
