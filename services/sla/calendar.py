"""The Chinese working-day calendar: statutory holidays and make-up working days (调休).

Sources, later ones winning year by year (a year is replaced whole, never merged day by day):

1. the ``chinesecalendar`` library (``import chinese_calendar``), which covers 2004 up to its last
   published year;
2. the shipped ``services/sla/data/calendar_overrides.yaml``;
3. the deployment's own file (``<home>/calendar.yaml``, written by ``gridcase calendar import``).

A year none of them has is *provisional*: Saturdays and Sundays are off, and so are the statutory
fixed-date holidays (元旦 Jan 1; 劳动节 May 1, and May 2 from 2025 on; 国庆节 Oct 1–3). The
lunar and solar-term holidays (春节, 清明, 端午, 中秋) and every 调休 swap are unknown until the State
Council publishes the year's schedule, so they are not guessed; callers see ``is_confirmed(year)``
is False and the arithmetic in ``services.sla.worktime`` flags its results as provisional.

Everything is precomputed per year into sets: ``is_workday`` is a dict and two set lookups.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml

SHANGHAI = ZoneInfo("Asia/Shanghai")

SHIPPED_OVERRIDES = "calendar_overrides.yaml"  # in services/sla/data/
PROVISIONAL = "provisional"

_MIN_YEAR, _MAX_YEAR = 1949, 2200  # years outside this are typos, not schedules


class CalendarFileError(ValueError):
    """An override file that cannot be used; the message lists every problem found."""


@dataclass(frozen=True, slots=True)
class YearSchedule:
    """One year's days off on weekdays (``holidays``) and working weekend days (``workdays``).

    ``holidays`` may also hold weekend days inside a holiday range (they are off anyway).
    """

    year: int
    holidays: frozenset[dt.date]
    workdays: frozenset[dt.date]
    source: str  # "chinesecalendar 1.11.0", a file path, or "provisional"

    @property
    def confirmed(self) -> bool:
        return self.source != PROVISIONAL


def fixed_date_holidays(year: int) -> frozenset[dt.date]:
    """The statutory holidays that fall on the same Gregorian date every year (全国年节及纪念日放假办法)."""
    days = [(1, 1), (5, 1), (10, 1), (10, 2), (10, 3)]
    if year >= 2025:  # the 2024 revision made 劳动节 two days (May 1 and 2) from 2025 on
        days.append((5, 2))
    return frozenset(dt.date(year, m, d) for m, d in days)


def provisional_schedule(year: int) -> YearSchedule:
    return YearSchedule(year, fixed_date_holidays(year), frozenset(), PROVISIONAL)


def library_version() -> str:
    import chinese_calendar

    return str(chinese_calendar.__version__)


def library_schedules() -> dict[int, YearSchedule]:
    """Every year the chinesecalendar library covers, grouped once into per-year sets."""
    import chinese_calendar

    holidays: dict[int, set[dt.date]] = {}
    workdays: dict[int, set[dt.date]] = {}
    for day in chinese_calendar.holidays:
        holidays.setdefault(day.year, set()).add(day)
    for day in chinese_calendar.workdays:
        workdays.setdefault(day.year, set()).add(day)
    if not holidays:
        return {}
    source = f"chinesecalendar {library_version()}"
    # The library refuses any year outside [first, last] and has every year in between.
    first, last = min(holidays), max(holidays)
    return {
        year: YearSchedule(year, frozenset(holidays.get(year, ())), frozenset(workdays.get(year, ())), source)
        for year in range(first, last + 1)
    }


def library_holiday_name(day: dt.date) -> str | None:
    """The library's Chinese name of the holiday (or of the holiday a make-up day belongs to)."""
    import chinese_calendar

    english = chinese_calendar.holidays.get(day) or chinese_calendar.workdays.get(day)
    if english is None:
        return None
    try:
        return str(chinese_calendar.Holiday(english).chinese)
    except ValueError:
        return str(english)


# -- override files -------------------------------------------------------------------------------


def _year_key(key: object, errors: list[str]) -> int | None:
    # YAML gives ints for bare years; JSON (also valid YAML) can only give strings.
    if isinstance(key, bool):
        year = None
    elif isinstance(key, int):
        year = key
    elif isinstance(key, str) and key.strip().isdigit():
        year = int(key.strip())
    else:
        year = None
    if year is None or not _MIN_YEAR <= year <= _MAX_YEAR:
        errors.append(f"year {key!r} is not a year between {_MIN_YEAR} and {_MAX_YEAR}")
        return None
    return year


def _dates(value: object, year: int, what: str, errors: list[str]) -> frozenset[dt.date]:
    if value is None:
        return frozenset()
    if not isinstance(value, list):
        errors.append(f"{year}.{what} must be a list of dates (YYYY-MM-DD)")
        return frozenset()
    days: set[dt.date] = set()
    for item in value:
        # Unquoted 2027-01-01 arrives from YAML as a date already; quoted, as a string.
        if isinstance(item, dt.datetime):
            errors.append(f"{year}.{what}: {item!r} is a date and time, not a date")
            continue
        if isinstance(item, dt.date):
            day = item
        elif isinstance(item, str):
            try:
                day = dt.date.fromisoformat(item.strip())
            except ValueError:
                errors.append(f"{year}.{what}: {item!r} is not a date (YYYY-MM-DD)")
                continue
        else:
            errors.append(f"{year}.{what}: {item!r} is not a date (YYYY-MM-DD)")
            continue
        if day.year != year:
            errors.append(f"{year}.{what}: {day.isoformat()} is not in {year}")
            continue
        days.add(day)
    return frozenset(days)


