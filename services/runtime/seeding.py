"""Seed reference data (and optionally the demo district) into a migrated database."""

from __future__ import annotations

from services.db.pool import connect
from services.reference.seed import seed_demo_district, seed_reference


async def seed(url: str, *, demo: bool) -> dict[str, int]:
    conn = await connect(url)
    try:
        counts = await seed_reference(conn)
        if demo:
            counts["areas"] = await seed_demo_district(conn)
        return counts
    finally:
        await conn.close()
