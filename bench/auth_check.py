"""Micro-benchmark: CPU per request of checking a bearer token (issue 5: under 0.2 ms).

Starts an embedded PostgreSQL in a temporary folder, migrates it, creates a feed token, and
measures with ``time.process_time`` (CPU, not wall time):

1. ``TokenVerifier.verify`` with the token cached (the steady state of a busy feed);
2. the whole ``Authentication`` middleware around an ASGI app that does nothing (header parsing,
   verification, the principal put in the request state);
3. a cache miss (one PostgreSQL round trip), for comparison.

    .venv/bin/python bench/auth_check.py [--requests 200000]
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import tempfile
import time
from pathlib import Path
from typing import Any


async def measure(url: str, n: int) -> dict[str, float]:
    from schemas.accounts import TokenIn
    from services.db.pool import connect, create_pool
    from services.identity.accounts import create_token
    from services.identity.middleware import Authentication
    from services.identity.verifier import TokenVerifier
    from services.reference.catalog import Catalog, CatalogCache
    from services.runtime.seeding import seed

    await seed(url, demo=True)
    conn = await connect(url)
    try:
        catalog = await Catalog.load(conn)
        async with conn.transaction():
            created = await create_token(
                conn,
                catalog,
                TokenIn.model_validate({"name": "bench", "role": "feed", "channel": "hotline"}),
                actor="cli:bench",
            )
    finally:
        await conn.close()
    token = created.token
    pool = await create_pool(url, max_size=2)
    try:
        verifier = TokenVerifier(pool, CatalogCache(pool), ttl_s=3600)
        assert await verifier.verify(token) is not None  # warms the catalog and the cache

        start = time.process_time()
        for _ in range(n):
            await verifier.verify(token)
        cached_us = (time.process_time() - start) / n * 1e6

        async def app(scope: Any, receive: Any, send: Any) -> None:
            return None

        middleware = Authentication(app, verifier=lambda: verifier)
        scope = {
            "type": "http",
            "method": "POST",
            "path": "/api/v1/reports",
            "query_string": b"",
            "headers": [
                (b"host", b"127.0.0.1:8000"),
                (b"content-type", b"application/json"),
                (b"authorization", f"Bearer {token}".encode()),
            ],
        }
        start = time.process_time()
        for _ in range(n):
            await middleware(dict(scope), None, None)
        middleware_us = (time.process_time() - start) / n * 1e6

        misses = max(200, n // 1000)
        cold = TokenVerifier(pool, CatalogCache(pool), ttl_s=0)
        await cold.verify(token)
        start = time.process_time()
        for _ in range(misses):
            await cold.verify(token)
        miss_us = (time.process_time() - start) / misses * 1e6
    finally:
        await pool.close()
    return {"cached_verify_us": cached_us, "middleware_us": middleware_us, "cache_miss_us": miss_us}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--requests", type=int, default=200_000)
    args = p.parse_args()
    from services.db.migrate import upgrade
    from services.runtime.embedded_pg import EmbeddedPostgres

    with tempfile.TemporaryDirectory(prefix="gridcase-authbench-") as tmp:
        pg = EmbeddedPostgres(Path(tmp) / "pg")
        url = pg.start()
        try:
            upgrade(url)
            result = asyncio.run(measure(url, args.requests))
        finally:
            pg.stop()
    print(f"machine: {platform.machine()} {platform.processor() or ''} python {platform.python_version()}")
    print(f"requests measured: {args.requests}")
    print(f"verify, cached token:        {result['cached_verify_us']:.2f} µs CPU per request")
    print(f"middleware, cached token:    {result['middleware_us']:.2f} µs CPU per request")
    print(f"verify, cache miss (SQL):    {result['cache_miss_us']:.1f} µs CPU per request")
    ok = result["middleware_us"] < 200
    print(f"target < 200 µs (0.2 ms) per request: {'met' if ok else 'NOT met'}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
