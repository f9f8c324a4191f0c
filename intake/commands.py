"""`gridcase intake …`: run again the stored requests that failed, delete raw requests past retention."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(help="The raw store of inbound requests.", no_args_is_help=True)

HomeOpt = Annotated[Path, typer.Option(help="Where the embedded default keeps its data.")]


@app.command("replay")
def replay_cmd(
    ids: Annotated[
        list[int] | None, typer.Argument(help="Raw request ids (default: every failed or stalled one).")
    ] = None,
    limit: Annotated[int, typer.Option(help="At most this many requests.")] = 1000,
    dry_run: Annotated[bool, typer.Option(help="Only list what would be replayed.")] = False,
    home: HomeOpt = Path(".gridcase"),
) -> None:
    """Take in again the requests kept as failed (our fault, since fixed) or stalled (never finished).
    Each keeps its channel's idempotency key, so a request that did make its case finds the same one."""
    from intake.inbound import replay, replayable
    from services.cli import _database_url
    from services.db.pool import create_pool

    async def go(url: str) -> int:
        pool = await create_pool(url, max_size=2)
        try:
            rows = await replayable(pool, ids=ids, limit=limit)
            if dry_run:
                for row in rows:
                    typer.echo(
                        f"{row['id']}\t{row['received_at']:%Y-%m-%d %H:%M:%S}\t{row['path']}\t{row['outcome']}"
                    )
                typer.echo(f"{len(rows)} request(s) would be replayed")
                return 0
            results = await replay(pool, rows)
        finally:
            await pool.close()
        for r in results:
            typer.echo(f"{r.raw_id}\t{r.path}\t{r.outcome}\t{r.note}")
        skipped = sum(r.outcome == "skipped" for r in results)
        typer.echo(f"replayed {len(results) - skipped}, skipped {skipped}")
        return 0

    with _database_url(home) as url:
        raise typer.Exit(asyncio.run(go(url)))


@app.command("purge")
def purge_cmd(home: HomeOpt = Path(".gridcase")) -> None:
    """Delete raw requests older than GRIDCASE_RAW_RETENTION_DAYS (the intake service also does it hourly)."""
    from intake.inbound import purge
    from services.cli import _database_url
    from services.db.pool import create_pool
    from services.settings import get_settings

    s = get_settings()

    async def go(url: str) -> dict[str, int]:
        pool = await create_pool(url, max_size=2)
        try:
            return await purge(pool, retention_days=s.raw_retention_days, nonce_window_s=s.signature_window_s)
        finally:
            await pool.close()

    with _database_url(home) as url:
        counts = asyncio.run(go(url))
    typer.echo(", ".join(f"{k}: {v} deleted" for k, v in counts.items()))