def parse_overrides(data: object, source: str) -> dict[int, YearSchedule]:
    """Check a loaded override document (``{years: {YEAR: {holidays: [...], workdays: [...]}}}``).

    Raises ``CalendarFileError`` listing every problem; an empty document or ``years: {}`` is fine.
    """
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise CalendarFileError(f"{source}: expected a mapping with the key 'years'")
    errors: list[str] = []
    unknown = sorted(str(k) for k in data if k != "years")
    if unknown:
        errors.append(f"unknown top-level key(s): {', '.join(unknown)} (only 'years')")
    years = data.get("years")
    if years is None:
        years = {}
    if not isinstance(years, dict):
        raise CalendarFileError(f"{source}: 'years' must map years to {{holidays, workdays}}")
    result: dict[int, YearSchedule] = {}
    for key, entry in years.items():
        year = _year_key(key, errors)
        if year is None:
            continue
        if year in result:
            errors.append(f"year {year} is listed twice")
            continue
        if not isinstance(entry, dict):
            errors.append(f"{year}: expected a mapping with 'holidays' and 'workdays'")
            continue
        extra = sorted(str(k) for k in entry if k not in ("holidays", "workdays"))
        if extra:
            errors.append(f"{year}: unknown key(s) {', '.join(extra)} (only holidays, workdays)")
        holidays = _dates(entry.get("holidays"), year, "holidays", errors)
        workdays = _dates(entry.get("workdays"), year, "workdays", errors)
        if not holidays:
            # A published schedule always has days off (元旦 at least): an empty list is a mistake.
            errors.append(f"{year}: no holidays listed")
        both = sorted(holidays & workdays)
        if both:
            errors.append(f"{year}: both holiday and workday: {', '.join(d.isoformat() for d in both)}")
        result[year] = YearSchedule(year, holidays, workdays, source)
    if errors:
        raise CalendarFileError(f"{source}:\n  " + "\n  ".join(errors))
    return result


def read_override_file(path: Path) -> dict[int, YearSchedule]:
    """Read and check one override file (YAML; JSON is valid YAML too)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CalendarFileError(f"{path}: {exc}") from exc
    try:
        data: Any = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise CalendarFileError(f"{path}: not valid YAML: {exc}") from exc
    return parse_overrides(data, str(path))


def dump_overrides(schedules: Iterable[YearSchedule]) -> str:
    """The YAML text of an override file holding these years (dates as quoted ISO strings)."""
    years = {
        s.year: {
            "holidays": [d.isoformat() for d in sorted(s.holidays)],
            "workdays": [d.isoformat() for d in sorted(s.workdays)],
        }
        for s in sorted(schedules, key=lambda s: s.year)
    }
    header = (
        "# Gridcase working-day calendar: years here replace chinesecalendar's (written by\n"
        "# `gridcase calendar import`). holidays = days off; workdays = make-up working days (调休).\n"
    )
    return header + yaml.safe_dump({"years": years}, allow_unicode=True, sort_keys=False)


def _shipped_overrides() -> dict[int, YearSchedule]:
    resource = resources.files("services.sla") / "data" / SHIPPED_OVERRIDES
    if not resource.is_file():
        return {}
    return parse_overrides(yaml.safe_load(resource.read_text(encoding="utf-8")), SHIPPED_OVERRIDES)


# -- the calendar ---------------------------------------------------------------------------------


class WorkCalendar:
    """Which days are working days. Build it once (``WorkCalendar.load``) and share it."""

    def __init__(self, confirmed: Mapping[int, YearSchedule]) -> None:
        self._confirmed = {year: s for year, s in confirmed.items() if s.confirmed}
        # Provisional years are added here on first use, so each is computed once.
        self._years: dict[int, YearSchedule] = dict(self._confirmed)

    @classmethod
    def load(cls, override_path: Path | None = None) -> WorkCalendar:
        """The library, then the shipped overrides, then ``override_path`` (skipped if it doesn't
        exist: deployments pass ``<home>/calendar.yaml`` whether or not one was imported).
        A malformed file raises ``CalendarFileError`` rather than silently changing deadlines."""
        years = library_schedules()
        years.update(_shipped_overrides())
        if override_path is not None and override_path.exists():
            years.update(read_override_file(override_path))
        return cls(years)

    def schedule(self, year: int) -> YearSchedule:
        found = self._years.get(year)
        if found is None:
            found = self._years[year] = provisional_schedule(year)
        return found

    def is_workday(self, day: dt.date) -> bool:
        if isinstance(day, dt.datetime):
            # A datetime is a date subclass but never equal to one: use its Shanghai calendar day.
            day = (day.astimezone(SHANGHAI) if day.tzinfo else day).date()
        s = self._years.get(day.year) or self.schedule(day.year)
        if day in s.workdays:
            return True
        if day in s.holidays:
            return False
        return day.weekday() < 5

    def is_confirmed(self, year: int) -> bool:
        return year in self._confirmed

    def confirmed_years(self) -> set[int]:
        return set(self._confirmed)

    def holidays(self, year: int) -> list[dt.date]:
        """Listed days off of the year (weekdays and weekend days inside holiday ranges)."""
        return sorted(self.schedule(year).holidays)

    def makeup_workdays(self, year: int) -> list[dt.date]:
        """Saturdays and Sundays that are working days (调休)."""
        return sorted(self.schedule(year).workdays)
