"""The case list's parameters: the keyset cursor, filters and search, checked before any SQL."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from schemas.identity import Principal, Role
from services.console.listing import (
    SHANGHAI,
    Cursor,
    parse_filters,
    parse_limit,
    parse_search,
    parse_statuses,
    shanghai_midnight,
)
from services.geo.grid_index import GridIndex
from services.http.errors import Invalid
from services.reference.catalog import Area, Catalog, Category, Department

DISTRICT, STREET, COMMUNITY = "D", "D-S1", "D-S1-C1"
GRID_A, GRID_B, GRID_C = "D-S1-C1-G1", "D-S1-C1-G2", "D-S2-C1-G1"


def catalog() -> Catalog:
    areas = {
        DISTRICT: Area(DISTRICT, "青禾区", "district", None, None),
        STREET: Area(STREET, "梅溪街道", "street", DISTRICT, None),
        "D-S2": Area("D-S2", "望江街道", "street", DISTRICT, None),
        COMMUNITY: Area(COMMUNITY, "柳塘社区", "community", STREET, None),
        "D-S2-C1": Area("D-S2-C1", "观澜社区", "community", "D-S2", None),
        GRID_A: Area(GRID_A, "第一网格", "grid", COMMUNITY, None),
        GRID_B: Area(GRID_B, "第二网格", "grid", COMMUNITY, None),
        GRID_C: Area(GRID_C, "观澜第一网格", "grid", "D-S2-C1", None),
    }
    category = Category(
        "0101", "路灯损坏", "component", "CG-SZ", (), "district", "normal", "2wh", "1wd", False
    )
    return Catalog(
        categories={"0101": category},
        departments={"CG-SZ": Department("CG-SZ", "市政设施科", "district")},
        areas=areas,
        grids=GridIndex([]),
    )


def person(role: Role) -> Principal:
    return Principal(subject="user:x", kind="user", credential_id="x", display_name="x", role=role, unit="x")


# --- cursor -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "at",
    [
        datetime(2026, 11, 25, 9, 30, 1, 123456, tzinfo=UTC),
        datetime(2026, 11, 25, 17, 30, 1, 1, tzinfo=timezone(timedelta(hours=8))),
        datetime(1969, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    ],
)
def test_cursor_round_trip_keeps_every_microsecond(at: datetime) -> None:
    case_id = uuid.uuid4()
    text = Cursor(at, case_id).encode()
    assert "=" not in text and "/" not in text and "+" not in text  # safe in a query string as is
    back = Cursor.decode(text)
    assert back.updated_at == at and back.updated_at.tzinfo is not None
    assert back.case_id == case_id


def test_cursor_is_opaque_but_stable() -> None:
    at = datetime(2026, 11, 25, tzinfo=UTC)
    case_id = uuid.UUID(int=1)
    assert Cursor(at, case_id).encode() == Cursor(at, case_id).encode()
    assert Cursor(at, case_id).encode() != Cursor(at + timedelta(microseconds=1), case_id).encode()


@pytest.mark.parametrize(
    "text",
    [
        "",
        "not-a-cursor",
        "!!!",
        "MTIz",
        "MTIzLnh5eg",
        Cursor(datetime.now(UTC), uuid.uuid4()).encode()[:-3] + "@@",
    ],
)
def test_a_bad_cursor_is_a_422_on_cursor(text: str) -> None:
    with pytest.raises(Invalid) as e:
        Cursor.decode(text)
    assert e.value.fields[0].field == "cursor" and "游标" in e.value.fields[0].reason


# --- parameters ---------------------------------------------------------------------------------


def test_limit() -> None:
    assert parse_limit(None) == 100 and parse_limit("500") == 500 and parse_limit(" 1 ") == 1
    for bad in ("0", "501", "-1", "ten", "1.5"):
        with pytest.raises(Invalid) as e:
            parse_limit(bad)
        assert e.value.fields[0].field == "limit"


def test_statuses_repeated_or_comma_separated_without_duplicates() -> None:
    assert parse_statuses(["dispatched,signed", "signed", " returned "]) == (
        "dispatched",
        "signed",
        "returned",
    )
    assert parse_statuses(None) == () and parse_statuses([""]) == ()
    with pytest.raises(Invalid) as e:
        parse_statuses(["dispatched,lost"])
    assert e.value.fields[0].field == "status" and "lost" in e.value.fields[0].reason


def test_search_digits_are_a_case_number_or_its_beginning() -> None:
    operator = person(Role.OPERATOR)
    exact = parse_search(operator, "20261125000001")
    assert (
        exact is not None and exact.by_case_no and exact.case_no_from == exact.case_no_to == "20261125000001"
    )
    prefix = parse_search(operator, "20261125")
    assert prefix is not None and (prefix.case_no_from, prefix.case_no_to) == ("20261125", "20261125999999")
    text = parse_search(operator, " 路灯 ")
    assert text is not None and not text.by_case_no and text.text == "路灯"
    assert parse_search(operator, "   ") is None
    with pytest.raises(Invalid):
        parse_search(operator, "1" * 15)
    with pytest.raises(Invalid):
        parse_search(operator, "灯")


@pytest.mark.parametrize("role", [Role.LEADER, Role.FEED, Role.ADMIN])
def test_roles_that_may_not_read_descriptions_search_case_numbers_only(role: Role) -> None:
    assert parse_search(person(role), "20261125000001") is not None
    with pytest.raises(Invalid) as e:
        parse_search(person(role), "路灯")
    assert e.value.fields[0].field == "q" and "案件编号" in e.value.fields[0].reason


@pytest.mark.parametrize("role", [Role.OPERATOR, Role.DEPARTMENT, Role.GRID_WORKER])
def test_roles_that_read_descriptions_may_search_them(role: Role) -> None:
    assert parse_search(person(role), "路灯") is not None


def test_filters_resolve_areas_to_grids_and_days_to_shanghai_midnights() -> None:
    f = parse_filters(
        catalog(),
        person(Role.OPERATOR),
        status=["dispatched"],
        grid_code=STREET,
        date_from="2026-11-25",
        date_to="2026-11-25",
        due_soon="true",
    )
    assert f.grid_codes == frozenset({GRID_A, GRID_B})
    assert f.created_from == datetime(2026, 11, 24, 16, tzinfo=UTC)
    assert f.created_before == datetime(2026, 11, 25, 16, tzinfo=UTC)
    assert f.due_within_h == 4.0 and not f.overdue
    assert parse_filters(catalog(), person(Role.OPERATOR), grid_code=GRID_C).grid_codes == {GRID_C}
    assert parse_filters(catalog(), person(Role.OPERATOR), due_within_h="0.5").due_within_h == 0.5
    both = parse_filters(catalog(), person(Role.OPERATOR), overdue="true", due_soon="1")
    assert both.overdue and both.due_within_h == 4.0  # overdue or due soon
    assert shanghai_midnight(date(2026, 1, 1)) == datetime(2025, 12, 31, 16, tzinfo=UTC)
    assert datetime(2026, 1, 1, tzinfo=SHANGHAI).utcoffset() == timedelta(hours=8)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"category_code": "9999"}, "category_code"),
        ({"grid_code": "nowhere"}, "grid_code"),
        ({"department_code": "XX"}, "department_code"),
        ({"channel": "fax"}, "channel"),
        ({"overdue": "sometimes"}, "overdue"),
        ({"due_within_h": "0"}, "due_within_h"),
        ({"due_within_h": "721"}, "due_within_h"),
        ({"date_from": "2026-02-30"}, "from"),
        ({"date_to": "20261125"}, "to"),
        ({"date_from": "2026-11-26", "date_to": "2026-11-25"}, "to"),
    ],
)
def test_values_that_name_nothing_are_422_on_their_field(params: dict[str, str], field: str) -> None:
    with pytest.raises(Invalid) as e:
        parse_filters(catalog(), person(Role.OPERATOR), **params)
    assert e.value.fields[0].field == field
    assert any("\u4e00" <= ch <= "\u9fff" for ch in e.value.fields[0].reason)
