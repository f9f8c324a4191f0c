"""The `gridcase` command."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Awaitable, Callable, Iterator
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from fastapi import FastAPI

from intake.commands import app as intake_app
from intake.hotline.commands import app as import_app
from services.classify.commands import routing_app
from services.geo.commands import app as grids_app
from services.matrix.commands import app as matrix_app
from services.sla.calendar_commands import calendar_app

T = TypeVar("T")

app = typer.Typer(help="Gridcase: case dispatch for grid management command centres.", no_args_is_help=True)
dlq_app = typer.Typer(help="Dead letters: messages a service could not handle.", no_args_is_help=True)
app.add_typer(dlq_app, name="dlq")
user_app = typer.Typer(help="Accounts (for a server with no browser yet).", no_args_is_help=True)
app.add_typer(user_app, name="user")
token_app = typer.Typer(help="API tokens of feeds and department systems.", no_args_is_help=True)
app.add_typer(token_app, name="token")
app.add_typer(routing_app, name="routing")
app.add_typer(grids_app, name="grids")
app.add_typer(matrix_app, name="matrix")
app.add_typer(import_app, name="import")
app.add_typer(intake_app, name="intake")
app.add_typer(calendar_app, name="calendar")


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
    from services.runtime.logs import configure_launcher_logging

    configure_launcher_logging()
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


def _cli_actor() -> str:
    """Who did it, for the audit log: the operating-system user at the server."""
    import getpass

    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli:unknown"


def _with_conn(home: Path, work: Callable[[Any, Any], Awaitable[T]]) -> T:
    """Run ``work(conn, catalog)`` in one transaction against the configured or embedded database."""
    from services.db.pool import connect
    from services.reference.catalog import Catalog

    async def go(url: str) -> T:
        conn = await connect(url)
        try:
            catalog = await Catalog.load(conn)
            async with conn.transaction():
                return await work(conn, catalog)
        finally:
            await conn.close()

    with _database_url(home) as url:
        return asyncio.run(go(url))


def _refused(exc: Exception) -> typer.Exit:
    from services.http.errors import ApiError

    message = exc.message if isinstance(exc, ApiError) else str(exc)
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(1)


AreaOpt = Annotated[
    list[str] | None,
    typer.Option("--area", help="Limit to an area code (street, community or grid); repeat."),
]


@user_app.command("add")
def user_add(
    username: str,
    role: Annotated[str, typer.Option(help="admin | operator | leader | department | grid_worker | feed")],
    display_name: Annotated[str, typer.Option("--name", help="Name people read (张敏).")],
    department: Annotated[str | None, typer.Option(help="Department code (role department).")] = None,
    area: AreaOpt = None,
    channel: Annotated[str | None, typer.Option(help="Channel (role feed).")] = None,
    home: HomeOpt = Path(".gridcase"),
) -> None:
    """Create an account; the password is asked for (or read from GRIDCASE_NEW_PASSWORD)."""
    from pydantic import ValidationError

    from schemas.accounts import UserIn
    from services.http.errors import ApiError
    from services.identity.accounts import create_user

    password = os.environ.get("GRIDCASE_NEW_PASSWORD") or typer.prompt(
        "Password", hide_input=True, confirmation_prompt=True
    )
    try:
        new = UserIn.model_validate(
            {
                "username": username,
                "password": password,
                "display_name": display_name,
                "role": role,
                "department_code": department,
                "area_codes": area or [],
                "channel": channel,
            }
        )
        created = _with_conn(home, lambda conn, catalog: create_user(conn, catalog, new, actor=_cli_actor()))
    except (ApiError, ValidationError) as exc:
        raise _refused(exc) from None
    typer.echo(f"created {created.username} ({created.role_label})")


@user_app.command("list")
def user_list(home: HomeOpt = Path(".gridcase")) -> None:
    """List accounts."""
    from rich.console import Console
    from rich.table import Table

    from services.identity.accounts import list_users

    users = _with_conn(home, lambda conn, _catalog: list_users(conn))
    table = Table("username", "name", "role", "department", "areas", "channel", "state", "last sign-in")
    for u in users:
        state = "disabled" if u.disabled else ("locked" if u.locked_until else "active")
        table.add_row(
            u.username,
            u.display_name,
            u.role.value,
            u.department_code or "",
            ",".join(u.area_codes),
            u.channel or "",
            state,
            str(u.last_login_at or "")[:19],
        )
    Console().print(table)


@user_app.command("disable")
def user_disable(username: str, home: HomeOpt = Path(".gridcase")) -> None:
    """Disable an account and sign it out everywhere."""
    from services.http.errors import ApiError
    from services.identity.accounts import set_disabled

    try:
        _with_conn(home, lambda conn, _c: set_disabled(conn, username, disabled=True, actor=_cli_actor()))
    except ApiError as exc:
        raise _refused(exc) from None
    typer.echo(f"disabled {username}")


@user_app.command("passwd")
def user_passwd(username: str, home: HomeOpt = Path(".gridcase")) -> None:
    """Set a new password (unlocks the account, signs it out everywhere)."""
    from services.http.errors import ApiError
    from services.identity.accounts import reset_password

    password = os.environ.get("GRIDCASE_NEW_PASSWORD") or typer.prompt(
        "New password", hide_input=True, confirmation_prompt=True
    )
    try:
        _with_conn(home, lambda conn, _c: reset_password(conn, username, password, actor=_cli_actor()))
    except ApiError as exc:
        raise _refused(exc) from None
    typer.echo(f"password of {username} changed")


@token_app.command("create")
def token_create(
    name: str,
    role: Annotated[str, typer.Option(help="feed | department | operator | leader | grid_worker | admin")],
    channel: Annotated[str | None, typer.Option(help="Channel (role feed).")] = None,
    department: Annotated[str | None, typer.Option(help="Department code (role department).")] = None,
    area: AreaOpt = None,
    home: HomeOpt = Path(".gridcase"),
) -> None:
    """Create an API token and print it once (only its hash is kept)."""
    from pydantic import ValidationError

    from schemas.accounts import TokenIn
    from services.http.errors import ApiError
    from services.identity.accounts import create_token

    try:
        new = TokenIn.model_validate(
            {
                "name": name,
                "role": role,
                "channel": channel,
                "department_code": department,
                "area_codes": area or [],
            }
        )
        created = _with_conn(home, lambda conn, catalog: create_token(conn, catalog, new, actor=_cli_actor()))
    except (ApiError, ValidationError) as exc:
        raise _refused(exc) from None
    typer.echo(f"# token {created.id} ({created.role.value}); store it now, it is not shown again", err=True)
    typer.echo(created.token)


@token_app.command("list")
def token_list(home: HomeOpt = Path(".gridcase")) -> None:
    """List API tokens (never the tokens themselves)."""
    from rich.console import Console
    from rich.table import Table

    from services.identity.accounts import list_tokens

    tokens = _with_conn(home, lambda conn, _c: list_tokens(conn))
    table = Table("id", "name", "prefix", "role", "channel", "department", "created", "revoked")
    for t in tokens:
        table.add_row(
            str(t.id),
            t.name,
            t.prefix,
            t.role.value,
            t.channel or "",
            t.department_code or "",
            str(t.created_at)[:19],
            str(t.revoked_at or "")[:19],
        )
    Console().print(table)


@token_app.command("revoke")
def token_revoke(token_id: str, home: HomeOpt = Path(".gridcase")) -> None:
    """Revoke an API token (other processes stop accepting it within GRIDCASE_TOKEN_CACHE_S)."""
    import uuid

    from services.http.errors import ApiError
    from services.identity.accounts import revoke_token

    try:
        tid = uuid.UUID(token_id)
        _with_conn(home, lambda conn, _c: revoke_token(conn, tid, actor=_cli_actor()))
    except (ApiError, ValueError) as exc:
        raise _refused(exc) from None
    typer.echo(f"revoked {token_id}")


@app.command()
def seed(
    demo: Annotated[
        bool, typer.Option(help="Also load the demo district (areas and grid polygons).")
    ] = False,
    home: HomeOpt = Path(".gridcase"),
) -> None:
    """Load reference categories and departments (idempotent)."""
    from services.runtime.seeding import seed as do_seed

    admin_password = os.environ.get("GRIDCASE_ADMIN_PASSWORD") or None
    with _database_url(home) as url:
        counts = asyncio.run(do_seed(url, demo=demo, admin_password=admin_password))
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
