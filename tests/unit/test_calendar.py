"""The working-day calendar: chinesecalendar's data, override files, provisional years, the CLI.

Dates are hard-coded from the State Council's 2026 schedule (国办发明电〔2025〕7号) as the library
carries it: 中秋 Sep 25–27 (Fri–Sun), 国庆 Oct 1–7, make-up workdays Sun Sep 20 and Sat Oct 10.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import chinese_calendar
import pytest
import yaml
from typer.testing import CliRunner

from services.sla.calendar import (
    CalendarFileError,
    WorkCalendar,
    YearSchedule,
    dump_overrides,
    library_schedules,
    parse_overrides,
    read_override_file,
)
from services.sla.calendar_commands import calendar_app

D = dt.date


@pytest.fixture(scope="module")
def cal() -> WorkCalendar:
    return WorkCalendar.load(None)


@pytest.fixture(scope="module")
def cal_2026() -> WorkCalendar:
    # The library as of 1.11.0 (data up to 2026), so a release adding 2027 leaves these tests valid.
    return WorkCalendar({y: s for y, s in library_schedules().items() if y <= 2026})


def _write(path: Path, data: object) -> Path:
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


# -- the library's years ---------------------------------------------------------------------------


def test_library_version_and_coverage(cal: WorkCalendar) -> None:
    major, minor = (int(x) for x in chinese_calendar.__version__.split(".")[:2])
    assert (major, minor) >= (1, 11)
    assert set(range(2004, 2027)) <= cal.confirmed_years()
    assert cal.is_confirmed(2026)
    assert not cal.is_confirmed(2003)


def test_2026_national_day_and_mid_autumn(cal: WorkCalendar) -> None:
    for day in range(25, 28):  # 中秋 Fri Sep 25 – Sun Sep 27
        assert not cal.is_workday(D(2026, 9, day))
    for day in range(1, 8):  # 国庆 Oct 1 (Thu) – Oct 7 (Wed)
        assert not cal.is_workday(D(2026, 10, day))
    assert cal.is_workday(D(2026, 9, 20))  # Sunday, 调休
    assert cal.is_workday(D(2026, 10, 10))  # Saturday, 调休
    assert not cal.is_workday(D(2026, 10, 11))  # ordinary Sunday
    assert not cal.is_workday(D(2026, 9, 19))  # ordinary Saturday
    for workday in (D(2026, 9, 24), D(2026, 9, 28), D(2026, 9, 30), D(2026, 10, 8), D(2026, 10, 9)):
        assert cal.is_workday(workday)
    assert D(2026, 10, 10) in cal.makeup_workdays(2026)
    assert D(2026, 10, 7) in cal.holidays(2026)


def test_2026_spring_festival(cal: WorkCalendar) -> None:
    assert all(not cal.is_workday(D(2026, 2, d)) for d in range(15, 24))  # Feb 15–23
    assert cal.is_workday(D(2026, 2, 14))  # Saturday, 调休
    assert cal.is_workday(D(2026, 2, 28))  # Saturday, 调休
    assert cal.is_workday(D(2026, 2, 24))


def test_agrees_with_the_library_on_every_covered_day(cal: WorkCalendar) -> None:
    day, end = D(2004, 1, 1), D(2026, 12, 31)
    while day <= end:
        assert cal.is_workday(day) == chinese_calendar.is_workday(day), day
        day += dt.timedelta(days=1)


def test_datetime_is_read_as_its_shanghai_day(cal: WorkCalendar) -> None:
    # 2026-09-30 17:00 UTC is already Oct 1 (a holiday) in Shanghai.
    assert not cal.is_workday(dt.datetime(2026, 9, 30, 17, 0, tzinfo=dt.UTC))
    assert cal.is_workday(dt.datetime(2026, 9, 30, 15, 0, tzinfo=dt.UTC))


# -- years without a schedule ---------------------------------------------------------------------


def test_unconfirmed_year_has_weekends_and_fixed_date_holidays_only(cal_2026: WorkCalendar) -> None:
    cal = cal_2026
    assert not cal.is_confirmed(2027)
    assert 2027 not in cal.confirmed_years()
    assert not cal.is_workday(D(2027, 1, 1))  # 元旦 (Friday)
    assert not cal.is_workday(D(2027, 1, 2))  # Saturday
    assert cal.is_workday(D(2027, 1, 4))  # Monday
    assert not cal.is_workday(D(2027, 5, 1)) and not cal.is_workday(D(2027, 5, 2))  # 劳动节
    assert not cal.is_workday(D(2027, 10, 1))  # 国庆 (Friday); Oct 2–3 are the weekend
    assert cal.is_workday(D(2027, 10, 4))  # Monday: the rest of the week isn't known, not guessed
    assert cal.is_workday(D(2027, 2, 8))  # Monday of 春节 week: lunar holidays are not guessed
    assert cal.holidays(2027) == [
        D(2027, 1, 1),
        D(2027, 5, 1),
        D(2027, 5, 2),
        D(2027, 10, 1),
        D(2027, 10, 2),
        D(2027, 10, 3),
    ]
    assert cal.makeup_workdays(2027) == []
    assert not cal.schedule(2027).confirmed


# -- override files ------------------------------------------------------------------------------


def test_override_file_adds_a_year(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "calendar.yaml",
        {"years": {2027: {"holidays": ["2027-01-01", "2027-01-04"], "workdays": ["2027-01-09"]}}},
    )
    cal = WorkCalendar.load(path)
    assert cal.is_confirmed(2027)
    assert 2027 in cal.confirmed_years() and 2026 in cal.confirmed_years()
    assert not cal.is_workday(D(2027, 1, 4))
    assert cal.is_workday(D(2027, 1, 9))  # a Saturday made a working day
    assert cal.is_workday(D(2027, 5, 3))
    # No fixed-date fallback for a confirmed year: the file is the whole schedule.
    assert cal.is_workday(D(2027, 10, 1))


def test_override_file_replaces_a_library_year(tmp_path: Path) -> None:
    path = _write(tmp_path / "c.yaml", {"years": {2026: {"holidays": ["2026-01-01"]}}})
    cal = WorkCalendar.load(path)
    assert cal.is_workday(D(2026, 10, 5))  # Monday: no longer off
    assert not cal.is_workday(D(2026, 10, 10))  # Saturday: no longer a make-up day
    assert cal.schedule(2026).source == str(path)
    assert cal.is_workday(D(2025, 10, 8)) == chinese_calendar.is_workday(D(2025, 10, 8))


def test_unquoted_yaml_dates_and_json_year_keys(tmp_path: Path) -> None:
    text = "years:\n  2027:\n    holidays: [2027-01-01]\n    workdays: []\n"
    (tmp_path / "a.yaml").write_text(text, encoding="utf-8")
    assert read_override_file(tmp_path / "a.yaml")[2027].holidays == frozenset({D(2027, 1, 1)})
    (tmp_path / "b.json").write_text(
        json.dumps({"years": {"2028": {"holidays": ["2028-01-01"]}}}), encoding="utf-8"
    )
    assert read_override_file(tmp_path / "b.json")[2028].workdays == frozenset()


def test_missing_override_path_is_no_overrides(tmp_path: Path) -> None:
    cal = WorkCalendar.load(tmp_path / "absent.yaml")
    assert cal.is_confirmed(2026) and not cal.is_confirmed(2099)


def test_shipped_overrides_file_is_valid() -> None:
    path = Path(__file__).resolve().parents[2] / "services" / "sla" / "data" / "calendar_overrides.yaml"
    assert isinstance(read_override_file(path), dict)


def test_empty_documents_are_fine() -> None:
    assert parse_overrides(None, "x") == {}
    assert parse_overrides({"years": {}}, "x") == {}
    assert parse_overrides({"years": None}, "x") == {}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"years": {2027: {"holidays": ["2027-02-30"]}}}, "not a date"),
        ({"years": {2027: {"holidays": ["next friday"]}}}, "not a date"),
        ({"years": {2027: {"holidays": [20270101]}}}, "not a date"),
        ({"years": {2027: {"holidays": ["2027-01-01", "2027-02-07"], "workdays": ["2027-02-07"]}}}, "both"),
        ({"years": {"twenty": {"holidays": ["2027-01-01"]}}}, "not a year"),
        ({"years": {2027.5: {"holidays": ["2027-01-01"]}}}, "not a year"),
        ({"years": {True: {"holidays": ["2027-01-01"]}}}, "not a year"),
        ({"years": {2027: {"holidays": ["2028-01-01"]}}}, "not in 2027"),
        ({"years": {2027: {"holidays": []}}}, "no holidays"),
        ({"years": {2027: {"holidays": "2027-01-01"}}}, "must be a list"),
        ({"years": {2027: ["2027-01-01"]}}, "expected a mapping"),
        ({"years": {2027: {"holidays": ["2027-01-01"], "off": []}}}, "unknown key"),
        ({"years": {2027: {"holidays": ["2027-01-01"]}, "2027": {"holidays": ["2027-01-01"]}}}, "twice"),
        ({"holidays": ["2027-01-01"]}, "unknown top-level"),
        (["2027-01-01"], "expected a mapping"),
        ({"years": [2027]}, "'years' must map"),
        ({"years": {2027: {"holidays": [dt.datetime(2027, 1, 1, 8, 0)]}}}, "date and time"),
    ],
)
def test_bad_override_documents(data: object, message: str) -> None:
    with pytest.raises(CalendarFileError, match=message):
        parse_overrides(data, "test.yaml")


def test_errors_are_all_reported_at_once() -> None:
    data = {"years": {2027: {"holidays": ["2027-13-01", "2026-05-01"]}, "x": {}}}
    with pytest.raises(CalendarFileError) as raised:
        parse_overrides(data, "t.yaml")
    text = str(raised.value)
    assert "2027-13-01" in text and "not in 2027" in text and "'x'" in text


def test_invalid_yaml_and_bad_file_raise(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("years: {2027: [", encoding="utf-8")
    with pytest.raises(CalendarFileError, match="not valid YAML"):
        WorkCalendar.load(tmp_path / "bad.yaml")


def test_dump_round_trips() -> None:
    schedule = YearSchedule(2027, frozenset({D(2027, 1, 1), D(2027, 2, 8)}), frozenset({D(2027, 2, 7)}), "x")
    again = parse_overrides(yaml.safe_load(dump_overrides([schedule])), "y")[2027]
    assert again.holidays == schedule.holidays and again.workdays == schedule.workdays


# -- gridcase calendar ----------------------------------------------------------------------------


def test_cli_import_merges_year_by_year(tmp_path: Path) -> None:
    # Far-off years, so a chinesecalendar release with more years changes nothing here.
    home = tmp_path / "home"
    runner = CliRunner()
    first = _write(tmp_path / "2098.yaml", {"years": {2098: {"holidays": ["2098-01-01"]}}})
    result = runner.invoke(calendar_app, ["import", str(first), "--home", str(home)])
    assert result.exit_code == 0, result.output
    assert "2098: 1 holidays, 0 make-up workdays (was provisional)" in result.output
    assert "confirmed years: 2004–" in result.output
    assert result.output.rstrip().endswith(", 2098")

    second = _write(
        tmp_path / "more.yaml",
        {
            "years": {
                2098: {"holidays": ["2098-01-01", "2098-02-03"], "workdays": ["2098-02-08"]},
                2099: {"holidays": ["2099-01-01"]},
            }
        },
    )
    result = runner.invoke(calendar_app, ["import", str(second), "--home", str(home)])
    assert result.exit_code == 0, result.output
    assert f"2098: 2 holidays, 1 make-up workdays (replaces {home / 'calendar.yaml'})" in result.output
    assert "2099: 1 holidays, 0 make-up workdays (was provisional)" in result.output
    assert result.output.rstrip().endswith(", 2098–2099")

    stored = read_override_file(home / "calendar.yaml")
    assert sorted(stored) == [2098, 2099]
    assert stored[2098].workdays == frozenset({D(2098, 2, 8)})
    cal = WorkCalendar.load(home / "calendar.yaml")
    assert cal.is_workday(D(2098, 2, 8)) and not cal.is_workday(D(2098, 2, 3))

    result = runner.invoke(calendar_app, ["show", "2098", "--home", str(home)])
    assert result.exit_code == 0, result.output
    assert f"2098: confirmed ({home / 'calendar.yaml'})" in result.output
    assert "2098-02-08" in result.output


def test_cli_import_refuses_a_bad_file_and_writes_nothing(tmp_path: Path) -> None:
    home = tmp_path / "home"
    bad = _write(
        tmp_path / "bad.yaml",
        {"years": {2027: {"holidays": ["2027-02-07"], "workdays": ["2027-02-07"]}}},
    )
    result = CliRunner().invoke(calendar_app, ["import", str(bad), "--home", str(home)])
    assert result.exit_code == 2
    assert "both holiday and workday: 2027-02-07" in result.output
    assert not (home / "calendar.yaml").exists()


def test_cli_show(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(calendar_app, ["show", "2026", "--home", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "2026: confirmed (chinesecalendar" in result.output
    assert "2026-10-07 周三  国庆节" in result.output
    assert "2026-10-10 周六" in result.output

    result = runner.invoke(calendar_app, ["show", "2099", "--home", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "2099: NOT confirmed" in result.output
    assert "2099-01-01 周四" in result.output
