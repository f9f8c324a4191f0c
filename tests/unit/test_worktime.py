"""Working-time arithmetic on real 2026 dates. Every expected time is worked out by hand in a comment.

Default office hours 08:30–12:00 (210 min) and 13:30–17:30 (240 min): 1wd = 450 working minutes.
2026 facts (from chinesecalendar): 中秋 Fri Sep 25 – Sun Sep 27 off, make-up workday Sun Sep 20;
国庆 Thu Oct 1 – Wed Oct 7 off, make-up workday Sat Oct 10.
"""

from __future__ import annotations

import datetime as dt
import random
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml

from services.sla.calendar import WorkCalendar, library_schedules, read_override_file
from services.sla.timelimits import TimeLimit
from services.sla.worktime import (
    DEFAULT_OFFICE_HOURS,
    BadOfficeHours,
    OfficeHours,
    add_limit,
    add_working_minutes,
    limit_minutes,
    working_minutes_between,
)

SH = ZoneInfo("Asia/Shanghai")


def at(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> dt.datetime:
    return dt.datetime(y, mo, d, h, mi, tzinfo=SH)


@pytest.fixture(scope="module")
def cal() -> WorkCalendar:
    # The library as of 1.11.0 (data up to 2026): a later release that adds 2027 must not change
    # what these tests mean by "a year without a confirmed schedule".
    return WorkCalendar({y: s for y, s in library_schedules().items() if y <= 2026})


def due(
    start: dt.datetime, limit: str, cal: WorkCalendar, hours: OfficeHours = DEFAULT_OFFICE_HOURS
) -> dt.datetime:
    deadline = add_limit(start, limit, cal, hours)
    assert deadline.due.tzinfo is not None and deadline.due.utcoffset() == dt.timedelta(hours=8)
    return deadline.due


# -- around the 2026 National Day holiday -------------------------------------------------------


def test_last_working_day_before_national_day(cal: WorkCalendar) -> None:
    start = at(2026, 9, 30, 16, 0)  # Wednesday, the last working day before Oct 1
    # 1wd: Sep 30 16:00–17:30 = 90; Oct 1–7 off; Thu Oct 8 08:30–12:00 = 210 (300); +150 from 13:30.
    assert due(start, "1wd", cal) == at(2026, 10, 8, 16, 0)
    # 2wd: another 450 → Fri Oct 9 16:00.
    assert due(start, "2wd", cal) == at(2026, 10, 9, 16, 0)
    # 3wd: the make-up Saturday counts → Sat Oct 10 16:00.
    assert due(start, "3wd", cal) == at(2026, 10, 10, 16, 0)
    # 4wd: Sunday Oct 11 is off → Mon Oct 12 16:00.
    assert due(start, "4wd", cal) == at(2026, 10, 12, 16, 0)
    # 4wh = 240: 90 on Sep 30, then 150 from Oct 8 08:30 → 11:00.
    assert due(start, "4wh", cal) == at(2026, 10, 8, 11, 0)
    assert not add_limit(start, "4wd", cal).provisional


def test_friday_before_national_day_is_the_mid_autumn_holiday(cal: WorkCalendar) -> None:
    # In 2026 the Friday before National Day (Sep 25) is itself 中秋: counting starts Mon Sep 28 08:30.
    start = at(2026, 9, 25, 16, 0)
    # 1wd = Mon 08:30–12:00 (210) + 13:30–17:30 (240): used up exactly at the close → Mon 17:30.
    assert due(start, "1wd", cal) == at(2026, 9, 28, 17, 30)
    assert due(start, "2wd", cal) == at(2026, 9, 29, 17, 30)
    # 3wd → Wed Sep 30 17:30; 4wd skips Oct 1–7 → Thu Oct 8 17:30.
    assert due(start, "3wd", cal) == at(2026, 9, 30, 17, 30)
    assert due(start, "4wd", cal) == at(2026, 10, 8, 17, 30)
    # 4wh = 240: 210 in the morning, 30 after lunch → Mon 14:00.
    assert due(start, "4wh", cal) == at(2026, 9, 28, 14, 0)


def test_make_up_weekend_days_count(cal: WorkCalendar) -> None:
    # Fri Oct 9 16:00 + 1wd: 90 on Friday, 360 on the make-up Saturday Oct 10 → 16:00.
    assert due(at(2026, 10, 9, 16, 0), "1wd", cal) == at(2026, 10, 10, 16, 0)
    # Sat Oct 10 16:00 + 4wh: 90 on Saturday, Sunday off, 150 from Mon 08:30 → 11:00.
    assert due(at(2026, 10, 10, 16, 0), "4wh", cal) == at(2026, 10, 12, 11, 0)
    # Fri Sep 18 17:00 + 1wd: 30 on Friday, Sat Sep 19 off, make-up Sunday Sep 20: 210 + 210 → 17:00.
    assert due(at(2026, 9, 18, 17, 0), "1wd", cal) == at(2026, 9, 20, 17, 0)


def test_friday_evening_one_working_day_is_exactly_450_minutes(cal: WorkCalendar) -> None:
    # Fri Mar 13 17:00: 30 on Friday, then Mon Mar 16 210 + 210 → 17:00 (not 16:30).
    start = at(2026, 3, 13, 17, 0)
    assert due(start, "1wd", cal) == at(2026, 3, 16, 17, 0)
    assert working_minutes_between(start, at(2026, 3, 16, 17, 0), cal).minutes == 450


# -- ordinary days -------------------------------------------------------------------------------


def test_over_the_lunch_break(cal: WorkCalendar) -> None:
    # Tue Mar 10 10:00 + 3wh: 120 to 12:00, lunch, 60 from 13:30 → 14:30.
    assert due(at(2026, 3, 10, 10, 0), "3wh", cal) == at(2026, 3, 10, 14, 30)


def test_across_midnight(cal: WorkCalendar) -> None:
    # Tue Mar 10 17:00 + 2wh: 30 to 17:30, then 90 from Wed 08:30 → Wed 10:00.
    assert due(at(2026, 3, 10, 17, 0), "2wh", cal) == at(2026, 3, 11, 10, 0)


def test_start_outside_office_hours(cal: WorkCalendar) -> None:
    assert due(at(2026, 3, 10, 12, 40), "1wh", cal) == at(2026, 3, 10, 14, 30)  # lunch → 13:30 + 60
    assert due(at(2026, 3, 10, 20, 0), "1wh", cal) == at(2026, 3, 11, 9, 30)  # evening → next 08:30
    assert due(at(2026, 3, 11, 6, 0), "1wh", cal) == at(2026, 3, 11, 9, 30)  # early → 08:30
    assert due(at(2026, 3, 14, 10, 0), "1wh", cal) == at(2026, 3, 16, 9, 30)  # Saturday → Monday
    assert due(at(2026, 3, 10, 12, 0), "30m", cal) == at(2026, 3, 10, 12, 30)  # calendar: no shift


def test_a_limit_used_up_at_a_period_end_falls_on_that_end(cal: WorkCalendar) -> None:
    assert due(at(2026, 3, 10, 8, 30), "3.5wh", cal) == at(2026, 3, 10, 12, 0)
    assert due(at(2026, 3, 10, 8, 30), "1wd", cal) == at(2026, 3, 10, 17, 30)
    assert due(at(2026, 3, 10, 8, 30), "0.5wd", cal) == at(2026, 3, 10, 13, 45)  # 225 = 210 + 15


def test_calendar_limits_run_straight_through(cal: WorkCalendar) -> None:
    # Friday 23:50 + 30m → Saturday 00:20.
    assert due(at(2026, 3, 13, 23, 50), "30m", cal) == at(2026, 3, 14, 0, 20)
    # Wed Sep 30 18:00 + 24h → Thu Oct 1 18:00, a holiday: calendar time ignores it.
    assert due(at(2026, 9, 30, 18, 0), "24h", cal) == at(2026, 10, 1, 18, 0)
    assert due(at(2026, 10, 3, 9, 0), "90s", cal) == dt.datetime(2026, 10, 3, 9, 1, 30, tzinfo=SH)
    # Calendar time never consults the holiday schedule, so never provisional.
    assert add_limit(at(2026, 12, 31, 23, 0), "2h", cal) == (at(2027, 1, 1, 1, 0), False)


def test_any_aware_timezone_in_shanghai_out(cal: WorkCalendar) -> None:
    start = dt.datetime(2026, 9, 30, 8, 0, tzinfo=dt.UTC)  # = 16:00 in Shanghai
    deadline = add_limit(start, TimeLimit.parse("1wd"), cal)
    assert deadline.due == dt.datetime(2026, 10, 8, 8, 0, tzinfo=dt.UTC)
    assert deadline.due.tzinfo == SH and deadline.due.hour == 16
    with pytest.raises(ValueError, match="timezone-aware"):
        add_limit(dt.datetime(2026, 9, 30, 16, 0), "1wd", cal)
    with pytest.raises(ValueError, match="timezone-aware"):
        add_limit(dt.datetime(2026, 9, 30, 16, 0), "30m", cal)


def test_custom_office_hours(cal: WorkCalendar) -> None:
    hours = OfficeHours.parse("09:00-17:00")
    assert hours.day_minutes == 480
    # Wed Sep 30 16:00 + 1wd (480): 60 on Sep 30, 420 from Oct 8 09:00 → 16:00.
    assert due(at(2026, 9, 30, 16, 0), "1wd", cal, hours) == at(2026, 10, 8, 16, 0)
    assert limit_minutes("1wd", hours) == 480


# -- years without a confirmed schedule ------------------------------------------------------------


def test_into_2027_is_provisional(cal: WorkCalendar) -> None:
    start = at(2026, 12, 31, 16, 0)  # Thursday
    # 2wd = 900: 90 on Dec 31; Fri Jan 1 元旦 off; Jan 2–3 weekend; Mon Jan 4 450 (540);
    # Tue Jan 5 210 (750) + 150 from 13:30 → 16:00.
    assert add_limit(start, "2wd", cal) == (at(2027, 1, 5, 16, 0), True)
    # 1wh stays in 2026: nothing provisional.
    assert add_limit(start, "1wh", cal) == (at(2026, 12, 31, 17, 0), False)
    assert working_minutes_between(start, at(2027, 1, 5, 16, 0), cal) == (900.0, True)


def test_into_2027_with_an_override_file(tmp_path: Path) -> None:
    path = tmp_path / "calendar.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "years": {
                    2027: {"holidays": ["2027-01-01", "2027-01-04", "2027-01-05"], "workdays": ["2027-01-02"]}
                }
            }
        ),
        encoding="utf-8",
    )
    years = {y: s for y, s in library_schedules().items() if y <= 2026}
    cal = WorkCalendar({**years, **read_override_file(path)})
    assert WorkCalendar.load(path).is_confirmed(2027)  # the same file through load()
    # 2wd = 900: 90 on Dec 31; Jan 1 off; Sat Jan 2 is a working day: 450 (540); Sun Jan 3 off;
    # Jan 4–5 off; Wed Jan 6 210 (750) + 150 from 13:30 → 16:00. Confirmed now.
    assert add_limit(at(2026, 12, 31, 16, 0), "2wd", cal) == (at(2027, 1, 6, 16, 0), False)


