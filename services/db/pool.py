"""Connections to the system of record. The hot path uses asyncpg directly (no ORM)."""

from __future__ import annotations

import json
from typing import Any

import asyncpg


def asyncpg_dsn(url: str) -> str:
    """Accept both plain and SQLAlchemy-style URLs (postgresql+asyncpg://)."""
    scheme, sep, rest = url.partition("://")
    return f"postgresql://{rest}" if sep and scheme.startswith("postgres") else url


def sqlalchemy_url(url: str) -> str:
    _scheme, sep, rest = url.partition("://")
    return f"postgresql+asyncpg://{rest}" if sep else url


async def _init_connection(conn: asyncpg.Connection) -> None:
    await conn.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")
    await conn.set_type_codec("json", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


async def create_pool(url: str, *, min_size: int = 1, max_size: int = 10, **kwargs: Any) -> asyncpg.Pool:
    pool = await asyncpg.create_pool(
        asyncpg_dsn(url), min_size=min_size, max_size=max_size, init=_init_connection, **kwargs
    )
    if pool is None:  # asyncpg returns None only when awaited oddly; never in practice
        raise RuntimeError("could not create a database pool")
    return pool


async def connect(url: str) -> asyncpg.Connection:
    conn = await asyncpg.connect(asyncpg_dsn(url))
    await _init_connection(conn)
    return conn
