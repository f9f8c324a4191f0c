"""Working-time arithmetic: deadlines and elapsed time on the working-day calendar.

Units (``services.sla.timelimits``):

* ``s``/``m``/``h`` are calendar time, counted straight through nights, weekends and holidays.
* ``wh`` (working hours) count only minutes inside the office periods of working days.
* ``wd`` (working days): N × the working minutes of one full working day, counted the same way as
  ``wh``. With the default hours (08:30–12:00, 13:30–17:30) 1wd = 450 working minutes (7.5 wh).

Rules:

* Counting starts at ``start`` when it is inside an office period; otherwise at the start of the next
  office period of a working day (a case filed at 12:40 starts counting at 13:30; one filed on
  Saturday, at Monday 08:30 — or at the make-up Saturday's 08:30 if that Saturday is a 调休 day).
* A deadline that uses up a period exactly falls at that period's end (12:00 or 17:30), never at the
  next period's start.
* So ``1wd`` is exactly 450 working minutes later, which is "the same clock time on the next working
  day" when starting inside office hours: Fri 16:00 → next working day 16:00. From Fri 17:00, the 30
  minutes to 17:30 count, then 420 more: Mon 08:30–12:00 (210) and 13:30–17:00 (210) → Mon 17:00.
* A deadline is provisional when any year from the start to the due day (Asia/Shanghai dates) has no
  confirmed schedule (see ``services.sla.calendar``); calendar-time units never are.
* A paused clock keeps ``working_minutes_between``'s remainder and resumes with
  ``add_working_minutes(resume_time, remaining)``.

Inputs are any timezone-aware datetimes (naive ones are refused); every returned datetime is aware
in Asia/Shanghai (convert with ``.astimezone(UTC)`` to store). Shanghai has had no DST since 1991,
so arithmetic on local wall-clock times is exact. Days are walked one at a time with whole working
days taken in one step, never minute by minute: 30wd across a holiday week is ~50 cheap steps.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import NamedTuple

from services.sla.calendar import SHANGHAI, WorkCalendar
from services.sla.timelimits import TimeLimit

_ONE_DAY = dt.timedelta(days=1)
_ONE_MINUTE = dt.timedelta(minutes=1)
_MAX_DAYS = 366 * 100  # a walk longer than this is a wrong limit, not a deadline
_PERIOD = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


class BadOfficeHours(ValueError):
    pass


class OfficeHours:
    """The office periods of every working day, in Asia/Shanghai wall-clock time."""

    __slots__ = ("day_length", "periods")

    def __init__(self, periods: list[tuple[dt.time, dt.time]] | tuple[tuple[dt.time, dt.time], ...]):
        if not periods:
            raise BadOfficeHours("office hours need at least one period")
        previous_end: dt.time | None = None
        for start, end in periods:
            if start.tzinfo is not None or end.tzinfo is not None:
                raise BadOfficeHours("office hours are wall-clock times without a timezone")
            if start >= end:
                raise BadOfficeHours(f"period {start:%H:%M}-{end:%H:%M} must end after it starts")
            if previous_end is not None and start < previous_end:
                raise BadOfficeHours(
                    f"period starting {start:%H:%M} overlaps or precedes the one ending {previous_end:%H:%M}"
                )
            previous_end = end
        self.periods: tuple[tuple[dt.time, dt.time], ...] = tuple(periods)
        day = dt.date(2000, 1, 1)
        self.day_length: dt.timedelta = sum(
            (dt.datetime.combine(day, e) - dt.datetime.combine(day, s) for s, e in self.periods),
            dt.timedelta(0),
        )

    @classmethod
    def parse(cls, text: str) -> OfficeHours:
        """``"08:30-12:00,13:30-17:30"``: comma-separated HH:MM-HH:MM periods in day order."""
        if not text or not text.strip():
            raise BadOfficeHours("office hours are empty (expected like 08:30-12:00,13:30-17:30)")
        periods = []
        for part in text.split(","):
            m = _PERIOD.match(part)
            if not m:
                raise BadOfficeHours(f"{part.strip()!r} is not a period like 08:30-12:00")
            try:
                start = dt.time(int(m.group(1)), int(m.group(2)))
                end = dt.time(int(m.group(3)), int(m.group(4)))
            except ValueError:
                raise BadOfficeHours(f"{part.strip()!r} is not a time of day") from None
            periods.append((start, end))
        return cls(periods)

    @property
    def day_minutes(self) -> float:
        return self.day_length / _ONE_MINUTE

    def __str__(self) -> str:
        return ",".join(f"{s:%H:%M}-{e:%H:%M}" for s, e in self.periods)

    def __repr__(self) -> str:
        return f"OfficeHours.parse({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, OfficeHours) and self.periods == other.periods

    def __hash__(self) -> int:
        return hash(self.periods)


DEFAULT_OFFICE_HOURS = OfficeHours.parse("08:30-12:00,13:30-17:30")


class Deadline(NamedTuple):
    due: dt.datetime  # aware, Asia/Shanghai
    provisional: bool  # some day on the way is in a year without a confirmed holiday schedule


class Elapsed(NamedTuple):
    minutes: float
    provisional: bool


def _local(moment: dt.datetime, name: str) -> dt.datetime:
    """Naive Asia/Shanghai wall-clock time of an aware datetime."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware (got naive {moment.isoformat()})")
    return moment.astimezone(SHANGHAI).replace(tzinfo=None)


