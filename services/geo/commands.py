"""``gridcase grids``: check a grid registry file and import it into the areas table."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(help="Grid registry: check and import the area tree (GeoJSON).", no_args_is_help=True)

FileArg = Annotated[
    Path, typer.Argument(exists=True, dir_okay=False, help="GeoJSON FeatureCollection of areas.")
]
ToleranceOpt = Annotated[
    float, typer.Option(help="Overlaps and gaps up to this many square metres are ignored.")
]


def _read(file: Path) -> dict[str, object]:
    from services.geo.registry import load

    try:
        return load(file)
    except (OSError, ValueError) as exc:
        typer.echo(f"error: cannot read {file}: {exc}", err=True)
        raise typer.Exit(2) from None


@app.command("check")
def check_file(file: FileArg, tolerance: ToleranceOpt = 1.0) -> None:
    """Check the file on its own (no database): codes, tree, polygons, overlaps and gaps.
    Exits 1 when there are errors."""
    from services.geo.registry import check

    report = check(_read(file), area_tolerance_m2=tolerance)
    typer.echo(report.format())
    if not report.ok:
        raise typer.Exit(1)


@app.command("import")
def import_file(
    file: FileArg,
    force: Annotated[
        bool,
        typer.Option(
            help="Import despite geometry errors (overlaps, invalid polygons); never despite errors "
            "in codes or the tree."
        ),
    ] = False,
    tolerance: ToleranceOpt = 1.0,
    home: Annotated[Path, typer.Option(help="Where the embedded default keeps its data.")] = Path(
        ".gridcase"
    ),
) -> None:
    """Check the file (parents may already be stored) and upsert its areas by code; refuses when the
    check finds errors. Warnings are printed and do not stop the import. Idempotent."""
    from services.cli import _database_url
    from services.db.pool import connect
    from services.geo.registry import check, import_areas, known_areas

    collection = _read(file)

    async def go(url: str) -> int:
        conn = await connect(url)
        try:
            report = check(collection, known=await known_areas(conn), area_tolerance_m2=tolerance)
            typer.echo(report.format())
            blocking = report.blocking(force=force)
            if blocking:
                hint = " (--force overrides geometry errors only)" if not force else ""
                typer.echo(f"error: not imported: {len(blocking)} error(s){hint}", err=True)
                return 1
            result = await import_areas(conn, report.areas)
            typer.echo(
                f"imported {len(report.areas)} areas: {result.added} new, {result.changed} changed, "
                f"{result.unchanged} unchanged"
            )
            return 0
        finally:
            await conn.close()

    with _database_url(home) as url:
        code = asyncio.run(go(url))
    if code:
        raise typer.Exit(code)
