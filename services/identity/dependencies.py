"""Route-level authorization: ``Annotated[Principal, require(Permission.X)]``.

The permission is declared as an OpenAPI security requirement of the route (``security: [{"bearer":
["case.read"]}, …]``), so the API document says what each route needs and a test can probe every
route from it. Case conditions are checked by the route with :func:`authorize_case`.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyCookie, HTTPBearer, SecurityScopes

from schemas.access import CaseFacts, Permission, decide
from schemas.identity import Principal
from services.http.errors import Forbidden, NotFound, Unauthenticated
from services.identity.middleware import SESSION_COOKIE

bearer_scheme = HTTPBearer(
    auto_error=False,
    scheme_name="bearer",
    description="Session token from /api/v1/auth/login, or an API token",
)
cookie_scheme = APIKeyCookie(
    name=SESSION_COOKIE, auto_error=False, scheme_name="session_cookie", description="The console's sign-in"
)


async def _principal(
    request: Request,
    security_scopes: SecurityScopes,
    _bearer: Annotated[Any, Depends(bearer_scheme)],
    _cookie: Annotated[Any, Depends(cookie_scheme)],
) -> Principal:
    principal: Principal | None = getattr(request.state, "principal", None)
    if principal is None:
        raise Unauthenticated("请先登录：缺少或无效的身份凭证")
    for name in security_scopes.scopes:
        decision = decide(principal, Permission(name))
        if not decision:
            raise Forbidden(decision.reason)
    return principal


def require(permission: Permission) -> Any:
    return Security(_principal, scopes=[permission.value])


def authorize_case(
    principal: Principal, permission: Permission, case: CaseFacts, *, hide: bool = False
) -> None:
    """Refuse unless the policy allows ``permission`` on ``case``. With ``hide`` a refusal is a 404:
    reading a case one may not see must not reveal that it exists."""
    decision = decide(principal, permission, case)
    if decision:
        return
    if hide:
        raise NotFound("案件不存在或无权查看", error="case_not_found")
    raise Forbidden(decision.reason)
