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
    if scope is Scope.LEAD:
        params.append(principal.department_code)
        return f"({area} AND department_code = ${len(params)})"
    return area


def count_condition(principal: Principal, permission: Permission, params: list[Any]) -> str | None:
    """The same condition on ``case_counts`` rows (status, grid_code, department_code, assist, n),
    or None when those rows can't answer it (a feed's own cases: count them in ``cases``).

    A case has one row for its lead department (``NOT assist``) and one per assisting department
    that is not also the lead, so summing the rows a condition selects counts each case once. No
    grid / no department is '' there (NULL in ``cases``): it equals no code, as NULL does.
    """
    scope = scope_of(principal.role, permission)
    if scope is None:
        return "FALSE"
    if scope is Scope.SUBMITTER:
        return None
    if scope is Scope.GLOBAL:
        return "NOT assist"
    area = area_condition(principal, params)
    if scope is Scope.DEPARTMENT:
        params.append(principal.department_code)
        return f"({area} AND department_code = ${len(params)})"
    if scope is Scope.LEAD:
        params.append(principal.department_code)
        return f"({area} AND NOT assist AND department_code = ${len(params)})"
    return f"({area} AND NOT assist)"