# -- elapsed working time -----------------------------------------------------------------------


def test_working_minutes_between(cal: WorkCalendar) -> None:
    assert working_minutes_between(at(2026, 9, 30, 16, 0), at(2026, 10, 8, 16, 0), cal) == (450.0, False)
    assert working_minutes_between(at(2026, 3, 10, 10, 0), at(2026, 3, 10, 14, 30), cal).minutes == 180
    # Holiday to holiday: nothing worked.
    assert working_minutes_between(at(2026, 10, 1, 9, 0), at(2026, 10, 7, 17, 0), cal).minutes == 0
    # b before a: zero, not negative.
    assert working_minutes_between(at(2026, 3, 11), at(2026, 3, 10), cal).minutes == 0
    # A whole ordinary week Mon 00:00 → next Mon 00:00 = 5 × 450.
    assert working_minutes_between(at(2026, 3, 9), at(2026, 3, 16), cal).minutes == 2250


def test_pause_and_resume(cal: WorkCalendar) -> None:
    start = at(2026, 9, 30, 16, 0)
    paused = at(2026, 10, 8, 9, 30)  # 90 + 60 used
    used = working_minutes_between(start, paused, cal).minutes
    assert used == 150
    remaining = limit_minutes("2wd") - used  # 750
    resumed = at(2026, 10, 9, 14, 0)  # Fri: 210 left today; Sat Oct 10 (调休) 450 → 90 left
    # Mon Oct 12: 90 from 08:30 → 10:00.
    assert add_working_minutes(resumed, remaining, cal) == (at(2026, 10, 12, 10, 0), False)
    assert add_working_minutes(resumed, 0, cal).due == resumed


