"""The public port's forwarder to a separate intake service (compose, scaled out): reports, channel
callbacks, Open311 and the grid app go there unchanged, with the caller's credentials, and come back
unchanged (status, body, content type, Location, Retry-After)."""

from __future__ import annotations

import httpx
from fastapi import FastAPI, Request, Response

from services.http.errors import error_response

# Request headers intake needs: credentials (it checks them again), content, channels' signatures.
FORWARDED = (
    "content-type",
    "authorization",
    "cookie",
    "x-csrf-token",
    "user-agent",
    "accept",
    "idempotency-key",
    "x-request-id",
)
FORWARDED_PREFIX = "x-gridcase-"
RETURNED = ("content-type", "location", "retry-after")


def add_intake_proxy(app: FastAPI, prefixes: tuple[str, ...]) -> None:
    async def forward(request: Request) -> Response:
        client: httpx.AsyncClient | None = request.app.state.intake
        if client is None:
            return error_response(503, "intake_unavailable", "未配置受理服务地址（GRIDCASE_INTAKE_URL）")
        headers = {
            k: v for k, v in request.headers.items() if k in FORWARDED or k.startswith(FORWARDED_PREFIX)
        }
        if request.client is not None:
            headers["x-forwarded-for"] = request.client.host
        try:
            upstream = await client.request(
                request.method,
                request.url.path,
                params=request.url.query or None,
                content=await request.body(),
                headers=headers,
            )
        except httpx.HTTPError:
            return error_response(503, "intake_unavailable", "受理服务暂不可用，请稍后重试")
        out = {k: v for k, v in upstream.headers.items() if k.lower() in RETURNED}
        return Response(content=upstream.content, status_code=upstream.status_code, headers=out)

    for prefix in prefixes:
        path = prefix.rstrip("/") + ("/{rest:path}" if prefix.endswith("/") else "")
        app.add_api_route(
            path,
            forward,
            methods=["GET", "POST", "PUT", "DELETE"],
            include_in_schema=False,
            name=f"forward:{prefix}",
        )
