"""The 12345 hotline on the real stack: signed work orders at POST /channels/hotline, and the daily file
import (`gridcase import hotline`).

Requests are signed here with plain ``hmac``, from the contract (intake/hotline/CONTRACT.md), not with
the code under test."""

from __future__ import annotations

import asyncio
import csv
import hashlib
import hmac
import json
import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from typer.testing import CliRunner

from services.cli import _cli_actor
from services.cli import app as cli_app
from services.db.pool import connect
from tests.integration.conftest import case_in_status
from tests.support import HOTLINE_SECRET, HOTLINE_SECRETS, System

PATH = "/channels/hotline"


def order(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "call_id": f"12345-{uuid.uuid4()}",
        "caller_number": "13912345678",
        "called_at": "2026-11-25T09:30:00+08:00",
        "summary": "市民来电：小区东门路灯不亮，晚上很黑，请尽快修复",
        "category_code": "0101",
        "urgency": "urgent",
        "callback_wanted": True,
    }
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not None}


def signed(
    payload: dict[str, Any] | bytes,
    *,
    secret: str = HOTLINE_SECRET,
    feed: str | None = None,
    ts: int | None = None,
    content_type: str = "application/json",
) -> tuple[bytes, dict[str, str]]:
    body = payload if isinstance(payload, bytes) else json.dumps(payload, ensure_ascii=False).encode()
    stamp = str(int(time.time()) if ts is None else ts)
    mac = hmac.new(secret.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    headers = {
        "Content-Type": content_type,
        "X-Gridcase-Timestamp": stamp,
        "X-Gridcase-Signature": f"sha256={mac}",
    }
    if feed:
        headers["X-Gridcase-Feed"] = feed
    return body, headers


async def push(system: System, payload: dict[str, Any] | bytes, **kwargs: Any) -> httpx.Response:
    body, headers = signed(payload, **kwargs)
    async with httpx.AsyncClient(base_url=system.http, timeout=10.0) as client:
        return await client.post(PATH, content=body, headers=headers)


async def test_a_signed_order_becomes_a_case_the_operator_sees(
    system: System, api: httpx.AsyncClient, db: asyncpg.Pool
) -> None:
    sent = order()
    r = await push(system, sent)

    assert r.status_code == 202, r.text
    accepted = r.json()
    assert accepted["duplicate_of_request"] is False and accepted["case_no"].isdigit()
    assert r.headers["location"] == f"/api/v1/cases/{accepted['case_id']}"
    case = (await api.get(f"/api/v1/cases/{accepted['case_id']}")).json()
    assert (case["channel"], case["description"]) == ("hotline", sent["summary"])
    assert case["urgency"] in {"urgent", "emergency"}  # urgency only ever goes up
    assert case["category_code"] == "0101"
    row = await db.fetchrow(
        "SELECT reporter_phone, submitted_by, external_id, intake_details FROM cases WHERE id = $1",
        uuid.UUID(accepted["case_id"]),
    )
    assert row["reporter_phone"] == "13912345678"
    assert (row["submitted_by"], row["external_id"]) == ("feed:hotline:default", sent["call_id"])
    assert row["intake_details"] == {
        "called_at": "2026-11-25T09:30:00+08:00",
        "callback_wanted": True,
        "feed": "default",
    }
    raw = await db.fetchrow(
        "SELECT outcome, submitted_by, channel, headers FROM raw_inbound WHERE case_id = $1",
        uuid.UUID(accepted["case_id"]),
    )
    assert (raw["outcome"], raw["submitted_by"], raw["channel"]) == (
        "accepted",
        "feed:hotline:default",
        "hotline",
    )
    assert "x-gridcase-timestamp" in raw["headers"] and "x-gridcase-signature" not in raw["headers"]


async def test_the_same_call_id_twice_is_one_case(system: System, db: asyncpg.Pool) -> None:
    sent = order()
    first = await push(system, sent)
    second = await push(system, sent)

    assert first.status_code == second.status_code == 202, second.text
    assert first.json()["case_id"] == second.json()["case_id"]
    assert (first.json()["duplicate_of_request"], second.json()["duplicate_of_request"]) == (False, True)
    n = await db.fetchval(
        "SELECT count(*) FROM cases WHERE channel = 'hotline' AND external_id = $1", sent["call_id"]
    )
    assert n == 1


@pytest.mark.parametrize(
    ("overrides", "send", "status", "error", "field"),
    [
        ({}, {"secret": "not-the-secret"}, 401, "signature_mismatch", None),
        ({}, {"ts": int(time.time()) - 400}, 401, "timestamp_out_of_window", None),
        ({}, {"feed": "cti-north"}, 401, "unknown_feed", None),
        ({"called_at": None}, {}, 422, "validation_error", "called_at"),
        ({"callback_wanted": "maybe"}, {}, 422, "validation_error", "callback_wanted"),
        ({"summary": 12345}, {}, 422, "validation_error", "summary"),
        ({"called_at": "2026-11-25T09:30:00"}, {}, 422, "validation_error", "called_at"),
        ({"category_code": "0999"}, {}, 422, "validation_error", "category_code"),
        ({"fax": "yes"}, {}, 422, "validation_error", "fax"),
        ({}, {"content_type": "text/plain"}, 415, "unsupported_media_type", None),
    ],
)
async def test_refused_orders_say_why_open_no_case_and_are_kept(
    system: System,
    db: asyncpg.Pool,
    overrides: dict[str, Any],
    send: dict[str, Any],
    status: int,
    error: str,
    field: str | None,
) -> None:
    sent = order(**overrides)
    body, headers = signed(sent, **send)
    async with httpx.AsyncClient(base_url=system.http, timeout=10.0) as client:
        r = await client.post(PATH, content=body, headers=headers)

    assert r.status_code == status, r.text
    err = r.json()
    assert err["error"] == error and err["message"]
    if field:
        named = {f["field"]: f["reason"] for f in err["fields"]}
        assert named.get(field), err
    if error == "timestamp_out_of_window":
        assert err["details"]["skew_s"] < -300 and "早于服务器时间" in err["message"]
    n = await db.fetchval(
        "SELECT count(*) FROM cases WHERE channel = 'hotline' AND external_id = $1", sent["call_id"]
    )
    assert n == 0
    raw = await db.fetchrow(
        "SELECT body, outcome, error, submitted_by FROM raw_inbound WHERE id = $1", err["details"]["raw_id"]
    )
    assert raw["body"] == body  # kept as it arrived
    assert raw["outcome"] == "rejected" and raw["error"]["error"] == error
    if field:
        assert field in {f["field"] for f in raw["error"]["fields"]}
    # Only a verified feed is named as the sender.
    assert raw["submitted_by"] == (None if status == 401 else "feed:hotline:default")


async def test_invalid_json_is_400_and_kept(system: System, db: asyncpg.Pool) -> None:
    r = await push(system, b'{"call_id": "12345-broken", ')
    assert r.status_code == 400 and r.json()["error"] == "invalid_json"
    raw = await db.fetchrow("SELECT outcome FROM raw_inbound WHERE id = $1", r.json()["details"]["raw_id"])
    assert raw["outcome"] == "rejected"


async def test_unsigned_order_is_refused_naming_the_header(system: System) -> None:
    async with httpx.AsyncClient(base_url=system.http, timeout=10.0) as client:
        r = await client.post(PATH, json=order(), headers={"X-Gridcase-Timestamp": str(int(time.time()))})
    assert r.status_code == 401
    assert r.json()["error"] == "signature_missing" and "X-Gridcase-Signature" in r.json()["message"]


async def test_a_second_feed_signs_with_its_own_secret(system: System, db: asyncpg.Pool) -> None:
    feed, secret = "cti-west", HOTLINE_SECRETS["cti-west"]
    sent = order()
    r = await push(system, sent, feed=feed, secret=secret)

    assert r.status_code == 202, r.text
    row = await db.fetchrow(
        "SELECT submitted_by, intake_details FROM cases WHERE id = $1", uuid.UUID(r.json()["case_id"])
    )
    assert row["submitted_by"] == "feed:hotline:cti-west" and row["intake_details"]["feed"] == feed
    # The default secret does not sign for another feed, nor another feed's for the default.
    assert (await push(system, order(), feed=feed)).json()["error"] == "signature_mismatch"
    assert (await push(system, order(), secret=secret)).json()["error"] == "signature_mismatch"


async def test_an_order_with_only_an_address_reaches_its_grid(system: System, api: httpx.AsyncClient) -> None:
    r = await push(
        system,
        order(
            summary="梅园新村5号楼前的路灯不亮",
            address="青禾区梅溪街道梅园新村五号楼",
            category_code="0101",
            urgency=None,
        ),
    )
    assert r.status_code == 202, r.text

    case = await case_in_status(api, r.json()["case_id"], "dispatched")
    assert case["grid_code"] == "10100133019900100102"  # 柳塘社区第二网格 holds 梅园新村 1–12
    dispatched = next(e for e in case["events"] if e["type"] == "case.dispatched")
    assert dispatched["payload"]["routed_by"] == "address"


async def test_the_intake_service_takes_orders_too(system: System) -> None:
    """The intake service has no catalogue in memory: it asks the database whether a category exists."""
    intake = f"http://127.0.0.1:{system.state()['services']['intake']['port']}"
    async with httpx.AsyncClient(base_url=intake, timeout=10.0) as client:
        body, headers = signed(order(), feed="cti-east", secret=HOTLINE_SECRETS["cti-east"])
        good = await client.post(PATH, content=body, headers=headers)
        body, headers = signed(order(category_code="0999"))
        bad = await client.post(PATH, content=body, headers=headers)

    assert good.status_code == 202, good.text
    assert bad.status_code == 422 and bad.json()["fields"] == [
        {"field": "category_code", "reason": "类别编码“0999”不在事项目录中"}
    ]


# --- the file import -----------------------------------------------------------------------------


async def _query(url: str, sql: str, *args: Any) -> list[asyncpg.Record]:
    conn = await connect(url)
    try:
        return list(await conn.fetch(sql, *args))
    finally:
        await conn.close()


def test_import_a_days_file(system: System, tmp_path: Path) -> None:
    url = system.state()["database_url"]
    run = uuid.uuid4().hex[:8]
    pushed = order(call_id=f"HL-{run}-pushed")
    body, headers = signed(pushed)
    r = httpx.post(f"{system.http}{PATH}", content=body, headers=headers, timeout=10)
    assert r.status_code == 202, r.text
    header = [
        "工单编号",
        "来电号码",
        "来电时间",
        "诉求内容",
        "地址",
        "类别编码",
        "紧急程度",
        "需要回访",
        "坐席",
    ]
    rows = [
        [f"HL-{run}-1", "13800138000", "2026-11-25 09:30:00", "小区门口垃圾堆放多日无人清运", "", "0201", "一般", "否", "A1"],
        [f"HL-{run}-2", "", "2026-11-25T10:05:00+08:00", "井盖缺失，行人险些踩空", "梅园新村三号楼", "102", "紧急", "是", "A2"],
        [f"HL-{run}-1", "13800138000", "2026-11-25 09:30:00", "小区门口垃圾堆放多日无人清运", "", "0201", "一般", "否", "A1"],
        [pushed["call_id"], "", "2026-11-25 08:00:00", pushed["summary"], "", "0101", "", "", ""],
        [f"HL-{run}-bad1", "", "明天", "x", "", "", "", "", ""],
        [f"HL-{run}-bad2", "", "2026-11-25 11:00:00", "占道经营严重", "", "0999", "", "", ""],
    ]  # fmt: skip
    file = tmp_path / "orders.csv"
    with file.open("w", encoding="utf-8-sig", newline="") as f:
        csv.writer(f).writerows([header, *rows])
    report = tmp_path / "report.csv"

    result = CliRunner().invoke(
        cli_app,
        ["import", "hotline", str(file), "--feed", "cti-east", "--report", str(report)],
        env={"GRIDCASE_DATABASE_URL": url},
    )

    assert result.exit_code == 1, result.output
    out = result.stdout
    assert f"第2行 工单 HL-{run}-1：已受理，案件编号" in out
    assert f"第3行 工单 HL-{run}-2：已受理" in out
    assert f"第4行 工单 HL-{run}-1：已受理过" in out
    assert f"第5行 工单 {pushed['call_id']}：已受理过（工单编号重复），案件编号 {r.json()['case_no']}" in out
    assert (
        f"第6行 工单 HL-{run}-bad1：拒绝 — 来电时间：应为“2026-11-25 09:30:00”" in out
        and "诉求内容：至少2个字" in out
    )
    assert f"第7行 工单 HL-{run}-bad2：拒绝 — 类别编码：类别编码“0999”不在事项目录中" in out
    assert "共6行：已受理2行，已受理过2行，拒绝2行" in out
    assert "忽略的列：坐席" in result.stderr

    with report.open(encoding="utf-8-sig", newline="") as f:
        lines = list(csv.DictReader(f))
    assert [(x["行号"], x["结果"]) for x in lines] == [
        ("2", "已受理"),
        ("3", "已受理"),
        ("4", "已受理过"),
        ("5", "已受理过"),
        ("6", "拒绝"),
        ("6", "拒绝"),
        ("7", "拒绝"),
    ]
    assert {(x["字段"], x["原因"]) for x in lines if x["行号"] == "6"} == {
        ("来电时间", "应为“2026-11-25 09:30:00”（北京时间）或ISO 8601时间"),
        ("诉求内容", "至少2个字"),
    }

    cases = asyncio.run(
        _query(
            url,
            "SELECT external_id, channel, description, category_code, urgency, reporter_phone, submitted_by, "
            "intake_details FROM cases WHERE channel = 'hotline' AND external_id LIKE $1 ORDER BY external_id",
            f"HL-{run}-%",
        )
    )
    by_id = {c["external_id"]: c for c in cases}
    assert set(by_id) == {f"HL-{run}-1", f"HL-{run}-2", pushed["call_id"]}
    first, second = by_id[f"HL-{run}-1"], by_id[f"HL-{run}-2"]
    assert first["submitted_by"] == _cli_actor() and first["reporter_phone"] == "13800138000"
    assert first["description"] == "小区门口垃圾堆放多日无人清运" and first["category_code"] == "0201"
    assert first["intake_details"] == {
        "called_at": "2026-11-25T09:30:00+08:00",
        "callback_wanted": False,
        "feed": "cti-east",
    }
    assert second["category_code"] == "0102" and second["urgency"] in {"urgent", "emergency"}
    assert second["intake_details"]["callback_wanted"] is True
    assert by_id[pushed["call_id"]]["submitted_by"] == "feed:hotline:default"  # pushed first, kept

    raws = asyncio.run(
        _query(
            url,
            "SELECT outcome, headers->>'x-import-row' AS row, submitted_by, error FROM raw_inbound "
            "WHERE path = 'gridcase import hotline' AND headers->>'x-import-file' = 'orders.csv' "
            "AND convert_from(body, 'UTF8') LIKE $1 ORDER BY id",
            f"%HL-{run}-%",
        )
    )
    assert [(x["row"], x["outcome"]) for x in raws] == [
        ("2", "accepted"),
        ("3", "accepted"),
        ("4", "duplicate"),
        ("5", "duplicate"),
        ("6", "rejected"),
        ("7", "rejected"),
    ]
    assert all(x["submitted_by"] == _cli_actor() for x in raws)
    assert raws[-1]["error"]["fields"] == [{"field": "类别编码", "reason": "类别编码“0999”不在事项目录中"}]

    # Importing the good rows again opens nothing new: exit 0.
    again = tmp_path / "again.csv"
    with again.open("w", encoding="gb18030", newline="") as f:
        csv.writer(f).writerows([header, rows[0], rows[1]])
    dry = CliRunner().invoke(
        cli_app, ["import", "hotline", str(again), "--dry-run"], env={"GRIDCASE_DATABASE_URL": url}
    )
    assert dry.exit_code == 0, dry.output
    assert "共2行：已受理0行，已受理过2行，拒绝0行（试运行，未导入）" in dry.stdout
    result = CliRunner().invoke(
        cli_app, ["import", "hotline", str(again)], env={"GRIDCASE_DATABASE_URL": url}
    )
    assert result.exit_code == 0, result.output
    assert "共2行：已受理0行，已受理过2行，拒绝0行" in result.stdout


def test_import_refuses_a_file_without_its_columns(system: System, tmp_path: Path) -> None:
    file = tmp_path / "orders.csv"
    file.write_text("编号,内容\n1,路灯不亮\n", encoding="utf-8")
    result = CliRunner().invoke(
        cli_app,
        ["import", "hotline", str(file)],
        env={"GRIDCASE_DATABASE_URL": system.state()["database_url"]},
    )
    assert result.exit_code == 2
    assert "缺少必需的列：工单编号、来电时间、诉求内容" in result.stderr