def test_add_then_measure_gives_back_the_limit(cal: WorkCalendar) -> None:
    rng = random.Random(20260930)
    limits = ["1wh", "2.5wh", "4wh", "17wh", "0.5wd", "1wd", "2wd", "3wd", "10wd", "30wd"]
    origin = at(2025, 1, 1)
    for _ in range(2000):
        # Any second of any day, inside office hours or not, weekends and holidays included.
        start = origin + dt.timedelta(seconds=rng.randrange(700 * 86400))
        limit = rng.choice(limits) if rng.random() < 0.7 else f"{rng.randint(1, 3000) / 100}wh"
        deadline = add_limit(start, limit, cal)
        assert deadline.due > start
        elapsed = working_minutes_between(start, deadline.due, cal)
        assert elapsed.minutes == pytest.approx(limit_minutes(limit), abs=1e-6), (start, limit)
        assert elapsed.provisional == deadline.provisional
        # The earliest such moment: a second earlier is not yet enough.
        earlier = working_minutes_between(start, deadline.due - dt.timedelta(seconds=1), cal)
        assert earlier.minutes < limit_minutes(limit)
        # It falls inside office hours of a working day (or at a period's end).
        local = deadline.due.astimezone(SH)
        assert cal.is_workday(local.date())
        assert any(s < local.time() <= e for s, e in DEFAULT_OFFICE_HOURS.periods), (start, limit, local)


