"""Changing the matrix, in the caller's transaction: every change is checked first and audited with
what it was before. Used by the admin API and by `gridcase matrix import`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg

from schemas.identity import Principal
from schemas.matrix import RuleIn
from services.audit.service import record as audit
from services.http.errors import Invalid, NotFound
from services.matrix import repository
from services.matrix.rules import AreaNode, CheckReport, Rule, check, check_rule


def to_rule(body: RuleIn) -> Rule:
    return Rule(
        category_code=body.category_code,
        area_code=body.area_code,
        department_code=body.department_code,
        assist=tuple(body.assist) if body.assist is not None else None,
        level=body.level.value if body.level else None,
        sign_limit=body.sign_limit.strip() if body.sign_limit else None,
        handle_limit=body.handle_limit.strip() if body.handle_limit else None,
        note=(body.note or "").strip() or None,
    )


async def _validate(conn: asyncpg.Connection, rule: Rule) -> None:
    if not await conn.fetchval("SELECT true FROM categories WHERE code = $1", rule.category_code):
        raise Invalid("category_code", f"案件类别“{rule.category_code}”不存在")
    departments = [r["code"] for r in await conn.fetch("SELECT code FROM departments")]
    areas = {}
    if rule.area_code is not None:
        row = await conn.fetchrow(
            "SELECT code, name, level, parent_code FROM areas WHERE code = $1", rule.area_code
        )
        if row is None:
            raise Invalid("area_code", f"区域“{rule.area_code}”不存在")
        areas[row["code"]] = AreaNode(row["code"], row["name"], row["level"], row["parent_code"])
    wrong = check_rule(rule, departments=departments, areas=areas)
    if wrong:
        raise Invalid("body", "；".join(wrong))
    if rule.area_code is not None and not any(
        (rule.department_code, rule.assist is not None, rule.level, rule.sign_limit, rule.handle_limit)
    ):
        raise Invalid("body", "规则没有任何内容：至少填写责任部门、协办部门、处置层级或时限之一")


async def put_rule(
    conn: asyncpg.Connection, actor: Principal | str, body: RuleIn, *, client_ip: str | None = None
) -> dict[str, Any]:
    """Create or replace the rule for (category, area); without an area, change the category's own row."""
    rule = to_rule(body)
    await _validate(conn, rule)
    before = await repository.rule_row(conn, rule.category_code, rule.area_code)
    who = actor.subject if isinstance(actor, Principal) else actor
    if rule.area_code is None:
        await repository.update_default(conn, rule)
    else:
        await repository.upsert_rule(conn, rule, updated_by=who)
    after = await repository.rule_row(conn, rule.category_code, rule.area_code)
    assert after is not None
    await audit(
        conn,
        actor=actor,
        action="matrix.rule.put",
        target=f"{rule.category_code}@{rule.area_code or '*'}",
        details={"before": _plain(before), "after": _plain(after)},
        client_ip=client_ip,
    )
    return after


async def delete_rule(
    conn: asyncpg.Connection, actor: Principal | str, rule_id: int, *, client_ip: str | None = None
) -> None:
    removed = await repository.delete_rule(conn, rule_id)
    if removed is None:
        raise NotFound(f"规则 {rule_id} 不存在（类别默认行不能删除，只能修改）", error="rule_not_found")
    await audit(
        conn,
        actor=actor,
        action="matrix.rule.delete",
        target=f"{removed['category_code']}@{removed['area_code']}",
        details={"before": _plain(removed)},
        client_ip=client_ip,
    )


async def import_rules(
    conn: asyncpg.Connection, actor: str, rules: Sequence[RuleIn], *, replace: bool
) -> dict[str, int]:
    """Upsert every rule of a file; with ``replace``, area rules not in the file are deleted."""
    for body in rules:
        await put_rule(conn, actor, body)
    removed = 0
    if replace:
        keep = {(r.category_code, r.area_code) for r in rules if r.area_code}
        for row in await repository.fetch_rules(conn):
            if (row["category_code"], row["area_code"]) not in keep:
                await delete_rule(conn, actor, row["id"])
                removed += 1
    return {"rules": len(rules), "removed": removed}


async def check_stored(conn: asyncpg.Connection) -> CheckReport:
    matrix = await repository.load(conn)
    departments = {r["code"]: r["name"] for r in await conn.fetch("SELECT code, name FROM departments")}
    names = {r["code"]: r["name"] for r in await conn.fetch("SELECT code, name FROM categories")}
    return check(matrix, departments=departments, category_names=names)


def _plain(row: dict[str, Any] | None) -> dict[str, Any] | None:
    """A row as JSON for the audit log (what people compare: the responsibility, not the names)."""
    if row is None:
        return None
    keys = ("department_code", "assist", "level", "sign_limit", "handle_limit", "note")
    return {k: (list(row[k]) if isinstance(row.get(k), list | tuple) else row.get(k)) for k in keys}
