"""The access policy's case conditions as SQL, for lists and counts.

Same meaning as ``schemas.access.decide`` (a test checks they agree on generated cases): a list
shows exactly the cases a detail request would.
"""

from __future__ import annotations

from typing import Any

from schemas.access import Permission, Scope, scope_of
from schemas.identity import Principal


def area_condition(principal: Principal, params: list[Any], *, column: str = "grid_code") -> str:
    if principal.grid_codes is None:
        return "TRUE"
    params.append(sorted(principal.grid_codes))
    return f"{column} = ANY(${len(params)}::text[])"


def case_condition(principal: Principal, permission: Permission, params: list[Any]) -> str:
    """A condition on ``cases`` selecting what ``principal`` may ``permission``; binds into ``params``."""
    scope = scope_of(principal.role, permission)
    if scope is None:
        return "FALSE"
    if scope is Scope.GLOBAL:
        return "TRUE"
    if scope is Scope.SUBMITTER:
        params.append(principal.subject)
        return f"submitted_by = ${len(params)}"
    area = area_condition(principal, params)
    if scope is Scope.DEPARTMENT:
        params.append(principal.department_code)
        n = len(params)
        return f"({area} AND (department_code = ${n} OR ${n} = ANY(assist_department_codes)))"
    return area
