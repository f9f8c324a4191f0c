"""HTTP API of identity: sign-in and out, who am I, accounts and API tokens (admins)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Request, Response

from schemas.access import Permission, permissions_of
from schemas.accounts import (
    LoginIn,
    LoginOut,
    MeOut,
    PasswordIn,
    SessionOut,
    TokenCreated,
    TokenIn,
    TokenRecord,
    UserIn,
    UserOut,
    UserRecord,
)
from schemas.identity import Principal
from services.http.errors import Forbidden
from services.identity import accounts
from services.identity.dependencies import require
from services.identity.lockout import LockoutRules
from services.identity.middleware import SESSION_COOKIE
from services.identity.sessions import IssuedSession, login, revoke_session
from services.identity.verifier import TokenVerifier
from services.settings import Settings

router = APIRouter(prefix="/api/v1", tags=["identity"])


def _user_out(principal: Principal) -> UserOut:
    return UserOut(
        username=principal.username,
        display_name=principal.display_name,
        role=principal.role,
        role_label=principal.role_label,
        unit=principal.unit,
        department_code=principal.department_code,
        area_codes=list(principal.area_codes),
        channel=principal.channel,
    )


async def _sign_in(request: Request, body: LoginIn, kind: str) -> tuple[IssuedSession, Principal]:
    settings: Settings = request.app.state.settings
    rules = LockoutRules(
        throttle_after=settings.login_throttle_after,
        lock_after=settings.login_lock_after,
        lock_for=timedelta(minutes=settings.login_lock_minutes),
    )
    async with request.app.state.pool.acquire() as conn:
        issued = await login(
            conn,
            username=body.username,
            password=body.password.get_secret_value(),
            kind=kind,
            rules=rules,
            ttl=timedelta(hours=settings.session_ttl_hours),
            client_ip=request.client.host if request.client else None,
            user_agent=request.headers.get("user-agent"),
        )
    verifier: TokenVerifier = request.app.state.verifier
    principal = await verifier.verify(issued.token)
    if principal is None:  # the session was just written; only a concurrent disable gets here
        raise Forbidden("账户已停用，请联系管理员", error="account_disabled")
    return issued, principal


@router.post("/auth/login", response_model=LoginOut, summary="登录，获取访问令牌（Bearer）")
async def login_bearer(request: Request, body: LoginIn) -> LoginOut:
    issued, principal = await _sign_in(request, body, "bearer")
    return LoginOut(access_token=issued.token, expires_at=issued.expires_at, user=_user_out(principal))


@router.post("/auth/session", response_model=SessionOut, summary="控制台登录（HttpOnly 会话 Cookie）")
async def login_console(request: Request, response: Response, body: LoginIn) -> SessionOut:
    issued, principal = await _sign_in(request, body, "cookie")
    settings: Settings = request.app.state.settings
    response.set_cookie(
        SESSION_COOKIE,
        issued.token,
        max_age=int(settings.session_ttl_hours * 3600),
        path="/",
        httponly=True,
        samesite="strict",
        secure=settings.cookie_secure,
    )
    return SessionOut(
        user=_user_out(principal), expires_at=issued.expires_at, csrf_token=issued.csrf_token or ""
    )


@router.post("/auth/logout", summary="退出登录（吊销当前会话）")
async def logout(
    request: Request, response: Response, principal: Annotated[Principal, require(Permission.SESSION)]
) -> dict[str, bool]:
    if principal.kind != "session":
        raise Forbidden("接口令牌不能退出登录，请由管理员吊销", error="not_a_session")
    async with request.app.state.pool.acquire() as conn:
        revoked = await revoke_session(conn, uuid.UUID(principal.credential_id))
    if revoked:
        request.app.state.verifier.forget(revoked)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
    return {"signed_out": True}


@router.get("/auth/me", response_model=MeOut, summary="当前登录身份与权限")
async def me(request: Request, principal: Annotated[Principal, require(Permission.SESSION)]) -> MeOut:
    via_cookie = bool(getattr(request.state, "via_cookie", False))
    return MeOut(
        user=_user_out(principal),
        permissions=[p.value for p in permissions_of(principal.role)],
        csrf_token=principal.csrf_token if via_cookie else None,
        expires_at=principal.expires_at,
    )


# --- accounts ---------------------------------------------------------------------------------


@router.post("/users", status_code=201, response_model=UserRecord, summary="新建账号")
async def create_user(
    request: Request, body: UserIn, principal: Annotated[Principal, require(Permission.USERS_MANAGE)]
) -> UserRecord:
    catalog = await request.app.state.catalogs.get()
    async with request.app.state.pool.acquire() as conn, conn.transaction():
        return await accounts.create_user(conn, catalog, body, actor=principal)


@router.get("/users", response_model=list[UserRecord], summary="账号列表")
async def list_users(
    request: Request, principal: Annotated[Principal, require(Permission.USERS_MANAGE)]
) -> list[UserRecord]:
    async with request.app.state.pool.acquire() as conn:
        return await accounts.list_users(conn)


async def _set_disabled(request: Request, username: str, principal: Principal, disabled: bool) -> UserRecord:
    async with request.app.state.pool.acquire() as conn, conn.transaction():
        record = await accounts.set_disabled(conn, username, disabled=disabled, actor=principal)
    request.app.state.verifier.forget()
    return record


@router.post("/users/{username}/disable", response_model=UserRecord, summary="停用账号（并注销其全部会话）")
async def disable_user(
    request: Request, username: str, principal: Annotated[Principal, require(Permission.USERS_MANAGE)]
) -> UserRecord:
    if principal.username and principal.username == username.lower():
        raise Forbidden("不能停用自己的账号", error="cannot_disable_self")
    return await _set_disabled(request, username, principal, True)


@router.post("/users/{username}/enable", response_model=UserRecord, summary="启用账号")
async def enable_user(
    request: Request, username: str, principal: Annotated[Principal, require(Permission.USERS_MANAGE)]
) -> UserRecord:
    return await _set_disabled(request, username, principal, False)


@router.post(
    "/users/{username}/password", response_model=UserRecord, summary="重置密码（解除锁定并注销会话）"
)
async def reset_password(
    request: Request,
    username: str,
    body: PasswordIn,
    principal: Annotated[Principal, require(Permission.USERS_MANAGE)],
) -> UserRecord:
    async with request.app.state.pool.acquire() as conn, conn.transaction():
        record = await accounts.reset_password(
            conn, username, body.password.get_secret_value(), actor=principal
        )
    request.app.state.verifier.forget()
    return record


# --- API tokens -------------------------------------------------------------------------------


@router.post("/tokens", status_code=201, response_model=TokenCreated, summary="创建接口令牌（仅显示一次）")
async def create_token(
    request: Request, body: TokenIn, principal: Annotated[Principal, require(Permission.TOKENS_MANAGE)]
) -> TokenCreated:
    catalog = await request.app.state.catalogs.get()
    async with request.app.state.pool.acquire() as conn, conn.transaction():
        return await accounts.create_token(conn, catalog, body, actor=principal)


@router.get("/tokens", response_model=list[TokenRecord], summary="接口令牌列表")
async def list_tokens(
    request: Request, principal: Annotated[Principal, require(Permission.TOKENS_MANAGE)]
) -> list[TokenRecord]:
    async with request.app.state.pool.acquire() as conn:
        return await accounts.list_tokens(conn)


@router.delete("/tokens/{token_id}", response_model=TokenRecord, summary="吊销接口令牌")
async def revoke_token(
    request: Request, token_id: uuid.UUID, principal: Annotated[Principal, require(Permission.TOKENS_MANAGE)]
) -> TokenRecord:
    async with request.app.state.pool.acquire() as conn, conn.transaction():
        record, hashed = await accounts.revoke_token(conn, token_id, actor=principal)
    request.app.state.verifier.forget(hashed)
    return record
