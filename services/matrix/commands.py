"""`gridcase matrix …`: check, import and export the responsibility matrix (权责清单)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import asyncpg
import typer

if TYPE_CHECKING:
    from schemas.matrix import RuleIn

app = typer.Typer(
    help="Responsibility matrix: category × area → departments, level, time limits.", no_args_is_help=True
)

HomeOpt = Annotated[Path, typer.Option(help="Where the embedded default keeps its data.")]
FileArg = Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="YAML file with a `rules` list.")]


def _run(home: Path, work: Callable[[asyncpg.Connection], Awaitable[int]]) -> int:
    from services.cli import _database_url
    from services.db.pool import connect

    async def go(url: str) -> int:
        conn = await connect(url)
        try:
            return await work(conn)
        finally:
            await conn.close()

    with _database_url(home) as url:
        return asyncio.run(go(url))


def _rules(file: Path) -> list[RuleIn]:
    from services.matrix.files import BadRulesFile, read

    try:
        return list(read(file))
    except BadRulesFile as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None


@app.command("check")
def check_cmd(
    file: Annotated[
        Path | None,
        typer.Option(
            "--file",
            exists=True,
            dir_okay=False,
            help="Check the matrix as it would be after importing this file.",
        ),
    ] = None,
    home: HomeOpt = Path(".gridcase"),
) -> None:
    """Report invalid rules and categories left without a lead department somewhere. Exits 1 on errors."""
    from services.cli import _cli_actor
    from services.http.errors import ApiError
    from services.matrix.service import check_stored, import_rules

    rules = _rules(file) if file else []

    async def work(conn: asyncpg.Connection) -> int:
        tx = conn.transaction()
        await tx.start()
        try:
            if rules:  # applied in a transaction that is rolled back: nothing changes
                await import_rules(conn, _cli_actor(), rules, replace=False)
            report = await check_stored(conn)
        except ApiError as exc:
            typer.echo(f"error: {exc.message}", err=True)
            return 1
        finally:
            await tx.rollback()
        typer.echo(report.format())
        return 0 if report.ok else 1

    code = _run(home, work)
    if code:
        raise typer.Exit(code)


@app.command("import")
def import_cmd(
    file: FileArg,
    replace: Annotated[bool, typer.Option(help="Delete area rules that are not in the file.")] = False,
    home: HomeOpt = Path(".gridcase"),
) -> None:
    """Upsert the file's rules (each checked, each audited as cli:<user>); all or nothing. Refused when the
    result leaves a category without a lead department somewhere."""
    from services.cli import _cli_actor
    from services.http.errors import ApiError
    from services.matrix.service import check_stored, import_rules

    rules = _rules(file)

    async def work(conn: asyncpg.Connection) -> int:
        tx = conn.transaction()
        await tx.start()
        try:
            counts = await import_rules(conn, _cli_actor(), rules, replace=replace)
            report = await check_stored(conn)
            if not report.ok:
                typer.echo(report.format())
                typer.echo("error: not imported: the matrix would have errors", err=True)
                await tx.rollback()
                return 1
        except ApiError as exc:
            await tx.rollback()
            typer.echo(f"error: not imported: {exc.message}", err=True)
            return 1
        except BaseException:
            await tx.rollback()
            raise
        await tx.commit()
        typer.echo(f"imported {counts['rules']} rules, removed {counts['removed']}")
        return 0

    code = _run(home, work)
    if code:
        raise typer.Exit(code)


@app.command("export")
def export_cmd(home: HomeOpt = Path(".gridcase")) -> None:
    """Print the area rules as a rules file (the category defaults are in the category table)."""
    from services.matrix import repository
    from services.matrix.files import dump

    async def work(conn: asyncpg.Connection) -> int:
        typer.echo(dump(await repository.rows(conn)), nl=False)
        return 0

    _run(home, work)