def _provisional(calendar: WorkCalendar, first: dt.date, last: dt.date) -> bool:
    return not all(calendar.is_confirmed(y) for y in range(first.year, last.year + 1))


def _add_work(
    start: dt.datetime, work: dt.timedelta, calendar: WorkCalendar, hours: OfficeHours
) -> dt.datetime:
    """Naive local ``start`` plus ``work`` (> 0) working time; naive local result."""
    combine = dt.datetime.combine
    periods = hours.periods
    first_start = periods[0][0]
    day_length = hours.day_length
    remaining = work
    day = start.date()
    at = start
    for _ in range(_MAX_DAYS):
        if calendar.is_workday(day):
            if remaining > day_length and at <= combine(day, first_start):
                # A whole working day fits: take it in one step (strictly greater, so a limit that
                # ends exactly at the day's close is placed at 17:30 of this day below).
                remaining -= day_length
            else:
                for p_start, p_end in periods:
                    begin = max(at, combine(day, p_start))
                    end = combine(day, p_end)
                    if begin >= end:
                        continue
                    available = end - begin
                    if remaining <= available:
                        return begin + remaining
                    remaining -= available
        day += _ONE_DAY
        at = combine(day, dt.time())
    raise ValueError(f"working time {work} from {start} does not end within {_MAX_DAYS} days")


def add_working_minutes(
    start: dt.datetime,
    minutes: float,
    calendar: WorkCalendar,
    hours: OfficeHours = DEFAULT_OFFICE_HOURS,
) -> Deadline:
    """``start`` plus ``minutes`` working minutes (e.g. a paused clock's remainder on resume).

    ``minutes`` ≤ 0 gives ``start`` itself (the clock had already run out)."""
    local = _local(start, "start")
    if minutes <= 0:
        return Deadline(local.replace(tzinfo=SHANGHAI), _provisional(calendar, local, local))
    due = _add_work(local, dt.timedelta(minutes=minutes), calendar, hours)
    return Deadline(due.replace(tzinfo=SHANGHAI), _provisional(calendar, local, due))


def limit_minutes(limit: TimeLimit | str, hours: OfficeHours = DEFAULT_OFFICE_HOURS) -> float:
    """The limit in its own kind of minutes: calendar minutes for s/m/h, working minutes for wh/wd."""
    tl = TimeLimit.parse(limit) if isinstance(limit, str) else limit
    if tl.unit == "wd":
        return (hours.day_length * tl.amount) / _ONE_MINUTE
    if tl.unit == "wh":
        return tl.amount * 60
    return tl.calendar() / _ONE_MINUTE


def add_limit(
    start: dt.datetime,
    limit: TimeLimit | str,
    calendar: WorkCalendar,
    hours: OfficeHours = DEFAULT_OFFICE_HOURS,
) -> Deadline:
    """When a case started at ``start`` with this time limit is due (see the module docstring)."""
    tl = TimeLimit.parse(limit) if isinstance(limit, str) else limit
    local = _local(start, "start")  # also refuses a naive start for calendar units
    if tl.unit in ("s", "m", "h"):
        # Calendar time: straight through, and no holiday schedule is consulted.
        # Added in UTC: aware + timedelta is wall-clock arithmetic, wrong across a DST change.
        return Deadline((start.astimezone(dt.UTC) + tl.calendar()).astimezone(SHANGHAI), False)
    work = hours.day_length * tl.amount if tl.unit == "wd" else dt.timedelta(hours=tl.amount)
    due = _add_work(local, work, calendar, hours)
    return Deadline(due.replace(tzinfo=SHANGHAI), _provisional(calendar, local, due))


def working_minutes_between(
    a: dt.datetime,
    b: dt.datetime,
    calendar: WorkCalendar,
    hours: OfficeHours = DEFAULT_OFFICE_HOURS,
) -> Elapsed:
    """Working minutes inside office periods of working days from ``a`` to ``b`` (0 if b ≤ a)."""
    la, lb = _local(a, "a"), _local(b, "b")
    if lb <= la:
        return Elapsed(0.0, _provisional(calendar, lb, la))
    combine = dt.datetime.combine
    periods = hours.periods
    day_length = hours.day_length
    first, last = la.date(), lb.date()
    total = dt.timedelta(0)
    day = first
    while day <= last:
        if calendar.is_workday(day):
            if first < day < last:
                total += day_length  # a whole day strictly between the ends
            else:
                for p_start, p_end in periods:
                    begin = max(la, combine(day, p_start))
                    end = min(lb, combine(day, p_end))
                    if end > begin:
                        total += end - begin
        day += _ONE_DAY
    return Elapsed(total / _ONE_MINUTE, _provisional(calendar, first, last))
