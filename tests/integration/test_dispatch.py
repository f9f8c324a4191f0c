"""A report travels intake → dispatch on the real stack and lands at the matrix's department."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from services.geo.coords import wgs84_to_gcj02
from tests.integration.conftest import case_in_status, post_report
from tests.support import GRIDS, SAMPLE_POINTS, wait_for


async def test_report_with_grid_code_is_dispatched_to_matrix_department(api: httpx.AsyncClient) -> None:
    accepted = await post_report(
        api, category_code="0104", grid_code=GRIDS[3], description="小区下水道堵了，污水漫到路面"
    )
    assert accepted["case_no"].isdigit() and len(accepted["case_no"]) == 14

    case = await case_in_status(api, accepted["case_id"], "dispatched", timeout=10)

    assert case["department_code"] == "SW"  # 0104 下水道堵塞 → 区水务局 in the matrix
    assert case["department_name"] == "区水务局"
    assert case["grid_code"] == GRIDS[3]
    assert case["level"] == "district"
    types = [e["type"] for e in case["events"]]
    assert types[:2] == ["case.reported", "case.dispatched"]

    async def deadline_set() -> dict[str, Any] | None:  # the escalation service starts the clock
        c: dict[str, Any] = (await api.get(f"/api/v1/cases/{accepted['case_id']}")).json()
        return c if c["due_at"] else None

    case = await wait_for(deadline_set, what="the SLA deadline")
    assert any(e["type"] == "case.sla_started" for e in case["events"])
    assert [e["seq"] for e in case["events"]] == sorted(e["seq"] for e in case["events"])


@pytest.mark.parametrize("crs", ["wgs84", "gcj02"])
async def test_report_with_location_is_routed_to_the_grid_containing_it(
    api: httpx.AsyncClient, crs: str
) -> None:
    grid = GRIDS[7]
    lon, lat = SAMPLE_POINTS[grid]
    if crs == "gcj02":  # what a WeChat location message carries
        lon, lat = wgs84_to_gcj02(lon, lat)
    # One category per datum: the same category twice at one point would be a likely duplicate.
    category = {"wgs84": "0302", "gcj02": "0305"}[crs]
    accepted = await post_report(
        api, category_code=category, grid_code=None, location={"lat": lat, "lon": lon, "crs": crs}
    )

    case = await case_in_status(api, accepted["case_id"], "dispatched", timeout=10)

    assert case["grid_code"] == grid
    assert case["department_code"] == "CG-ZF"  # 占道经营 and 共享单车乱停放 both go to law enforcement
    dispatched = next(e for e in case["events"] if e["type"] == "case.dispatched")
    assert dispatched["payload"]["routed_by"] == "location"


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"grid_code": None, "location": {"lat": 39.9, "lon": 116.4, "crs": "wgs84"}}, "outside_grids"),
        ({"grid_code": None}, "no_location"),
        (
            {"category_code": None, "description": "东门外那一片一直这样，也没人管，请尽快处理"},
            "low_confidence",
        ),
        ({"category_code": "8888"}, "unknown_category"),
        ({"grid_code": "10100133019900999999"}, "unknown_grid"),
        ({"category_code": "9999"}, "needs_operator"),
    ],
)
async def test_unroutable_report_lands_in_triage_with_reason(
    api: httpx.AsyncClient, overrides: dict[str, object], reason: str
) -> None:
    accepted = await post_report(api, **overrides)

    case = await case_in_status(api, accepted["case_id"], "triage", timeout=10)

    assert case["triage_reason"] == reason
    triaged = next(e for e in case["events"] if e["type"] == "case.triaged")
    assert triaged["payload"]["reason"] == reason
    assert triaged["payload"]["reason_label"]  # a Chinese explanation for the operator
    assert case["department_code"] is None


async def test_operator_dispatches_a_triaged_case_by_hand(api: httpx.AsyncClient) -> None:
    accepted = await post_report(api, category_code="9999", description="楼道里有不明气味，不知道找谁")
    await case_in_status(api, accepted["case_id"], "triage", timeout=10)

    r = await api.post(
        f"/api/v1/cases/{accepted['case_id']}/actions",
        json={"action": "dispatch", "department_code": "HB"},
    )

    assert r.status_code == 200, r.text
    case = await case_in_status(api, accepted["case_id"], "dispatched")
    assert case["department_code"] == "HB"
    # The actor is the signed-in operator, with their unit.
    dispatched = next(e for e in case["events"] if e["type"] == "case.dispatched")
    assert dispatched["actor"] == "user:demo-operator"
    assert dispatched["actor_label"] == "王敏（区网格化管理指挥中心）"


async def test_console_lists_dispatched_case_and_serves_the_page(api: httpx.AsyncClient) -> None:
    accepted = await post_report(api)
    await case_in_status(api, accepted["case_id"], "dispatched")

    listing = (await api.get("/api/v1/cases", params={"limit": 50})).json()
    row = next(i for i in listing["items"] if i["case_id"] == accepted["case_id"])
    assert row["status_label"] == "已派遣"
    assert row["department_name"] and row["grid_name"] and row["category_name"] == "路灯损坏"
    assert listing["counts"]["dispatched"] >= 1
    assert set(listing["counts"]) >= {"reported", "triage", "signed", "closed", "rejected", "overdue"}
    assert listing["server_time"]

    page = await api.get("/")
    assert page.status_code == 200 and "网格化管理指挥中心" in page.text
    for asset in ("/static/console.js", "/static/console.css"):
        assert (await api.get(asset)).status_code == 200


async def test_reference_endpoints(api: httpx.AsyncClient) -> None:
    grids = (await api.get("/api/v1/grids")).json()
    levels = [f["properties"]["level"] for f in grids["features"]]
    assert levels.count("grid") >= 12 and levels.count("street") == 2
    grid = next(f for f in grids["features"] if f["properties"]["level"] == "grid")
    assert grid["geometry"]["type"] in ("Polygon", "MultiPolygon")
    assert grid["properties"]["parent_code"]
    categories = (await api.get("/api/v1/categories")).json()
    assert any(c["code"] == "0101" and c["department_code"] == "CG-SZ" for c in categories)
