"""Request guards every HTTP API shares, as one pure ASGI middleware (cheap on the hot path):

- a body limit enforced while the body is read: a declared ``Content-Length`` above the limit is
  refused at once (413, the app never runs), and a streamed body is counted as it arrives;
- a content-type rule that keeps browsers' "simple" cross-site requests out (CSRF hardening): a
  POST/PUT/PATCH/DELETE with a body must be JSON (``multipart/form-data`` only under the prefixes that
  take uploads); a form or text/plain body, which any page can make a browser send, gets 415.

Errors have the shape of every other API error (``services/http/errors.py``). A limit crossed while
the app reads the body raises ``HTTPException`` from ``receive``: FastAPI lets it through its body
parsing, so the app's handler answers; if it reaches this middleware instead, the middleware answers.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import FastAPI
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.http.errors import error_response

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

MEDIA_TYPE_MESSAGE = "请求必须使用 application/json 格式"
MEDIA_TYPE_MESSAGE_MULTIPART = "请求必须使用 application/json 或 multipart/form-data 格式"
EMPTY_BODY_MESSAGE = "请求内容须使用 application/json 格式并声明 Content-Type"


class BodyRejected(HTTPException):
    """A body refused while it was being read; ``error`` is the machine-readable code."""

    def __init__(self, status_code: int, error: str, message: str) -> None:
        super().__init__(status_code, detail=message)
        self.error = error


# Told about every request the guards refuse (status, error code, the first bytes of the body): intake
# keeps refused reports in its raw store too, so nothing that arrived is unaccounted for.
OnRefused = Callable[[Scope, int, str, bytes], Awaitable[None]]
KEPT_HEAD_BYTES = 4096


class RequestGuards:
    """Pure ASGI middleware: body size limit and JSON-only content type for state-changing requests."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int,
        multipart_prefixes: tuple[str, ...] = (),
        exempt_prefixes: tuple[str, ...] = ("/channels/",),
        upload_max_bytes: int | None = None,
        on_refused: OnRefused | None = None,
    ) -> None:
        self.app = app
        self.on_refused = on_refused
        self.max_body_bytes = max_body_bytes
        # Upload routes (the multipart prefixes) take larger bodies: photos.
        self.upload_max_bytes = upload_max_bytes or max_body_bytes
        self.multipart_prefixes = tuple(multipart_prefixes)
        self.exempt_prefixes = tuple(exempt_prefixes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        content_length: int | None = None
        content_type: bytes | None = None
        content_types = 0
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    content_length = int(value)
                except ValueError:
                    await _answer(scope, receive, send, 400, "bad_request", "请求头 Content-Length 无效")
                    return
                if content_length < 0:
                    await _answer(scope, receive, send, 400, "bad_request", "请求头 Content-Length 无效")
                    return
            elif name == b"content-type":
                content_type = value
                content_types += 1

        path: str = scope["path"]
        upload = bool(self.multipart_prefixes) and path.startswith(self.multipart_prefixes)
        limit = self.upload_max_bytes if upload else self.max_body_bytes
        too_large = _too_large_message(limit)
        if content_length is not None and content_length > limit:
            await self._refuse(scope, receive, send, 413, "payload_too_large", too_large)
            return

        require_empty = False
        if scope["method"] in UNSAFE_METHODS and not path.startswith(self.exempt_prefixes):
            if content_type is not None:
                if content_types > 1 or not self._type_allowed(content_type, path):
                    await self._unsupported(scope, receive, send, path)
                    return
            elif content_length:
                await self._refuse(scope, receive, send, 415, "unsupported_media_type", EMPTY_BODY_MESSAGE)
                return
            else:
                require_empty = True  # no Content-Type: only an empty body is acceptable

        received = 0
        head = b""
        rejected: BodyRejected | None = None

        async def guarded_receive() -> Message:
            nonlocal received, rejected, head
            if rejected is not None:
                raise rejected
            message = await receive()
            if message["type"] == "http.request":
                body = message.get("body", b"")
                if body:
                    received += len(body)
                    if len(head) < KEPT_HEAD_BYTES:
                        head += body[: KEPT_HEAD_BYTES - len(head)]
                    if received > limit:
                        rejected = BodyRejected(413, "payload_too_large", too_large)
                    elif require_empty:
                        rejected = BodyRejected(415, "unsupported_media_type", EMPTY_BODY_MESSAGE)
                    if rejected is not None:
                        if self.on_refused is not None:
                            await self.on_refused(scope, rejected.status_code, rejected.error, head)
                        raise rejected
            return message

        started = False

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, guarded_receive, guarded_send)
        except BodyRejected as exc:
            # Nobody turned it into a response (the app has no handler for it, or read the body
            # outside a route): answer here, unless a response is already on its way.
            if started or exc is not rejected:
                raise
            await _answer(scope, receive, send, exc.status_code, exc.error, str(exc.detail))

    def _type_allowed(self, content_type: bytes, path: str) -> bool:
        media = content_type.split(b";", 1)[0].strip().lower()
        if media == b"application/json":
            return True
        if media.startswith(b"application/") and media.endswith(b"+json") and media.count(b"/") == 1:
            return True
        return media == b"multipart/form-data" and path.startswith(self.multipart_prefixes)

    async def _unsupported(self, scope: Scope, receive: Receive, send: Send, path: str) -> None:
        multipart_here = bool(self.multipart_prefixes) and path.startswith(self.multipart_prefixes)
        message = MEDIA_TYPE_MESSAGE_MULTIPART if multipart_here else MEDIA_TYPE_MESSAGE
        await self._refuse(scope, receive, send, 415, "unsupported_media_type", message)

    async def _refuse(
        self, scope: Scope, receive: Receive, send: Send, status: int, error: str, message: str
    ) -> None:
        """Answer a refusal made before the app ran (the body unread: nothing of it is kept)."""
        if self.on_refused is not None:
            await self.on_refused(scope, status, error, b"")
        await _answer(scope, receive, send, status, error, message)


def _too_large_message(limit: int) -> str:
    return f"请求内容超过{max(limit // 1024, 1)}KB上限"


async def _answer(scope: Scope, receive: Receive, send: Send, status: int, error: str, message: str) -> None:
    await error_response(status, error, message)(scope, receive, send)


def install_request_guards(
    app: FastAPI,
    *,
    max_body_bytes: int,
    multipart_prefixes: tuple[str, ...] = (),
    exempt_prefixes: tuple[str, ...] = ("/channels/",),
    upload_max_bytes: int | None = None,
    on_refused: OnRefused | None = None,
) -> None:
    """Guard every route of ``app``: body limit while reading, JSON-only state-changing requests.

    ``multipart_prefixes``: path prefixes that also take ``multipart/form-data`` (uploads).
    ``exempt_prefixes``: path prefixes whose senders can't choose their content type (channel
    callbacks, e.g. WeChat's XML pushes); they skip the content-type rule, never the size limit.
    """
    app.add_middleware(
        RequestGuards,
        max_body_bytes=max_body_bytes,
        multipart_prefixes=multipart_prefixes,
        exempt_prefixes=exempt_prefixes,
        upload_max_bytes=upload_max_bytes,
        on_refused=on_refused,
    )
