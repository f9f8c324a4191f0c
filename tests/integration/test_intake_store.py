"""The raw store and what the command centre enters: tasks handed down from above, raw requests read by
admins only (audited), failed requests replayed, old ones purged."""

from __future__ import annotations

import json
import uuid

import asyncpg
import httpx

from intake.inbound import purge, replay, replayable
from tests.integration.conftest import case_in_status, role_headers
from tests.support import GRIDS


async def test_a_task_handed_down_from_above(api: httpx.AsyncClient) -> None:
    body = {
        "channel": "superior",
        "description": "市12345热线办转办：柳塘路夜间施工噪音扰民，请核查处理",
        "category_code": "0501",
        "grid_code": GRIDS[0],
        "handed_down": {
            "from_unit": "市12345热线办",
            "document_no": "SZ-2026-1125-088",
            "deadline": "2026-11-28T18:00:00+08:00",
        },
        "external_id": f"sup-{uuid.uuid4()}",
    }
    r = await api.post("/api/v1/reports", json=body)
    assert r.status_code == 202, r.text
    case = await case_in_status(api, r.json()["case_id"], "dispatched")
    assert case["channel"] == "superior" and case["channel_label"] == "上级交办"
    assert case["intake_details"]["handed_down"]["document_no"] == "SZ-2026-1125-088"
    missing = await api.post("/api/v1/reports", json=body | {"handed_down": None, "external_id": "x-1"})
    assert missing.status_code == 422
    worker = await api.post(
        "/api/v1/reports", json=body | {"external_id": "x-2"}, headers=role_headers("grid_worker")
    )
    assert worker.status_code == 403


async def test_raw_requests_are_for_admins_and_reading_one_is_audited(
    as_role: dict[str, httpx.AsyncClient],
) -> None:
    admin = as_role["admin"]
    assert (await as_role["operator"].get("/api/v1/intake/raw")).status_code == 403
    bad = await as_role["operator"].post(
        "/api/v1/reports", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert bad.status_code == 400
    raw_id = bad.json()["details"]["raw_id"]
    listed = (await admin.get("/api/v1/intake/raw", params={"outcome": "rejected", "limit": 50})).json()
    assert raw_id in [r["id"] for r in listed] and all("body" not in r for r in listed)
    one = (await admin.get(f"/api/v1/intake/raw/{raw_id}")).json()
    assert one["body_text"] == "{not json" and one["error"]["error"] == "invalid_json"
    audit = (await admin.get("/api/v1/audit", params={"action": "raw_inbound.read", "limit": 5})).json()
    assert any(e["target"] == str(raw_id) for e in audit)


async def test_a_failed_request_is_replayed_into_its_case(api: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    external = f"replay-{uuid.uuid4()}"
    body = json.dumps(
        {
            "channel": "operator",
            "description": "路灯不亮（故障期间保存）",
            "category_code": "0101",
            "grid_code": GRIDS[0],
            "external_id": external,
        },
        ensure_ascii=False,
    ).encode()
    raw_id = await db.fetchval(
        "INSERT INTO raw_inbound (channel, content_type, body, submitted_by, path, outcome, error) "
        "VALUES ('operator', 'application/json', $1, 'user:demo-operator', '/api/v1/reports', 'failed', "
        '\'{"error": "ConnectionDoesNotExistError"}\') RETURNING id',
        body,
    )
    rows = await replayable(db, ids=None, limit=1000)
    assert raw_id in [r["id"] for r in rows]
    results = {r.raw_id: r for r in await replay(db, [r for r in rows if r["id"] == raw_id])}
    assert results[raw_id].outcome == "accepted"
    case_id = await db.fetchval("SELECT case_id FROM raw_inbound WHERE id = $1", raw_id)
    case = await case_in_status(api, str(case_id), "dispatched")
    assert case["external_id"] == external
    again = await replay(db, await replayable(db, ids=[raw_id], limit=10))
    assert again[0].outcome == "skipped"  # accepted now: nothing to do


async def test_old_raw_requests_are_purged(db: asyncpg.Pool) -> None:
    old = await db.fetchval(
        "INSERT INTO raw_inbound (channel, body, received_at, outcome) "
        "VALUES ('wechat', 'old', now() - interval '200 days', 'accepted') RETURNING id"
    )
    counts = await purge(db, retention_days=180, nonce_window_s=300)
    assert counts["raw_inbound"] >= 1
    assert await db.fetchval("SELECT count(*) FROM raw_inbound WHERE id = $1", old) == 0


async def test_requests_refused_before_they_are_read_are_kept_too(
    api: httpx.AsyncClient, db: asyncpg.Pool
) -> None:
    before = await db.fetchval("SELECT coalesce(max(id), 0) FROM raw_inbound")
    huge = await api.post(
        "/api/v1/reports", content=b"{" + b" " * 200_000 + b"}", headers={"content-type": "application/json"}
    )
    assert huge.status_code == 413
    form = await api.post(
        "/api/v1/reports", content=b"a=b", headers={"content-type": "application/x-www-form-urlencoded"}
    )
    assert form.status_code == 415
    rows = await db.fetch(
        "SELECT outcome, error, length(body) AS size FROM raw_inbound WHERE id > $1 ORDER BY id", before
    )
    assert [(r["outcome"], r["error"]["error"]) for r in rows] == [
        ("rejected", "payload_too_large"),
        ("rejected", "unsupported_media_type"),
    ]
