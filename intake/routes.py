"""Every HTTP route intake serves, in one router: the intake service mounts it, and so does the console
when it runs intake in-process (the embedded default); otherwise the console forwards these prefixes."""

from __future__ import annotations

from fastapi import APIRouter

from intake.gridapp.endpoints import router as gridapp_router
from intake.hotline.endpoints import router as hotline_router
from intake.open311.endpoints import router as open311_router
from intake.views import router as reports_router
from intake.wechat.endpoints import router as wechat_router

router = APIRouter()
for _channel in (reports_router, wechat_router, hotline_router, open311_router, gridapp_router):
    router.include_router(_channel)

# What the console's public port forwards to a separate intake service.
PREFIXES = ("/api/v1/reports", "/api/v1/intake/", "/channels/", "/open311/", "/api/v1/app/")
# Channels that sign their own requests (or carry an api_key): no session, no JSON-only rule.
SELF_AUTHENTICATED = ("/channels/", "/open311/")
# Routes that take uploads (multipart): the grid app's reports with photos.
UPLOADS = ("/api/v1/app/",)
