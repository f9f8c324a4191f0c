"""The grid worker's app on the running system: a report with GPS and photos, 四必报 rules, 零上报 and
the grids that have sent nothing today."""

from __future__ import annotations

import uuid

import asyncpg
import httpx

from services.geo.coords import wgs84_to_gcj02
from tests.integration.conftest import case_in_status, role_headers
from tests.integration.test_workflow import png
from tests.support import SAMPLE_POINTS

MY_GRID = "10100133019900100101"  # demo-gridworker 赵丽's grid
OTHER_GRID = "10100133019900200101"


async def test_a_report_from_the_street_with_gps_and_photos(api: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    worker = role_headers("grid_worker")
    lon, lat = wgs84_to_gcj02(*SAMPLE_POINTS[MY_GRID])
    external = f"app-{uuid.uuid4()}"
    form = {
        "description": "柳塘路口井盖缺失，已设置临时警示",
        "category_code": "0102",
        "lat": str(lat),
        "lon": str(lon),
        "crs": "gcj02",
        "accuracy_m": "8.5",
        "external_id": external,
    }
    files = [("photos", ("a.png", png(), "image/png")), ("photos", ("b.png", png(5, 5), "image/png"))]
    r = await api.post("/api/v1/app/reports", data=form, files=files, headers=worker)
    assert r.status_code == 202, r.text
    accepted = r.json()
    assert accepted["photos"] == 2
    again = await api.post("/api/v1/app/reports", data=form, files=files, headers=worker)  # the app retried
    assert again.status_code == 202 and again.json()["case_id"] == accepted["case_id"]
    assert again.json()["duplicate_of_request"] is True
    case = await case_in_status(api, accepted["case_id"], "dispatched", "triage")
    assert case["channel"] == "app" and case["grid_code"] == MY_GRID
    assert [p["kind"] for p in case["photos"]] == ["report", "report"]
    assert case["intake_details"]["gps_accuracy_m"] == 8.5
    outcomes = await db.fetch(
        "SELECT outcome FROM raw_inbound WHERE case_id = $1 ORDER BY id", uuid.UUID(accepted["case_id"])
    )
    assert [o["outcome"] for o in outcomes] == ["accepted", "duplicate"]


async def test_bad_reports_are_refused_with_reasons_and_kept(
    api: httpx.AsyncClient, db: asyncpg.Pool
) -> None:
    worker = role_headers("grid_worker")
    cases = [
        ({"description": "x"}, [], "description"),
        ({"description": "路面坑洼", "lat": "91", "lon": "120"}, [], "lat"),
        ({"description": "路面坑洼", "grid_code": OTHER_GRID}, [], "不在您的负责范围"),
        ({"description": "路面坑洼"}, [("photos", ("a.png", b"GIF89a....", "image/png"))], "photos"),
    ]
    for form, files, expected in cases:
        if files:
            r = await api.post("/api/v1/app/reports", data=form, files=files, headers=worker)
        else:
            r = await api.post("/api/v1/app/reports", json=form, headers=worker)
        assert 400 <= r.status_code < 500, r.text
        assert expected in r.text
    rejected = await db.fetchval(
        "SELECT count(*) FROM raw_inbound WHERE channel = 'app' AND outcome = 'rejected' AND error IS NOT NULL"
    )
    assert rejected >= len(cases)
    operator = await api.post(
        "/api/v1/app/reports", json={"description": "路面坑洼"}, headers=role_headers("operator")
    )
    assert operator.status_code == 403


async def test_must_report_items_are_urgent_and_never_closed_unseen(api: httpx.AsyncClient) -> None:
    worker, operator = role_headers("grid_worker"), role_headers("operator")
    r = await api.post(
        "/api/v1/app/reports",
        json={"description": "楼道堆放杂物堵塞消防通道", "category_code": "0303", "grid_code": MY_GRID},
        headers=worker,
    )
    assert r.status_code == 202, r.text
    case_id = r.json()["case_id"]
    case = await case_in_status(api, case_id, "dispatched")
    assert case["urgency"] in ("urgent", "emergency") and case["intake_details"]["must_report"] is True
    community = role_headers("community")  # 消防通道 is the community's first (the demo matrix)
    for body in ({"action": "sign"}, {"action": "resolve", "note": "已清理"}):
        done = await api.post(f"/api/v1/cases/{case_id}/actions", json=body, headers=community)
        assert done.status_code == 200, done.text
    unseen = await api.post(f"/api/v1/cases/{case_id}/actions", json={"action": "close"}, headers=operator)
    assert unseen.status_code == 422 and "四必报" in unseen.json()["message"]
    up = await api.post(
        f"/api/v1/photos?case_id={case_id}", files=[("files", ("c.png", png(), "image/png"))], headers=worker
    )
    assert up.status_code == 201, up.text
    photo_id = up.json()["photos"][0]["photo_id"]
    seen = await api.post(
        f"/api/v1/cases/{case_id}/actions", json={"action": "close", "photo_ids": [photo_id]}, headers=worker
    )
    assert seen.status_code == 200, seen.text


async def test_checkins_and_the_grids_that_sent_nothing(api: httpx.AsyncClient) -> None:
    worker = role_headers("grid_worker")
    first = await api.post("/api/v1/app/checkins", json={"note": "今日巡查无异常"}, headers=worker)
    assert first.status_code == 201 and first.json()["grid_code"] == MY_GRID
    again = await api.post("/api/v1/app/checkins", json={}, headers=worker)
    assert again.status_code == 201 and again.json()["recorded"] is False
    other = await api.post("/api/v1/app/checkins", json={"grid_code": OTHER_GRID}, headers=worker)
    assert other.status_code == 403
    board = (await api.get("/api/v1/app/activity")).json()  # the operator: every grid
    rows = {g["grid_code"]: g for g in board["grids"]}
    assert len(rows) == 14 and rows[MY_GRID]["silent"] is False and rows[MY_GRID]["checkins"] >= 1
    silent = (await api.get("/api/v1/app/activity", params={"silent_only": "true"})).json()
    assert silent["silent"] == len(silent["grids"]) and MY_GRID not in {
        g["grid_code"] for g in silent["grids"]
    }
    leader = (await api.get("/api/v1/app/activity", headers=role_headers("leader"))).json()
    assert {g["grid_code"][:15] for g in leader["grids"]} == {"101001330199001"}  # 梅溪街道 only