def test_thirty_working_days_across_the_holiday_week_is_fast(cal: WorkCalendar) -> None:
    start = at(2026, 9, 21, 9, 0)  # Monday
    # The 30th working day after Sep 21: Sep 22–24 (3), 28–30 (6), Oct 8–10 (9), Oct 12–16 (14),
    # 19–23 (19), 26–30 (24), Nov 2–6 (29), Nov 9 (30) → Mon Nov 9 09:00.
    assert due(start, "30wd", cal) == at(2026, 11, 9, 9, 0)
    runs = 500
    began = time.perf_counter()
    for _ in range(runs):
        add_limit(start, "30wd", cal)
    per_call = (time.perf_counter() - began) / runs
    assert per_call < 1e-3, f"{per_call * 1e6:.0f} µs per 30wd deadline"


# -- office hours -----------------------------------------------------------------------------------


def test_office_hours_parse() -> None:
    hours = OfficeHours.parse(" 08:30-12:00 , 13:30-17:30 ")
    assert hours == DEFAULT_OFFICE_HOURS
    assert hours.day_minutes == 450
    assert str(hours) == "08:30-12:00,13:30-17:30"
    assert OfficeHours.parse("8:00-12:00,12:00-16:00").day_minutes == 480  # touching periods are fine


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("  ", "empty"),
        ("08:30", "not a period"),
        ("08:30-12:00;13:30-17:30", "not a period"),
        ("08:30-12:00,", "not a period"),
        ("abc", "not a period"),
        ("8.30-12.00", "not a period"),
        ("12:00-08:30", "must end after"),
        ("08:30-08:30", "must end after"),
        ("08:30-12:00,11:00-14:00", "overlaps"),
        ("13:30-17:30,08:30-12:00", "overlaps or precedes"),
        ("25:00-26:00", "not a time"),
        ("08:60-09:00", "not a time"),
    ],
)
def test_office_hours_errors(text: str, message: str) -> None:
    with pytest.raises(BadOfficeHours, match=message):
        OfficeHours.parse(text)


def test_office_hours_need_a_period() -> None:
    with pytest.raises(BadOfficeHours):
        OfficeHours([])
