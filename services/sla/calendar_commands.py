"""``gridcase calendar``: import a year's holiday schedule (放假安排) and show a year's calendar."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Annotated

import typer

from services.sla.calendar import (
    CalendarFileError,
    WorkCalendar,
    YearSchedule,
    dump_overrides,
    library_holiday_name,
    read_override_file,
)

calendar_app = typer.Typer(
    help="Working-day calendar: statutory holidays and make-up working days (调休).",
    no_args_is_help=True,
)

CALENDAR_FILE = "calendar.yaml"  # inside <home>
_WEEKDAYS = "一二三四五六日"

HomeOpt = Annotated[Path, typer.Option(help="Where the embedded default keeps its data.")]


def _years_text(years: set[int]) -> str:
    """2004–2027 rather than 24 numbers; gaps shown as separate ranges."""
    runs: list[list[int]] = []
    for year in sorted(years):
        if runs and runs[-1][1] == year - 1:
            runs[-1][1] = year
        else:
            runs.append([year, year])
    return ", ".join(str(a) if a == b else f"{a}–{b}" for a, b in runs) or "none"


def _day(day: dt.date) -> str:
    return f"{day.isoformat()} 周{_WEEKDAYS[day.weekday()]}"


def _load(home: Path) -> WorkCalendar:
    try:
        return WorkCalendar.load(home / CALENDAR_FILE)
    except CalendarFileError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None


@calendar_app.command("import")
def import_file(
    file: Annotated[
        Path,
        typer.Argument(
            exists=True,
            dir_okay=False,
            help="YAML (or JSON): {years: {2027: {holidays: [YYYY-MM-DD, …], workdays: [YYYY-MM-DD, …]}}}.",
        ),
    ],
    home: HomeOpt = Path(".gridcase"),
) -> None:
    """Check the file and merge its years into <home>/calendar.yaml (a year in the file replaces
    the same year already there, and the library's). Nothing is written when the file has errors."""
    try:
        new = read_override_file(file)
    except CalendarFileError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    if not new:
        typer.echo(f"error: {file} lists no years", err=True)
        raise typer.Exit(2)
    target = home / CALENDAR_FILE
    try:
        existing = read_override_file(target) if target.exists() else {}
    except CalendarFileError as exc:
        # Don't overwrite a file we can't read: its years would be lost.
        typer.echo(f"error: the existing calendar cannot be read, fix or remove it: {exc}", err=True)
        raise typer.Exit(2) from None
    before = WorkCalendar.load(target if target.exists() else None)
    merged: dict[int, YearSchedule] = {**existing, **new}
    home.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".tmp")
    partial.write_text(dump_overrides(merged.values()), encoding="utf-8")
    os.replace(partial, target)  # atomic: a reader sees the old file or the new one, never half
    for year, schedule in sorted(new.items()):
        previous = before.schedule(year)
        note = f"replaces {previous.source}" if previous.confirmed else "was provisional"
        typer.echo(
            f"{year}: {len(schedule.holidays)} holidays, {len(schedule.workdays)} make-up workdays ({note})"
        )
    after = WorkCalendar.load(target)
    typer.echo(f"written {target}; confirmed years: {_years_text(after.confirmed_years())}")


@calendar_app.command("show")
def show(
    year: Annotated[int, typer.Argument(help="Year, e.g. 2026.")],
    home: HomeOpt = Path(".gridcase"),
) -> None:
    """List a year's holidays and make-up working days, and whether its schedule is confirmed."""
    calendar = _load(home)
    schedule = calendar.schedule(year)
    if schedule.confirmed:
        typer.echo(f"{year}: confirmed ({schedule.source})")
    else:
        typer.echo(
            f"{year}: NOT confirmed: provisional. Only weekends and the fixed-date holidays are known "
            "(元旦, 劳动节, 国庆节); 春节, 清明, 端午, 中秋 and 调休 are not. Deadlines touching "
            f"{year} are marked provisional until its schedule is imported (gridcase calendar import)."
        )
    from_library = schedule.source.startswith("chinesecalendar")
    typer.echo("holidays (放假):")
    for day in calendar.holidays(year):
        name = library_holiday_name(day) if from_library else None
        typer.echo(f"  {_day(day)}" + (f"  {name}" if name else ""))
    typer.echo("make-up workdays (调休上班):")
    workdays = calendar.makeup_workdays(year)
    for day in workdays:
        name = library_holiday_name(day) if from_library else None
        typer.echo(f"  {_day(day)}" + (f"  {name}" if name else ""))
    if not workdays:
        typer.echo("  none")
    typer.echo(f"confirmed years: {_years_text(calendar.confirmed_years())}")
