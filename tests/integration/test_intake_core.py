"""What every channel shares, on the running system: a resident's later message fills a case waiting in
triage and dispatch routes it; a report close to an open case of its category waits as a likely
duplicate; points in any of the three datums land in the same grid."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import httpx

from intake.service import Attachment, RawRequest, store_raw, supplement
from schemas.identity import Actor
from services.geo.coords import wgs84_to_bd09, wgs84_to_gcj02
from tests.integration.conftest import case_in_status, post_report
from tests.support import SAMPLE_POINTS

GRID, (LON, LAT) = next(iter(SAMPLE_POINTS.items()))


async def test_a_place_sent_later_routes_the_case_waiting_for_it(
    api: httpx.AsyncClient, db: asyncpg.Pool
) -> None:
    accepted = await post_report(
        api, channel="wechat", grid_code=None, category_code="0101", description="路灯不亮了"
    )
    case = await case_in_status(api, accepted["case_id"], "triage")
    assert case["triage_reason"] == "no_location"
    raw_id = await store_raw(db, RawRequest(body=b"<xml>location</xml>", channel="wechat"))
    async with db.acquire() as conn, conn.transaction():
        await supplement(
            conn,
            case_id=uuid.UUID(accepted["case_id"]),
            raw_id=raw_id,
            channel="wechat",
            actor=Actor("channel:wechat", "微信公众号"),
            point=(LON, LAT),
            address="柳塘路12号",
        )
    async with db.acquire() as conn, conn.transaction():
        await supplement(
            conn,
            case_id=uuid.UUID(accepted["case_id"]),
            raw_id=raw_id,
            channel="wechat",
            actor=Actor("channel:wechat", "微信公众号"),
            attachment=Attachment("image", source_url="http://mmbiz.qpic.cn/x", media_id="m1"),
        )
    case = await case_in_status(api, accepted["case_id"], "dispatched")
    assert case["grid_code"] == GRID and case["department_code"] == "CG-SZ"
    assert [e["type"] for e in case["events"]].count("case.supplemented") == 2
    assert [a["kind"] for a in case["attachments"]] == ["image"]
    assert await db.fetchval("SELECT outcome FROM raw_inbound WHERE id = $1", raw_id) == "supplemented"


async def test_a_report_near_an_open_case_of_its_category_waits_as_a_likely_duplicate(
    api: httpx.AsyncClient,
) -> None:
    lon, lat = LON + 0.0004, LAT + 0.0004  # ~55 m away from anything else sent here
    first = await post_report(
        api,
        grid_code=None,
        category_code="0304",
        location={"lon": lon, "lat": lat},
        description="门口车辆乱停",
    )
    first_case = await case_in_status(api, first["case_id"], "dispatched", "triage")
    assert first_case["status"] == "dispatched", first_case["triage_reason"]
    g_lon, g_lat = wgs84_to_gcj02(lon + 0.0002, lat)  # ~20 m east, as a Chinese web map gives it
    second = await post_report(
        api,
        grid_code=None,
        category_code="0304",
        location={"lon": g_lon, "lat": g_lat, "crs": "gcj02"},
        description="又有车堵在门口",
    )
    case = await case_in_status(api, second["case_id"], "triage")
    assert case["triage_reason"] == "likely_duplicate"
    assert case["likely_duplicate_of"]["case_id"] == first["case_id"]
    triaged = next(e for e in case["events"] if e["type"] == "case.triaged")
    assert 5 < triaged["payload"]["likely_duplicate_of"]["distance_m"] < 50
    # Another category at the same place is its own case.
    other = await post_report(
        api, grid_code=None, category_code="0105", location={"lon": lon, "lat": lat}, description="停水了"
    )
    assert (await case_in_status(api, other["case_id"], "dispatched"))["likely_duplicate_of"] is None


async def test_points_in_every_datum_find_the_same_grid(api: httpx.AsyncClient) -> None:
    async def grid_of(location: dict[str, Any]) -> Any:
        accepted = await post_report(
            api, grid_code=None, category_code="0202", location=location, description="路面脏"
        )
        return (await case_in_status(api, accepted["case_id"], "dispatched", "triage"))["grid_code"]

    b_lon, b_lat = wgs84_to_bd09(LON, LAT)
    g_lon, g_lat = wgs84_to_gcj02(LON, LAT)
    found = [
        await grid_of({"lon": LON, "lat": LAT}),
        await grid_of({"lon": g_lon, "lat": g_lat, "crs": "gcj02"}),
        await grid_of({"lon": b_lon, "lat": b_lat, "crs": "bd09"}),
    ]
    assert found == [GRID] * 3
