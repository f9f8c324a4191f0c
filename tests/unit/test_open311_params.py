"""What Open311 clients send: POST fields (form, JSON) and GET filters, read and checked."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from intake.open311.formats import Open311Error
from intake.open311.params import (
    form_fields,
    idempotency_key,
    json_fields,
    media_type,
    normal_phone,
    parse_datetime,
    parse_request_query,
    parse_submission,
    reporter_name,
)
from services.geo.coords import wgs84_to_gcj02

# The spec's example request, as its clients send it.
SPEC_EXAMPLE = (
    b"api_key=xyz&jurisdiction_id=city.gov&service_code=001&lat=37.76524078&long=-122.4212043"
    b"&address_string=1234+5th+street&email=smit333%40sfgov.edu&device_id=tt222111&account_id=123456"
    b"&first_name=john&last_name=smith&phone=111111111&description=A+large+sinkhole+is+destroying+the+street"
    b"&media_url=http%3A%2F%2Ffarm3.static.flickr.com%2F2002%2F2212426634_5ed477a060.jpg"
    b"&attribute[WHISPAWN]=123456&attribute[WHISDORN]=COISL001"
)


def test_the_spec_example_is_read() -> None:
    fields = form_fields(SPEC_EXAMPLE)
    sub = parse_submission(fields)
    assert sub.service_code == "001"
    assert (sub.lat, sub.lon) == (37.76524078, -122.4212043)
    assert sub.address == "1234 5th street"
    assert sub.email == "smit333@sfgov.edu" and sub.device_id == "tt222111" and sub.account_id == "123456"
    assert sub.reporter_name == "john smith" and sub.reporter_phone == "111111111"
    assert sub.description == "A large sinkhole is destroying the street"
    assert sub.media_url == "http://farm3.static.flickr.com/2002/2212426634_5ed477a060.jpg"
    assert sub.crs is None


def test_chinese_form_fields_and_names() -> None:
    body = "service_code=0101&description=路灯不亮&address_string=柳塘路12号&first_name=小明&last_name=王"
    sub = parse_submission(form_fields(body.encode()))
    assert sub.description == "路灯不亮" and sub.address == "柳塘路12号" and sub.reporter_name == "王小明"


def test_json_fields_keep_numbers_as_written() -> None:
    fields = json_fields(b'{"service_code": "0101", "lat": 30.27, "long": 120.15, "x": {"y": 1}, "n": null}')
    assert fields == {"service_code": "0101", "lat": "30.27", "long": "120.15"}
    with pytest.raises(ValueError):
        json_fields(b"[1, 2]")
    with pytest.raises(ValueError):
        json_fields(b"{not json")


def test_bad_form_encoding_is_an_error() -> None:
    with pytest.raises(ValueError):
        form_fields(b"description=%E8%B7")  # a cut UTF-8 sequence
    with pytest.raises(ValueError):
        form_fields("description=路灯".encode("gbk"))
    assert form_fields("description=路灯".encode("gbk"), "gbk") == {"description": "路灯"}


def test_media_type_and_its_parameters() -> None:
    assert media_type('multipart/form-data; boundary="abc"') == ("multipart/form-data", {"boundary": "abc"})
    assert media_type(None) == ("", {})


def _problems(fields: dict[str, str]) -> list[str]:
    with pytest.raises(Open311Error) as caught:
        parse_submission(fields)
    assert caught.value.status == 400
    return caught.value.descriptions


def test_every_problem_is_named() -> None:
    problems = _problems({})
    assert any("service_code" in p for p in problems)
    assert any("description" in p for p in problems)
    assert any("位置" in p for p in problems)


@pytest.mark.parametrize(
    ("lat", "lon"),
    [("abc", "120.1"), ("91", "120.1"), ("30", "-181"), ("nan", "120"), ("inf", "120"), ("30", "")],
)
def test_bad_coordinates_are_refused(lat: str, lon: str) -> None:
    problems = _problems({"service_code": "0101", "description": "路灯不亮", "lat": lat, "long": lon})
    assert any("lat" in p or "long" in p for p in problems)


def test_one_location_is_enough_and_empty_means_absent() -> None:
    base = {"service_code": "0101", "description": "路灯不亮", "lat": "", "long": " "}
    assert parse_submission({**base, "address_id": "A-17"}).address_id == "A-17"
    assert parse_submission({**base, "address_string": "柳塘路"}).address == "柳塘路"
    assert any("位置" in p for p in _problems(base))


def test_points_in_chinese_datums_become_wgs84() -> None:
    lon, lat = 120.155, 30.274
    g_lon, g_lat = wgs84_to_gcj02(lon, lat)
    sub = parse_submission(
        {
            "service_code": "0101",
            "description": "路灯不亮",
            "lat": str(g_lat),
            "long": str(g_lon),
            "crs": "GCJ02",
        }
    )
    assert abs(sub.lat - lat) < 1e-6 and abs(sub.lon - lon) < 1e-6  # type: ignore[operator]
    assert sub.crs == "gcj02"
    assert any(
        "crs" in p
        for p in _problems({"service_code": "1", "description": "路灯", "lat": "1", "long": "1", "crs": "x"})
    )


@pytest.mark.parametrize(
    ("fields", "word"),
    [
        ({"description": "灯"}, "太短"),
        ({"description": "灯" * 4001}, "过长"),
        ({"media_url": "javascript:alert(1)"}, "media_url"),
        ({"phone": "call me"}, "phone"),
        ({"device_id": "d" * 101}, "device_id"),
    ],
)
def test_field_rules(fields: dict[str, str], word: str) -> None:
    base = {"service_code": "0101", "description": "路灯不亮", "address_string": "柳塘路"}
    assert any(word in p for p in _problems({**base, **fields}))


def test_phones_and_names_are_normalised() -> None:
    assert normal_phone("+86 138-0013-8000") == "+8613800138000"
    assert normal_phone("(555) 123-4567") == "5551234567"
    assert normal_phone("12") is None
    assert reporter_name("三", "张") == "张三" and reporter_name("John", "Smith") == "John Smith"
    assert reporter_name(None, "张") == "张" and reporter_name(None, None) is None


def test_idempotency_key() -> None:
    assert idempotency_key(None) is None and idempotency_key(" ") is None
    assert idempotency_key(" k-1 ") == "k-1"
    with pytest.raises(Open311Error):
        idempotency_key("k" * 81)


NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def test_default_range_is_the_last_90_days() -> None:
    query = parse_request_query([], NOW)
    assert query.ids is None and query.end == NOW and query.start == NOW - timedelta(days=90)
    assert query.limit == 1000 and query.statuses == frozenset() and query.service_codes == ()


def test_ids_override_everything_else() -> None:
    query = parse_request_query(
        [("service_request_id", "1, 2,,3"), ("service_request_id", "4"), ("status", "bogus")], NOW
    )
    assert query.ids == ("1", "2", "3", "4")


def test_filters_declared_several_times_or_comma_delimited() -> None:
    query = parse_request_query(
        [
            ("service_code", "0101,0102"),
            ("service_code", "0103"),
            ("status", "OPEN"),
            ("jurisdiction_id", "x"),
        ],
        NOW,
    )
    assert query.service_codes == ("0101", "0102", "0103") and query.statuses == {"open"}


def test_dates() -> None:
    query = parse_request_query([("start_date", "2026-01-01T00:00:00Z"), ("end_date", "2026-01-31")], NOW)
    assert query.start == datetime(2026, 1, 1, tzinfo=UTC)
    assert query.end == datetime(2026, 1, 30, 16, 0, tzinfo=UTC)  # midnight in the district
    only_start = parse_request_query([("start_date", "2026-01-01T00:00:00+08:00")], NOW)
    assert only_start.end - only_start.start == timedelta(days=90)  # type: ignore[operator]
    # "+08:00" unencoded in a query string arrives as " 08:00"
    assert parse_datetime("2026-01-01T08:00:00 08:00", "start_date") == datetime(2026, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    "pairs",
    [
        [("start_date", "yesterday")],
        [("start_date", "2026-02-01T00:00:00Z"), ("end_date", "2026-01-01T00:00:00Z")],
        [("start_date", "2025-01-01T00:00:00Z"), ("end_date", "2026-01-01T00:00:00Z")],
        [("status", "pending")],
    ],
)
def test_bad_filters_are_400(pairs: list[tuple[str, str]]) -> None:
    with pytest.raises(Open311Error) as caught:
        parse_request_query(pairs, NOW)
    assert caught.value.status == 400
