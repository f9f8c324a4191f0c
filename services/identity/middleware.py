"""Default deny: every request but the public ones must carry a valid identity.

A pure ASGI middleware, so it also covers what routes' dependencies can't see (static files, API
docs, metrics). It puts the principal in ``request.state``; routes then ask the policy. Requests
authenticated by the session cookie must send the session's CSRF token back in ``X-CSRF-Token`` on
every state-changing method.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Callable
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import quote

from starlette.types import ASGIApp, Receive, Scope, Send

from schemas.identity import Principal
from services.identity.verifier import TokenVerifier

SESSION_COOKIE = "gridcase_session"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

# Needs no identity: health, the sign-in page and its assets, sign-in itself.
PUBLIC_PATHS = frozenset(
    {
        "/health",
        "/login",
        "/favicon.ico",
        "/static/login.js",
        "/static/login.css",
        "/static/favicon.svg",
        "/api/v1/auth/login",
        "/api/v1/auth/session",
    }
)
# Channel callbacks carry their own signatures (WeChat, the hotline); Open311 its api_key (or is
# public for reading, GRIDCASE_OPEN311_PUBLIC). Their routes check those themselves.
PUBLIC_PREFIXES = ("/channels/", "/open311/")


def is_public(path: str) -> bool:
    return path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)


def credentials(headers: list[tuple[bytes, bytes]]) -> tuple[str | None, bool]:
    """(token, from_cookie). A bearer header wins over the cookie."""
    cookie_header = None
    for name, value in headers:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return token.strip(), False
        elif name == b"cookie":
            cookie_header = value.decode("latin-1")
    if cookie_header:
        jar: SimpleCookie = SimpleCookie()
        try:
            jar.load(cookie_header)
        except Exception:  # a malformed cookie header is no identity, not an error
            return None, False
        if SESSION_COOKIE in jar:
            return jar[SESSION_COOKIE].value, True
    return None, False


def _header(headers: list[tuple[bytes, bytes]], name: bytes) -> str | None:
    for key, value in headers:
        if key == name:
            return value.decode("latin-1")
    return None


class Authentication:
    def __init__(self, app: ASGIApp, *, verifier: Callable[[], TokenVerifier | None]) -> None:
        self.app = app
        self.verifier = verifier

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or is_public(scope["path"]):
            await self.app(scope, receive, send)
            return
        headers: list[tuple[bytes, bytes]] = scope["headers"]
        token, from_cookie = credentials(headers)
        verifier = self.verifier()
        principal: Principal | None = None
        if token and verifier is not None:
            principal = await verifier.verify(token)
        if principal is None:
            await self._unauthenticated(scope, headers, send)
            return
        if from_cookie and scope["method"] not in SAFE_METHODS:
            sent = _header(headers, CSRF_HEADER.encode()) or ""
            if not principal.csrf_token or not hmac.compare_digest(sent, principal.csrf_token):
                await _json(
                    send, 403, "csrf_failed", "请求缺少有效的CSRF令牌（X-CSRF-Token），请刷新页面后重试"
                )
                return
        state: dict[str, Any] = scope.setdefault("state", {})
        state["principal"] = principal
        state["via_cookie"] = from_cookie
        await self.app(scope, receive, send)

    async def _unauthenticated(self, scope: Scope, headers: list[tuple[bytes, bytes]], send: Send) -> None:
        path: str = scope["path"]
        accept = _header(headers, b"accept") or ""
        if scope["method"] == "GET" and not path.startswith("/api/") and "text/html" in accept:
            target = path + ("?" + scope["query_string"].decode("latin-1") if scope["query_string"] else "")
            await send(
                {
                    "type": "http.response.start",
                    "status": 303,
                    "headers": [(b"location", f"/login?next={quote(target, safe='')}".encode())],
                }
            )
            await send({"type": "http.response.body", "body": b""})
            return
        await _json(
            send,
            401,
            "unauthenticated",
            "请先登录：缺少或无效的身份凭证（Authorization: Bearer <token>）",
            extra_headers=[(b"www-authenticate", b'Bearer realm="gridcase"')],
        )


async def _json(
    send: Send,
    status: int,
    error: str,
    message: str,
    *,
    extra_headers: list[tuple[bytes, bytes]] | None = None,
) -> None:
    body = json.dumps(
        {"error": error, "message": message, "fields": [], "details": {}}, ensure_ascii=False
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *(extra_headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
