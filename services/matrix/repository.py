"""Reading and writing the matrix's rows: the categories' own columns (the defaults) and the area
rules in ``responsibility_rules``."""

from __future__ import annotations

from typing import Any

import asyncpg

from services.matrix.rules import AreaNode, Matrix, Rule


def to_rule(row: asyncpg.Record) -> Rule:
    """A stored area rule."""
    return Rule(
        category_code=row["category_code"],
        area_code=row["area_code"],
        department_code=row["department_code"],
        assist=tuple(row["assist"]) if row["assist"] is not None else None,
        level=row["level"],
        sign_limit=row["sign_limit"],
        handle_limit=row["handle_limit"],
        note=row["note"],
        id=row["id"],
    )


async def fetch_rules(conn: asyncpg.Connection | asyncpg.Pool) -> list[asyncpg.Record]:
    return list(await conn.fetch("SELECT * FROM responsibility_rules ORDER BY category_code, area_code"))


async def load(conn: asyncpg.Connection | asyncpg.Pool) -> Matrix:
    categories = await conn.fetch("SELECT * FROM categories")
    areas = await conn.fetch("SELECT code, name, level, parent_code FROM areas")
    return Matrix(
        defaults={
            r["code"]: Rule(
                r["code"],
                None,
                r["department_code"],
                tuple(r["assist"] or ()),
                r["level"],
                r["sign_limit"],
                r["handle_limit"],
            )
            for r in categories
        },
        rules={(r["category_code"], r["area_code"]): to_rule(r) for r in await fetch_rules(conn)},
        areas={r["code"]: AreaNode(r["code"], r["name"], r["level"], r["parent_code"]) for r in areas},
    )


async def rows(
    conn: asyncpg.Connection, *, category_code: str | None = None, area_code: str | None = None
) -> list[dict[str, Any]]:
    """Defaults and area rules as people read them, by category then area (default first)."""
    params: list[Any] = []
    where_c, where_r = ["TRUE"], ["TRUE"]
    if category_code:
        params.append(category_code)
        where_c.append(f"c.code = ${len(params)}")
        where_r.append(f"r.category_code = ${len(params)}")
    if area_code:
        params.append(area_code)
        where_c.append("FALSE")  # a default belongs to no area
        where_r.append(f"r.area_code = ${len(params)}")
    found = await conn.fetch(
        f"""
        SELECT NULL::bigint AS id, c.code AS category_code, c.name AS category_name, NULL AS area_code,
               '全区（类别默认）' AS area_name, NULL AS area_level, c.department_code, d.name AS department_name,
               ARRAY(SELECT jsonb_array_elements_text(c.assist)) AS assist, c.level, c.sign_limit, c.handle_limit,
               NULL AS note, NULL AS updated_by, NULL::timestamptz AS updated_at
          FROM categories c LEFT JOIN departments d ON d.code = c.department_code
         WHERE {" AND ".join(where_c)}
        UNION ALL
        SELECT r.id, r.category_code, c.name, r.area_code, a.name, a.level, r.department_code, d.name,
               r.assist, r.level, r.sign_limit, r.handle_limit, r.note, r.updated_by, r.updated_at
          FROM responsibility_rules r JOIN categories c ON c.code = r.category_code
          JOIN areas a ON a.code = r.area_code LEFT JOIN departments d ON d.code = r.department_code
         WHERE {" AND ".join(where_r)}
         ORDER BY category_code, area_code NULLS FIRST
        """,
        *params,
    )
    return [dict(r) for r in found]


async def rule_row(
    conn: asyncpg.Connection, category_code: str, area_code: str | None
) -> dict[str, Any] | None:
    found = await rows(conn, category_code=category_code, area_code=area_code)
    return next((r for r in found if r["area_code"] == area_code), None)


async def upsert_rule(conn: asyncpg.Connection, rule: Rule, *, updated_by: str) -> None:
    await conn.execute(
        "INSERT INTO responsibility_rules (category_code, area_code, department_code, assist, level, sign_limit, "
        "handle_limit, note, updated_by, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, now()) "
        "ON CONFLICT (category_code, area_code) DO UPDATE SET department_code = EXCLUDED.department_code, "
        "assist = EXCLUDED.assist, level = EXCLUDED.level, sign_limit = EXCLUDED.sign_limit, "
        "handle_limit = EXCLUDED.handle_limit, note = EXCLUDED.note, updated_by = EXCLUDED.updated_by, "
        "updated_at = now()",
        rule.category_code,
        rule.area_code,
        rule.department_code,
        list(rule.assist) if rule.assist is not None else None,
        rule.level,
        rule.sign_limit,
        rule.handle_limit,
        rule.note,
        updated_by,
    )


async def update_default(conn: asyncpg.Connection, rule: Rule) -> None:
    """The category's own row: only the fields given change."""
    changes: dict[str, Any] = {
        "department_code": rule.department_code,
        "assist": list(rule.assist) if rule.assist is not None else None,
        "level": rule.level,
        "sign_limit": rule.sign_limit,
        "handle_limit": rule.handle_limit,
    }
    changes = {k: v for k, v in changes.items() if v is not None}
    if not changes:
        return
    sets = ", ".join(f"{k} = ${i}" for i, k in enumerate(changes, start=2))
    await conn.execute(f"UPDATE categories SET {sets} WHERE code = $1", rule.category_code, *changes.values())


async def delete_rule(conn: asyncpg.Connection, rule_id: int) -> dict[str, Any] | None:
    row = await conn.fetchrow("DELETE FROM responsibility_rules WHERE id = $1 RETURNING *", rule_id)
    return dict(row) if row is not None else None
