"""Open311 GeoReport v2 on the running system, spoken by independent clients: plain httpx following
the spec's request formats (form-encoded POST, ``.json``/``.xml`` resources), and the ``georeport``
client library where it is installed. The test system has GRIDCASE_OPEN311_PUBLIC unset (false)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import defusedxml.ElementTree as DET
import httpx
import pytest

from tests.integration.conftest import TOKENS, case_in_status, role_headers
from tests.support import SAMPLE_POINTS, SECRETS, System, wait_for

BASE = "/open311/v2"
GRID, (LON, LAT) = sorted(SAMPLE_POINTS.items())[-1]
JSON_TYPE = "application/json; charset=utf-8"
XML_TYPE = "text/xml; charset=utf-8"
# Personal data a resident gives; none of it may come back from a read.
PHONE, FIRST, LAST, EMAIL = "13900139123", "小红", "欧阳", "xiaohong@example.cn"


def _feed_token(system: System, channel: str) -> str:
    key = f"feed:{channel}"
    if key not in TOKENS:
        r = httpx.post(
            f"{system.http}/api/v1/tokens",
            json={"name": f"tests {channel} app", "role": "feed", "channel": channel},
            headers=role_headers("admin"),
            timeout=30,
        )
        assert r.status_code == 201, r.text
        TOKENS[key] = r.json()["token"]
        SECRETS.add(TOKENS[key])
    return TOKENS[key]


@pytest.fixture
def api_key(system: System) -> str:
    """A Gridcase feed token of channel open311: what the civic app is given as its api_key."""
    return _feed_token(system, "open311")


@pytest.fixture
async def civic(system: System) -> AsyncIterator[httpx.AsyncClient]:
    """An Open311 client: no session, no bearer header, only what the spec says."""
    async with httpx.AsyncClient(base_url=f"{system.http}{BASE}", timeout=20.0) as client:
        yield client


def _form(api_key: str | None, **overrides: str | None) -> dict[str, str]:
    fields: dict[str, str | None] = {
        "api_key": api_key,
        "jurisdiction_id": "gridcase.example.cn",
        "service_code": "0101",
        "lat": f"{LAT:.7f}",
        "long": f"{LON:.7f}",
        "address_string": "柳塘路18号3幢2单元501室",
        "email": EMAIL,
        "device_id": "device-7f3a",
        "account_id": "acct-42",
        "first_name": FIRST,
        "last_name": LAST,
        "phone": PHONE,
        "description": f"路灯不亮，晚上很黑，请回电{PHONE}（{uuid.uuid4().hex}）",
        "media_url": "https://img.example.cn/reports/lamp.jpg",
    }
    fields.update(overrides)
    return {k: v for k, v in fields.items() if v is not None}


async def _post(civic: httpx.AsyncClient, fields: dict[str, str], **kwargs: Any) -> httpx.Response:
    # The spec's format: application/x-www-form-urlencoded, UTF-8.
    return await civic.post("/requests.json", data=fields, **kwargs)


def _errors(r: httpx.Response, status: int) -> list[dict[str, Any]]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == JSON_TYPE
    body: list[dict[str, Any]] = r.json()
    assert isinstance(body, list) and body
    assert all(set(e) == {"code", "description"} and e["code"] == status and e["description"] for e in body)
    return body


async def _raw_with(db: asyncpg.Pool, marker: str) -> asyncpg.Record:
    row = await db.fetchrow(
        "SELECT * FROM raw_inbound WHERE channel = 'open311' AND position($1::bytea in body) > 0 "
        "ORDER BY id DESC LIMIT 1",
        marker.encode(),
    )
    assert row is not None, f"no raw request with {marker}"
    return row


async def _case_id(db: asyncpg.Pool, case_no: str) -> str:
    return str(await db.fetchval("SELECT id FROM cases WHERE case_no = $1", case_no))


def _no_personal_data(text: str) -> None:
    for secret in (PHONE, FIRST, LAST, EMAIL, "2单元", "acct-42", "device-7f3a"):
        assert secret not in text, f"{secret} in a read"


async def test_services_are_our_categories(civic: httpx.AsyncClient) -> None:
    r = await civic.get("/services.json", params={"jurisdiction_id": "gridcase.example.cn"})
    assert r.status_code == 200 and r.headers["content-type"] == JSON_TYPE
    services = {s["service_code"]: s for s in r.json()}
    assert {"0101", "0205", "0401", "9999"} <= set(services)
    lamp = services["0101"]
    assert list(lamp) == [
        "service_code",
        "service_name",
        "description",
        "metadata",
        "type",
        "keywords",
        "group",
    ]
    assert lamp["service_name"] == "路灯损坏" and lamp["group"] == "市政公用设施"
    assert lamp["metadata"] is False and lamp["type"] == "realtime" and "路灯损坏" in lamp["keywords"]
    assert services["0303"]["group"] == "街面秩序与违法建设" and services["9999"]["group"] == "其他"

    definition = await civic.get("/services/0101.json")
    assert definition.status_code == 200 and definition.json() == {"service_code": "0101", "attributes": []}
    _errors(await civic.get("/services/4242.json"), 404)


async def test_a_form_encoded_request_becomes_a_case_and_reads_back_without_personal_data(
    civic: httpx.AsyncClient, api: httpx.AsyncClient, db: asyncpg.Pool, api_key: str
) -> None:
    # A category no other test reports at this point: not held back as a likely duplicate.
    fields = _form(api_key, service_code="0108", description=f"小区路灯电箱冒火花，请回电{PHONE}")
    r = await _post(civic, fields)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == JSON_TYPE
    [created] = r.json()
    assert list(created) == ["service_request_id", "service_notice", "account_id"]
    case_no = created["service_request_id"]
    assert isinstance(case_no, str) and case_no.isdigit() and len(case_no) == 14
    assert case_no in created["service_notice"] and created["account_id"] is None

    # The operator sees the case, on channel open311, routed by its point.
    case_id = await _case_id(db, case_no)
    case = await case_in_status(api, case_id, "dispatched")
    assert case["case_no"] == case_no and case["channel"] == "open311"
    assert case["category_code"] == "0108" and case["grid_code"] == GRID
    # Kept raw, linked to the case, with the api_key masked.
    raw = await db.fetchrow("SELECT * FROM raw_inbound WHERE case_id = $1", uuid.UUID(case_id))
    assert raw["outcome"] == "accepted" and raw["channel"] == "open311"
    assert raw["submitted_by"].startswith("token:") and raw["path"] == f"{BASE}/requests.json"
    assert api_key.encode() not in raw["body"] and b"api_key=***" in raw["body"]
    assert b"service_code=0108" in raw["body"]

    key = {"api_key": api_key}

    async def read_back() -> httpx.Response | None:
        # The SLA clock (escalation) sets the due time just after dispatch: expected_datetime.
        r = await civic.get(f"/requests/{case_no}.json", params=key)
        return r if r.status_code != 200 or r.json()[0]["expected_datetime"] else None

    one = await wait_for(read_back, what="the request's expected_datetime")
    assert one.status_code == 200 and one.headers["content-type"] == JSON_TYPE
    [request] = one.json()
    assert request["service_request_id"] == case_no and request["status"] == "open"
    assert request["status_notes"] == "已派遣"
    assert request["service_code"] == "0108" and request["service_name"] == "停电或电力设施隐患"
    department = await db.fetchval("SELECT name FROM departments WHERE code = $1", case["department_code"])
    assert department and request["agency_responsible"] == department
    assert request["description"] == "小区路灯电箱冒火花，请回电139****9123"
    assert request["address"] == "柳塘路18号****"
    assert (request["lat"], request["long"]) == (round(LAT, 4), round(LON, 4))
    assert request["media_url"] == fields["media_url"] and request["zipcode"] is None
    assert request["requested_datetime"].endswith("+08:00") and request["expected_datetime"].endswith(
        "+08:00"
    )
    _no_personal_data(one.text)

    by_id = await civic.get(
        "/requests.json", params={**key, "service_request_id": f"{case_no},00000000000000"}
    )
    assert [q["service_request_id"] for q in by_id.json()] == [case_no]
    now = datetime.now(UTC)
    window = {
        "start_date": (now - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "end_date": (now + timedelta(hours=1)).isoformat(timespec="seconds"),
    }
    listed = await civic.get(
        "/requests.json", params={**key, **window, "service_code": "0108", "status": "open"}
    )
    assert listed.status_code == 200
    assert case_no in [q["service_request_id"] for q in listed.json()]
    assert all(q["service_code"] == "0108" and q["status"] == "open" for q in listed.json())
    other_code = await civic.get("/requests.json", params={**key, **window, "service_code": "0101,0102"})
    assert case_no not in [q["service_request_id"] for q in other_code.json()]
    _no_personal_data(listed.text)
    closed = await civic.get("/requests.json", params={**key, **window, "status": "closed"})
    assert case_no not in [q["service_request_id"] for q in closed.json()]
    earlier = {"start_date": "2020-01-01T00:00:00+08:00", "end_date": "2020-02-01T00:00:00+08:00"}
    assert (await civic.get("/requests.json", params={**key, **earlier})).json() == []
    everything = await civic.get("/requests.json", params=key)  # the last 90 days, every channel
    assert case_no in [q["service_request_id"] for q in everything.json()]
    _no_personal_data(everything.text)


async def test_json_bodies_and_points_in_chinese_datums(
    civic: httpx.AsyncClient, api: httpx.AsyncClient, db: asyncpg.Pool, api_key: str
) -> None:
    from services.geo.coords import wgs84_to_gcj02

    g_lon, g_lat = wgs84_to_gcj02(LON, LAT)
    fields = _form(api_key, lat=None, long=None, address_string=None)
    body = {**fields, "lat": g_lat, "long": g_lon, "crs": "gcj02"}
    r = await civic.post("/requests.json", json=body)
    assert r.status_code == 200, r.text
    case_no = r.json()[0]["service_request_id"]
    row = await db.fetchrow("SELECT lat, lon, intake_details FROM cases WHERE case_no = $1", case_no)
    assert abs(row["lat"] - LAT) < 1e-6 and abs(row["lon"] - LON) < 1e-6
    assert row["intake_details"]["crs"] == "gcj02"
    assert row["intake_details"]["device_id"] == "device-7f3a"
    assert EMAIL not in str(row["intake_details"]) and PHONE not in str(row["intake_details"])
    raw = await _raw_with(db, fields["description"][-33:-1])
    assert api_key.encode() not in raw["body"] and b'"***"' in raw["body"]


async def test_refusals_are_kept_without_the_key(
    system: System, civic: httpx.AsyncClient, db: asyncpg.Pool, api_key: str
) -> None:
    hotline_key = _feed_token(system, "hotline")
    cases: list[tuple[str | None, str]] = [
        (None, "api_key_missing"),
        ("gct_ThisIsNotARealTokenAtAll0000000000000000", "api_key_invalid"),
        (TOKENS["operator"], "api_key_not_open311"),  # a person's session is no Open311 key
        (hotline_key, "api_key_not_open311"),  # a feed of another channel
    ]
    for key, reason in cases:
        fields = _form(key)
        _errors(await _post(civic, fields), 403)
        raw = await _raw_with(db, fields["description"][-33:-1])
        assert raw["outcome"] == "rejected" and raw["error"]["error"] == reason
        assert raw["case_id"] is None
        if key is not None:
            assert key.encode() not in raw["body"] and b"api_key=***" in raw["body"]
    # the key in the query string (some clients) works, and is never kept
    fields = _form(None)
    r = await civic.post("/requests.json", params={"api_key": api_key}, data=fields)
    assert r.status_code == 200, r.text


async def test_bad_requests_are_400_or_404_and_kept(
    civic: httpx.AsyncClient, db: asyncpg.Pool, api_key: str
) -> None:
    for bad in ({"lat": "north"}, {"lat": "95.5"}, {"long": "-200"}):
        fields = _form(api_key, **bad)
        errors = _errors(await _post(civic, fields), 400)
        assert any("lat" in e["description"] or "long" in e["description"] for e in errors)
        raw = await _raw_with(db, fields["description"][-33:-1])
        assert raw["outcome"] == "rejected" and raw["error"]["error"] == "invalid_request"
    nowhere = _form(api_key, lat=None, long=None, address_string=None, description=None)
    assert len(_errors(await _post(civic, nowhere), 400)) == 2  # both problems named
    fields = _form(api_key, service_code="4242")
    _errors(await _post(civic, fields), 404)
    assert (await _raw_with(db, fields["description"][-33:-1]))["error"]["error"] == "service_code_not_found"


async def test_reads_need_an_open311_key(civic: httpx.AsyncClient, api_key: str) -> None:
    created = await _post(civic, _form(api_key))
    case_no = created.json()[0]["service_request_id"]
    _errors(await civic.get("/requests.json"), 403)
    _errors(await civic.get(f"/requests/{case_no}.json"), 403)
    _errors(await civic.get(f"/requests/{case_no}.json", params={"api_key": TOKENS["operator"]}), 403)
    _errors(await civic.get("/requests/00000000000000.json", params={"api_key": api_key}), 404)
    _errors(await civic.get("/requests.json", params={"api_key": api_key, "status": "pending"}), 400)
    # services are public, as the spec has them
    assert (await civic.get("/services.json")).status_code == 200


async def test_the_same_idempotency_key_answers_the_same_request(
    civic: httpx.AsyncClient, db: asyncpg.Pool, api_key: str
) -> None:
    idem = {"Idempotency-Key": f"civic-{uuid.uuid4().hex}"}
    first = await _post(civic, _form(api_key), headers=idem)
    again = await _post(civic, _form(api_key), headers=idem)
    assert first.status_code == again.status_code == 200
    case_no = first.json()[0]["service_request_id"]
    assert again.json()[0]["service_request_id"] == case_no
    outcomes = await db.fetch(
        "SELECT outcome FROM raw_inbound WHERE case_id = (SELECT id FROM cases WHERE case_no = $1) ORDER BY id",
        case_no,
    )
    assert [r["outcome"] for r in outcomes] == ["accepted", "duplicate"]
    other = await _post(civic, _form(api_key))  # without the header: a new request
    assert other.json()[0]["service_request_id"] != case_no


async def test_a_merged_request_reads_as_closed_with_its_original(
    civic: httpx.AsyncClient, api: httpx.AsyncClient, db: asyncpg.Pool, api_key: str
) -> None:
    # Only a place in words: no grid, so both wait in triage, where the operator merges them.
    where = {"lat": None, "long": None, "address_string": "柳塘公园东门", "service_code": "9999"}
    original_no = (await _post(civic, _form(api_key, **where))).json()[0]["service_request_id"]
    merged_no = (await _post(civic, _form(api_key, **where))).json()[0]["service_request_id"]
    original, merged = await _case_id(db, original_no), await _case_id(db, merged_no)
    await case_in_status(api, original, "triage")
    await case_in_status(api, merged, "triage")
    r = await api.post(
        f"/api/v1/cases/{merged}/actions",
        json={"action": "mark_duplicate", "original_case_id": original, "note": "同一问题"},
        headers=role_headers("operator"),
    )
    assert r.status_code == 200, r.text
    [request] = (await civic.get(f"/requests/{merged_no}.json", params={"api_key": api_key})).json()
    assert request["status"] == "closed" and request["status_notes"] == f"已并入案件{original_no}"
    assert request["lat"] is None and request["address"] == "柳塘公园东门"


async def test_xml_resources(civic: httpx.AsyncClient, api_key: str) -> None:
    r = await civic.get("/services.xml")
    assert r.status_code == 200 and r.headers["content-type"] == XML_TYPE
    assert r.content.startswith(b'<?xml version="1.0" encoding="utf-8"?>')
    root = DET.fromstring(r.content)
    lamp = next(s for s in root.findall("service") if s.findtext("service_code") == "0101")
    assert lamp.findtext("service_name") == "路灯损坏" and lamp.findtext("metadata") == "false"

    created = await civic.post("/requests.xml", data=_form(api_key))
    assert created.status_code == 200 and created.headers["content-type"] == XML_TYPE
    case_no = DET.fromstring(created.content).findtext("request/service_request_id")
    assert case_no
    one = await civic.get(f"/requests/{case_no}.xml", params={"api_key": api_key})
    request = DET.fromstring(one.content).find("request")
    assert request is not None and request.findtext("service_request_id") == case_no
    assert request.findtext("status") == "open"
    _no_personal_data(one.text)

    refused = await civic.get(f"/requests/{case_no}.xml")
    assert refused.status_code == 403 and refused.headers["content-type"] == XML_TYPE
    assert DET.fromstring(refused.content).findtext("error/code") == "403"
    _errors(await civic.get("/services.html"), 400)
    _errors(await civic.get("/services"), 404)  # the format suffix is required


async def test_the_georeport_client_library(system: System, api_key: str) -> None:
    """An Open311 client written by others (PyPI ``georeport``): reads services in both formats, and
    is refused requests without a key (it has no way to send one on reads)."""
    georeport = pytest.importorskip("georeport")
    requests = pytest.importorskip("requests")
    client = georeport.GeoReport(f"{system.http}{BASE}", jurisdiction="gridcase.example.cn")
    xml_client = georeport.GeoReport(f"{system.http}{BASE}", output_format="xml")

    services = await asyncio.to_thread(client.get_service_list)
    assert "0101" in [s["service_code"] for s in services]
    xml_services = await asyncio.to_thread(xml_client.get_service_list)
    assert [s["service_code"] for s in xml_services] == [s["service_code"] for s in services]
    assert (await asyncio.to_thread(client.get_service_definition, "0101"))["attributes"] == []
    assert (await asyncio.to_thread(xml_client.get_service_definition, "0101"))["service_code"] == "0101"
    with pytest.raises(requests.HTTPError) as refused:
        await asyncio.to_thread(client.get_service_requests)
    assert refused.value.response.status_code == 403
