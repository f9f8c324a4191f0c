"""The closed loop worked by people, through the API: requests and answers, assisting parts, photos,
merge, the on-site check; and the refusals (status, already answered, not this unit's case)."""

from __future__ import annotations

import struct
import zlib
from datetime import datetime, timedelta
from typing import Any

import httpx

from tests.integration.conftest import case_in_status, department_headers, post_report, role_headers
from tests.support import GRIDS, wait_for


def png(width: int = 4, height: int = 3) -> bytes:
    """A real, tiny PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    raw = b"".join(b"\x00" + b"\xff\x80\x00" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


async def act(api: httpx.AsyncClient, case_id: str, headers: dict[str, str], **body: Any) -> httpx.Response:
    return await api.post(f"/api/v1/cases/{case_id}/actions", json=body, headers=headers)


async def ok(api: httpx.AsyncClient, case_id: str, headers: dict[str, str], **body: Any) -> dict[str, Any]:
    r = await act(api, case_id, headers, **body)
    assert r.status_code == 200, (body, r.text)
    result: dict[str, Any] = r.json()
    return result


async def upload(api: httpx.AsyncClient, case_id: str, headers: dict[str, str], *files: bytes) -> list[str]:
    r = await api.post(
        "/api/v1/photos",
        params={"case_id": case_id},
        files=[("files", (f"p{i}.png", data, "image/png")) for i, data in enumerate(files)],
        headers=headers,
    )
    assert r.status_code == 201, r.text
    return [p["photo_id"] for p in r.json()["photos"]]


async def test_the_whole_loop_with_return_extension_photo_and_rework(api: httpx.AsyncClient) -> None:
    operator, worker = role_headers("operator"), role_headers("grid_worker")
    cg_sz, cg_hw = role_headers("department"), department_headers("CG-HW")
    case_id = (
        await post_report(
            api,
            channel="hotline",
            category_code=None,
            grid_code=GRIDS[0],
            description="东门外那一片一直这样，也没人管，请尽快处理",
        )
    )["case_id"]
    case = await case_in_status(api, case_id, "triage")
    assert case["triage_reason"] == "low_confidence"  # the text was read, not surely enough
    assert len(case["category_suggestions"]) == 3

    await ok(api, case_id, operator, action="dispatch", category_code="0101")  # 路灯 → CG-SZ by the matrix
    await ok(api, case_id, cg_sz, action="sign")
    await ok(api, case_id, cg_sz, action="return", note="垃圾清运不属于市政设施科职责")
    await ok(api, case_id, operator, action="redispatch", department_code="CG-HW", note="改由环境卫生科处理")
    await ok(api, case_id, cg_hw, action="sign")

    async def clock_resumed() -> dict[str, Any] | None:
        # The return paused the handling clock; the re-dispatch resumed it with what it had left, and
        # the new department's signing clock started and finished.
        c: dict[str, Any] = (await api.get(f"/api/v1/cases/{case_id}")).json()
        clocks = {k["phase"]: k for k in c["clocks"]}
        handle, sign = clocks.get("handle"), clocks.get("sign")
        if not handle or not sign or handle["state"] != "running" or sign["state"] != "done":
            return None
        seen = [h["what"] for h in handle["history"]]
        return c if seen[-2:] == ["paused", "resumed"] and c["due_at"] else None

    before = await wait_for(clock_resumed, what="the clock resumed by the re-dispatch")
    wanted = datetime.fromisoformat(before["due_at"]) + timedelta(days=2)
    await ok(
        api, case_id, cg_hw, action="request_extension", due_at=wanted.isoformat(), note="需协调清运车辆"
    )
    pending = (await api.get(f"/api/v1/cases/{case_id}")).json()
    assert [r["kind"] for r in pending["pending_requests"]] == ["extension"]
    assert "approve_extension" in pending["viewer"]["actions"]
    approved = await ok(api, case_id, operator, action="approve_extension")
    assert approved["status"] == "signed"
    again = await act(api, case_id, operator, action="approve_extension")
    assert again.status_code == 409 and "没有待审批的延期申请" in again.json()["message"]

    photo = await upload(api, case_id, cg_hw, png())
    await ok(api, case_id, cg_hw, action="resolve", note="已清运并消毒", photo_ids=photo)
    await ok(api, case_id, worker, action="rework", note="现场仍有残留垃圾")
    await ok(api, case_id, cg_hw, action="resolve", note="残留已清理")
    await ok(api, case_id, worker, action="close", note="现场核查合格")

    case = (await api.get(f"/api/v1/cases/{case_id}")).json()
    assert case["status"] == "closed"

    # The extension moved the deadline to the one asked for; the rework then restarted the handling clock
    # with the category's limit, and the second result finished it (escalation follows the events).
    async def clocks_followed() -> dict[str, Any] | None:
        c: dict[str, Any] = (await api.get(f"/api/v1/cases/{case_id}")).json()
        handle = next(k for k in c["clocks"] if k["phase"] == "handle")
        whats = [h["what"] for h in handle["history"]]
        return handle if "restarted" in whats and handle["state"] == "done" else None

    handle = await wait_for(clocks_followed, what="the handling clock restarted and done")
    whats = [h["what"] for h in handle["history"]]
    assert whats.index("extended") < whats.index("restarted")
    extended = next(h for h in handle["history"] if h["what"] == "extended")
    assert datetime.fromisoformat(extended["to"]) == wanted
    steps = [
        (e["type"], e["actor_label"], e["payload"].get("note"))
        for e in case["events"]
        if e["actor"].startswith("user:") or e["actor"].startswith("token:")
    ]
    types = [t for t, _, _ in steps]
    assert types == [
        "case.reported",
        "case.dispatched",
        "case.signed",
        "case.returned",
        "case.redispatched",
        "case.signed",
        "case.extension_requested",
        "case.extension_approved",
        "case.resolved",
        "case.reworked",
        "case.resolved",
        "case.closed",
    ]
    labels = dict(zip(types, [label for _, label, _ in steps], strict=False))
    assert labels["case.returned"] == "李强（区城市管理局·市政设施科）"
    assert labels["case.closed"] == "赵丽（柳塘社区第一网格）"
    notes = [note for _, _, note in steps]
    assert "垃圾清运不属于市政设施科职责" in notes and "现场仍有残留垃圾" in notes
    extension = next(e for e in case["events"] if e["type"] == "case.extension_approved")
    assert extension["payload"]["extended_by_label"] == "延长2天"
    assert [p["kind"] for p in case["photos"]] == ["handle"]
    photo_url = case["photos"][0]["url"]
    assert (await api.get(photo_url)).content == png()
    # Photos go only to who may see the case's details.
    assert (await api.get(photo_url, headers=role_headers("leader"))).status_code == 404
    assert (await api.get(photo_url, headers=role_headers("feed"))).status_code == 404


async def test_refusals_say_why(api: httpx.AsyncClient) -> None:
    operator, cg_sz = role_headers("operator"), role_headers("department")
    case_id = (await post_report(api))["case_id"]  # 0101 → CG-SZ
    await case_in_status(api, case_id, "dispatched")

    r = await act(api, case_id, cg_sz, action="return")
    assert r.status_code == 422 and r.json()["fields"][0]["field"] == "note"
    later = (datetime.now().astimezone() + timedelta(days=5)).isoformat()
    r = await act(api, case_id, cg_sz, action="request_extension", note="太忙", due_at=later)
    assert r.status_code == 409 and "已派遣" in r.json()["message"]  # sign first
    await ok(api, case_id, cg_sz, action="sign")
    r = await act(api, case_id, cg_sz, action="request_extension", note="太忙", due_at="2000-01-01T00:00:00Z")
    assert r.status_code == 422 and r.json()["fields"][0]["field"] == "due_at"
    r = await act(api, case_id, department_headers("HB"), action="resolve", note="办好了")
    assert r.status_code == 403 and "本部门" in r.json()["message"]
    r = await act(api, case_id, operator, action="refuse_suspension", note="不同意")
    assert r.status_code == 409 and "没有待审批的挂起申请" in r.json()["message"]
    await ok(api, case_id, cg_sz, action="request_suspension", note="等待法院裁定")
    r = await act(api, case_id, cg_sz, action="request_suspension", note="再申请一次")
    assert r.status_code == 409 and "已有待审批的挂起申请" in r.json()["message"]
    await ok(api, case_id, operator, action="approve_suspension", note="同意")
    assert (await api.get(f"/api/v1/cases/{case_id}")).json()["status"] == "suspended"
    await ok(api, case_id, cg_sz, action="resume")
    r = await act(api, case_id, operator, action="approve_suspension")
    assert r.status_code == 409

    bad = await api.post(
        "/api/v1/photos",
        params={"case_id": case_id},
        files=[("files", ("x.png", b"GIF89a....", "image/png"))],
        headers=cg_sz,
    )
    assert bad.status_code == 422 and "JPEG" in bad.json()["message"]
    feed = await api.post(
        "/api/v1/photos",
        params={"case_id": case_id},
        files=[("files", ("x.png", png(), "image/png"))],
        headers=role_headers("feed"),
    )
    assert feed.status_code == 403
    other = await upload(api, case_id, operator, png())
    r = await act(api, case_id, cg_sz, action="resolve", note="办好了", photo_ids=other)
    assert r.status_code == 422 and r.json()["fields"][0]["field"] == "photo_ids"  # not the uploader's


async def test_assisting_department_reports_its_part_before_the_lead_resolves(api: httpx.AsyncClient) -> None:
    cg_sz, sw = role_headers("department"), department_headers("SW")
    case_id = (await post_report(api, category_code="0102", description="井盖破损，下面是雨水管"))["case_id"]
    case = await case_in_status(api, case_id, "dispatched")
    assert case["department_code"] == "CG-SZ"
    assert [(a["department_code"], a["status"]) for a in case["assists"]] == [("SW", "pending")]
    assist_view = (await api.get(f"/api/v1/cases/{case_id}", headers=sw)).json()
    assert assist_view["viewer"]["actions"] == ["report_assist"]  # sees it, may not sign it
    assert (await act(api, case_id, sw, action="sign")).status_code == 403

    await ok(api, case_id, cg_sz, action="sign")
    r = await act(api, case_id, cg_sz, action="resolve", note="已更换井盖")
    assert r.status_code == 409 and "区水务局" in r.json()["message"]
    await ok(api, case_id, sw, action="report_assist", note="雨水管已疏通")
    assert (await act(api, case_id, sw, action="report_assist", note="再报一次")).status_code == 409
    await ok(api, case_id, cg_sz, action="resolve", note="已更换井盖")

    other = (await post_report(api, category_code="0102"))["case_id"]
    await case_in_status(api, other, "dispatched")
    await ok(api, other, cg_sz, action="sign")
    done = await ok(
        api, other, cg_sz, action="resolve", note="已更换", missing_assists_reason="水务局确认无需处理"
    )
    assert done["status"] == "resolved"


async def test_merged_duplicate_hears_the_original_outcome(api: httpx.AsyncClient) -> None:
    operator = role_headers("operator")
    original = (await post_report(api, category_code="9999", description="楼下广场舞噪音"))["case_id"]
    duplicate = (await post_report(api, category_code="9999", description="广场舞太吵了"))["case_id"]
    await case_in_status(api, original, "triage")
    await case_in_status(api, duplicate, "triage")
    r = await act(api, duplicate, operator, action="mark_duplicate", original_case_id=duplicate)
    assert r.status_code == 422
    await ok(api, duplicate, operator, action="mark_duplicate", original_case_id=original, note="同一问题")
    view = (await api.get(f"/api/v1/cases/{original}")).json()
    assert [d["case_id"] for d in view["duplicates"]] == [duplicate]

    cg_zf = department_headers("CG-ZF")
    await ok(api, original, operator, action="dispatch", department_code="CG-ZF")
    await ok(api, original, cg_zf, action="sign")
    await ok(api, original, cg_zf, action="resolve", note="已劝导，调整活动时间")
    await ok(api, original, operator, action="close", note="回访满意")

    async def told() -> dict[str, Any] | None:
        c: dict[str, Any] = (await api.get(f"/api/v1/cases/{duplicate}")).json()
        return c if any(e["type"] == "case.original_closed" for e in c["events"]) else None

    case = await wait_for(told, what="the duplicate hears the original's outcome")
    assert case["status"] == "duplicate" and case["duplicate_of"]["case_id"] == original
