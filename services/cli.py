"""The `gridcase` command."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable, Iterator
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from fastapi import FastAPI

app = typer.Typer(help="Gridcase: case dispatch for grid management command centres.", no_args_is_help=True)
dlq_app = typer.Typer(help="Dead letters: messages a service could not handle.", no_args_is_help=True)
app.add_typer(dlq_app, name="dlq")


class Service(StrEnum):
    intake = "intake"
    dispatch = "dispatch"
    escalation = "escalation"
    notify = "notify"
    relay = "relay"
    console = "console"


def _factory(service: Service) -> Callable[[], FastAPI]:
    if service is Service.intake:
        from intake.app import create_app
    elif service is Service.dispatch:
        from dispatch.app import create_app
    elif service is Service.escalation:
        from escalation.app import create_app
    elif service is Service.notify:
        from notify.app import create_app
    elif service is Service.relay:
        from services.messaging.relay_service import create_app
    else:
        from services.console.app import create_app
    return create_app


@contextlib.contextmanager
def _database_url(home: Path) -> Iterator[str]:
    """GRIDCASE_DATABASE_URL, or the embedded PostgreSQL under ``home`` for the duration."""
    url = os.environ.get("GRIDCASE_DATABASE_URL")
    if url:
        yield url
        return
    from services.runtime.embedded_pg import EmbeddedPostgres

    pg = EmbeddedPostgres(home / "pg")
    try:
        yield pg.start()
    finally:
        pg.stop()


HomeOpt = Annotated[Path, typer.Option(help="Where the embedded default keeps its data and logs.")]


@app.command()
def up(
    port: Annotated[
        int, typer.Option(help="Public HTTP port (console and report API); services use the next 5.")
    ] = 8000,
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    home: HomeOpt = Path(".gridcase"),
    kafka_port: Annotated[int, typer.Option(help="Port of the embedded Kafka-compatible broker.")] = 19092,
    demo: Annotated[bool, typer.Option(help="Seed the demo district.")] = True,
) -> None:
    """Start everything: embedded PostgreSQL and broker (unless configured), then every service."""
    from services.runtime.launcher import Supervisor

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    raise typer.Exit(Supervisor(home=home, host=host, port=port, kafka_port=kafka_port, seed_demo=demo).run())


@app.command()
def run(
    service: Service,
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 8000,
) -> None:
    """Run one service in the foreground (as a container does)."""
    import uvicorn

    uvicorn.run(
        _factory(service)(),
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=10,
    )


@app.command()
def migrate(home: HomeOpt = Path(".gridcase")) -> None:
    """Apply database migrations."""
    from services.db.migrate import upgrade

    with _database_url(home) as url:
        upgrade(url)
    typer.echo("migrated")


@app.command()
def seed(
    demo: Annotated[
        bool, typer.Option(help="Also load the demo district (areas and grid polygons).")
    ] = False,
    home: HomeOpt = Path(".gridcase"),
) -> None:
    """Load reference categories and departments (idempotent)."""
    from services.runtime.seeding import seed as do_seed

    with _database_url(home) as url:
        counts = asyncio.run(do_seed(url, demo=demo))
    typer.echo(" ".join(f"{k}={v}" for k, v in counts.items()))


@dlq_app.command("list")
def dlq_list(home: HomeOpt = Path(".gridcase"), limit: int = 50) -> None:
    """Show the latest dead letters with their reasons."""
    from rich.console import Console
    from rich.table import Table

    from services.db.pool import connect
    from services.messaging.deadletter import list_dead_letters

    async def fetch(url: str) -> list[dict[str, object]]:
        conn = await connect(url)
        try:
            return await list_dead_letters(conn, limit=limit)
        finally:
            await conn.close()

    with _database_url(home) as url:
        rows = asyncio.run(fetch(url))
    table = Table("id", "consumer", "topic", "partition/offset", "reason", "created", "replayed")
    for r in rows:
        table.add_row(
            str(r["id"]),
            str(r["consumer"]),
            str(r["topic"]),
            f"{r['partition']}/{r['offset']}",
            str(r["reason"])[:80],
            str(r["created_at"])[:19],
            str(r["replayed_at"] or "")[:19],
        )
    Console().print(table)


@dlq_app.command("replay")
def dlq_replay(dead_letter_id: int, home: HomeOpt = Path(".gridcase")) -> None:
    """Publish a dead letter to its original topic again."""
    from services.db.pool import connect
    from services.messaging.deadletter import replay_dead_letter

    async def go(url: str) -> bool:
        conn = await connect(url)
        try:
            async with conn.transaction():
                return await replay_dead_letter(conn, dead_letter_id=dead_letter_id)
        finally:
            await conn.close()

    with _database_url(home) as url:
        ok = asyncio.run(go(url))
    if not ok:
        typer.echo(f"dead letter {dead_letter_id} not found", err=True)
        raise typer.Exit(1)
    typer.echo(f"replayed {dead_letter_id}")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
