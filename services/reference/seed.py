"""Load reference data (departments, categories) and the demo district into the database.

The files are copies kept in this package (services/reference/data); the product never reads
anything outside its own installation. Seeding is idempotent: rows are upserted by code.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

import asyncpg
import yaml

from services.sla.timelimits import TimeLimit

DATA = resources.files("services.reference") / "data"


def load_yaml(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((DATA / name).read_text(encoding="utf-8"))
    return loaded


def demo_district() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((DATA / "demo_district.geojson").read_text(encoding="utf-8"))
    return loaded


async def seed_reference(conn: asyncpg.Connection) -> dict[str, int]:
    departments = load_yaml("departments.yaml")["departments"]
    categories = load_yaml("categories.yaml")["categories"]
    for c in categories:  # refuse a broken table at seed time, not at dispatch time
        TimeLimit.parse(str(c["sign"]))
        TimeLimit.parse(str(c["handle"]))
    async with conn.transaction():
        await conn.executemany(
            "INSERT INTO departments (code, name, name_en, level) VALUES ($1, $2, $3, $4) "
            "ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name, name_en = EXCLUDED.name_en, "
            "level = EXCLUDED.level",
            [(d["code"], d["name"], d.get("name_en"), d["level"]) for d in departments],
        )
        # Existing categories keep their (operator-tuned) time limits; only new ones are added.
        await conn.executemany(
            "INSERT INTO categories (code, name, kind, department_code, assist, level, urgency, sign_limit, "
            "handle_limit, must_report) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) "
            "ON CONFLICT (code) DO NOTHING",
            [
                (
                    c["code"],
                    c["name"],
                    c["kind"],
                    c["department"],
                    c.get("assist", []),
                    c["level"],
                    c["urgency"],
                    str(c["sign"]),
                    str(c["handle"]),
                    bool(c.get("must_report", False)),
                )
                for c in categories
            ],
        )
    return {"departments": len(departments), "categories": len(categories)}


async def seed_demo_district(conn: asyncpg.Connection) -> int:
    features = demo_district()["features"]
    order = {"district": 0, "street": 1, "community": 2, "grid": 3}
    features = sorted(features, key=lambda f: order[f["properties"]["level"]])  # parents first
    async with conn.transaction():
        await conn.executemany(
            "INSERT INTO areas (code, name, level, parent_code, geometry, worker) VALUES ($1, $2, $3, $4, $5, $6) "
            "ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name, level = EXCLUDED.level, "
            "parent_code = EXCLUDED.parent_code, geometry = EXCLUDED.geometry, worker = EXCLUDED.worker, "
            "updated_at = now()",
            [
                (
                    f["properties"]["code"],
                    f["properties"]["name"],
                    f["properties"]["level"],
                    f["properties"].get("parent_code"),
                    f.get("geometry"),
                    f["properties"].get("worker"),
                )
                for f in features
            ],
        )
    return len(features)


async def seed_demo_rules(conn: asyncpg.Connection) -> int:
    """The demo district's area rules of the responsibility matrix, added once: a rule changed later
    through the API is kept."""
    from services.matrix.files import parse
    from services.matrix.service import put_rule

    added = 0
    async with conn.transaction():
        for rule in parse(load_yaml("responsibility.yaml")):
            exists = await conn.fetchval(
                "SELECT true FROM responsibility_rules WHERE category_code = $1 AND area_code = $2",
                rule.category_code,
                rule.area_code,
            )
            if not exists:
                await put_rule(conn, "system:seed", rule)
                added += 1
    return added
