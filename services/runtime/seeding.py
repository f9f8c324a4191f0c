"""Seed reference data (and optionally the demo district and its accounts) into a migrated
database, and bootstrap the `admin` account."""

from __future__ import annotations

from pathlib import Path

from services.db.pool import connect
from services.identity.bootstrap import ensure_admin, ensure_generated_admin, seed_demo_accounts
from services.reference.seed import seed_demo_district, seed_demo_rules, seed_reference


async def seed(
    url: str,
    *,
    demo: bool,
    admin_password: str | None = None,
    generated_admin_home: Path | None = None,
) -> dict[str, int | str]:
    """``admin_password`` (GRIDCASE_ADMIN_PASSWORD) creates or updates `admin`. Without it and with
    ``generated_admin_home`` (the embedded default), a first start generates one: it is returned
    under ``admin_password`` to be printed once."""
    conn = await connect(url)
    try:
        counts: dict[str, int | str] = dict(await seed_reference(conn))
        if demo:
            counts["areas"] = await seed_demo_district(conn)
            counts["matrix_rules"] = await seed_demo_rules(conn)
            counts["demo_accounts"] = await seed_demo_accounts(conn)
        if admin_password:
            await ensure_admin(conn, admin_password)
        elif generated_admin_home is not None:
            generated = await ensure_generated_admin(conn, generated_admin_home)
            if generated:
                counts["admin_password"] = generated
        return counts
    finally:
        await conn.close()
