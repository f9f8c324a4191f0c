"""The responsibility matrix (category × area), handling at the grid or community first, and anti-bounce,
on the running system."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import httpx

from tests.integration.conftest import case_in_status, department_headers, post_report, role_headers
from tests.support import wait_for

LIUTANG_1 = "10100133019900100101"  # 柳塘社区第一网格 (梅溪街道): demo-gridworker's grid
LIUTANG_2 = "10100133019900100102"  # 柳塘社区第二网格
GUANLAN_1 = "10100133019900200101"  # 观澜社区第一网格 (望江街道)
WANGJIANG = "10100133019900200000"  # 望江街道


async def act(api: httpx.AsyncClient, case_id: str, headers: dict[str, str], **body: Any) -> httpx.Response:
    return await api.post(f"/api/v1/cases/{case_id}/actions", json=body, headers=headers)


async def ok(api: httpx.AsyncClient, case_id: str, headers: dict[str, str], **body: Any) -> dict[str, Any]:
    r = await act(api, case_id, headers, **body)
    assert r.status_code == 200, (body, r.text)
    result: dict[str, Any] = r.json()
    return result


# --- the matrix ------------------------------------------------------------------------------


async def test_the_most_specific_rule_wins(api: httpx.AsyncClient) -> None:
    street = (
        await api.get("/api/v1/matrix/resolve", params={"category_code": "0101", "grid_code": GUANLAN_1})
    ).json()
    assert (street["department_code"], street["rule_area_code"]) == ("JD-BSC", WANGJIANG)
    assert (street["handle_limit"], street["sign_limit"]) == (
        "2wd",
        "2wh",
    )  # sign falls back to the category's
    default = (
        await api.get("/api/v1/matrix/resolve", params={"category_code": "0101", "grid_code": LIUTANG_1})
    ).json()
    assert (default["department_code"], default["rule_area_name"]) == ("CG-SZ", "类别默认")
    rubbish = (
        await api.get("/api/v1/matrix/resolve", params={"category_code": "0201", "grid_code": LIUTANG_1})
    ).json()
    assert (rubbish["department_code"], rubbish["first_handler"]) == ("CG-HW", "grid")


async def test_dispatch_follows_the_area_rule(api: httpx.AsyncClient) -> None:
    accepted = await post_report(api, channel="operator", grid_code=GUANLAN_1, category_code="0101")
    case = await case_in_status(api, accepted["case_id"], "dispatched")
    assert case["department_code"] == "JD-BSC"
    dispatched = next(e for e in case["events"] if e["type"] == "case.dispatched")
    assert dispatched["payload"]["matrix_rule"] == "望江街道"
    assert dispatched["payload"]["handle_limit"] == "2wd"
    assert dispatched["payload"]["assist_departments"] == ["区城市管理局·市政设施科"]


async def test_admins_edit_rules_with_an_audit_trail(as_role: dict[str, httpx.AsyncClient]) -> None:
    admin, operator = as_role["admin"], as_role["operator"]
    rule = {"category_code": "0304", "area_code": LIUTANG_2, "department_code": "CG-ZF", "handle_limit": "4h"}
    refused = await operator.put("/api/v1/matrix/rules", json=rule)
    assert refused.status_code == 403 and "维护基础数据" in refused.json()["message"]
    bad = await admin.put(
        "/api/v1/matrix/rules", json=rule | {"department_code": "NOPE", "assist": ["CG-ZF"]}
    )
    assert bad.status_code == 422 and "责任部门“NOPE”不存在" in bad.json()["message"]
    empty = await admin.put("/api/v1/matrix/rules", json={"category_code": "0304", "area_code": LIUTANG_2})
    assert empty.status_code == 422 and "规则没有任何内容" in empty.json()["message"]
    r = await admin.put("/api/v1/matrix/rules", json=rule)
    assert r.status_code == 200, r.text
    saved = r.json()
    assert (saved["department_name"], saved["area_name"]) == ("区城市管理综合执法大队", "柳塘社区第二网格")
    resolved = (
        await admin.get("/api/v1/matrix/resolve", params={"category_code": "0304", "grid_code": LIUTANG_2})
    ).json()
    assert (resolved["department_code"], resolved["handle_limit"]) == ("CG-ZF", "4h")
    audit = (await admin.get("/api/v1/audit", params={"action": "matrix.rule.put", "limit": 5})).json()
    entry = next(e for e in audit if e["target"] == f"0304@{LIUTANG_2}")
    assert entry["actor"] == "user:admin" and entry["details"]["before"] is None
    assert entry["details"]["after"]["department_code"] == "CG-ZF"
    listed = (await admin.get("/api/v1/matrix/rules", params={"category_code": "0304"})).json()
    assert [row["area_code"] for row in listed] == [None, LIUTANG_2]  # the default first
    assert (await admin.delete(f"/api/v1/matrix/rules/{saved['id']}")).status_code == 204
    assert (await admin.delete(f"/api/v1/matrix/rules/{saved['id']}")).status_code == 404
    audit = (await admin.get("/api/v1/audit", params={"action": "matrix.rule.delete", "limit": 5})).json()
    assert any(e["target"] == f"0304@{LIUTANG_2}" for e in audit)


async def test_the_check_reports_a_category_without_a_department(
    as_role: dict[str, httpx.AsyncClient], db: asyncpg.Pool
) -> None:
    admin = as_role["admin"]
    assert (await admin.get("/api/v1/matrix/check")).json() == {"ok": True, "problems": []}
    await db.execute(
        "INSERT INTO categories (code, name, kind, department_code, level, urgency, sign_limit, handle_limit) "
        "VALUES ('9990', '测试类别', 'event', NULL, 'district', 'normal', '1h', '1wd')"
    )
    try:
        report = (await admin.get("/api/v1/matrix/check")).json()
        assert not report["ok"]
        assert any("9990 测试类别 在任何区域都没有责任部门" in p["message"] for p in report["problems"])
        # A rule for one street fills that street only: the rest is still reported.
        r = await admin.put(
            "/api/v1/matrix/rules",
            json={"category_code": "9990", "area_code": WANGJIANG, "department_code": "JD-BSC"},
        )
        assert r.status_code == 200, r.text
        report = (await admin.get("/api/v1/matrix/check")).json()
        assert any("9990 测试类别 在柳塘社区第一网格" in p["message"] for p in report["problems"])
    finally:
        await db.execute("DELETE FROM responsibility_rules WHERE category_code = '9990'")
        await db.execute("DELETE FROM categories WHERE code = '9990'")


# --- 小事不出网格 ----------------------------------------------------------------------------


async def test_grid_worker_tries_first_and_hands_over_to_the_department(api: httpx.AsyncClient) -> None:
    worker, cg_hw = role_headers("grid_worker"), department_headers("CG-HW")
    accepted = await post_report(api, channel="operator", grid_code=LIUTANG_1, category_code="0201")
    case_id = accepted["case_id"]
    case = await case_in_status(api, case_id, "dispatched")
    assert (case["handler_level"], case["department_code"]) == ("grid", "CG-HW")
    assert case["handler_label"] == "柳塘社区第一网格（网格先行处置）"
    worker_view = (await api.get(f"/api/v1/cases/{case_id}", headers=worker)).json()
    assert set(worker_view["viewer"]["actions"]) >= {"sign", "resolve", "hand_over"} - {"resolve"}
    refused = await act(api, case_id, cg_hw, action="sign")
    assert refused.status_code == 403 and "正由网格先行处置" in refused.json()["message"]
    no_reason = await act(api, case_id, worker, action="hand_over")
    assert no_reason.status_code == 422 and "无法就地解决" in no_reason.json()["message"]
    await ok(api, case_id, worker, action="sign")
    await ok(api, case_id, worker, action="hand_over", note="垃圾量大，需环卫车辆清运")
    case = (await api.get(f"/api/v1/cases/{case_id}")).json()
    assert (case["status"], case["handler_level"]) == ("dispatched", None)
    assert case["handler_label"] == "区城市管理局·环境卫生科"
    again = await act(api, case_id, worker, action="resolve", note="已清理")
    assert again.status_code == 403 and "已由职能部门办理" in again.json()["message"]
    await ok(api, case_id, cg_hw, action="sign")

    async def clock_restarted() -> dict[str, Any] | None:
        c: dict[str, Any] = (await api.get(f"/api/v1/cases/{case_id}")).json()
        return c if sum(e["type"] == "case.sla_started" for e in c["events"]) == 2 else None

    await wait_for(clock_restarted, timeout=20)


async def test_community_cases_are_the_communitys(api: httpx.AsyncClient) -> None:
    worker, community = role_headers("grid_worker"), role_headers("community")
    accepted = await post_report(api, channel="operator", grid_code=LIUTANG_2, category_code="0303")
    case_id = accepted["case_id"]
    case = await case_in_status(api, case_id, "dispatched")
    assert case["handler_label"] == "柳塘社区（社区先行处置）"
    refused = await act(api, case_id, worker, action="sign")  # 赵丽's grid is 柳塘一, not the community
    assert refused.status_code in (403, 404)
    await ok(api, case_id, community, action="sign")
    await ok(api, case_id, community, action="resolve", note="已劝离占道车辆，消防通道已畅通")
    assert (await api.get(f"/api/v1/cases/{case_id}")).json()["status"] == "resolved"


# --- anti-bounce ---------------------------------------------------------------------------


async def test_a_case_returned_twice_is_raised_to_the_street_with_its_first_department_coordinating(
    api: httpx.AsyncClient, as_role: dict[str, httpx.AsyncClient]
) -> None:
    operator, cg_sz, zj = role_headers("operator"), role_headers("department"), department_headers("ZJ")
    accepted = await post_report(api, channel="operator", grid_code=LIUTANG_1, category_code="0101")
    case_id = accepted["case_id"]
    await case_in_status(api, case_id, "dispatched")
    await ok(api, case_id, cg_sz, action="return", note="不是路灯，是小区自建照明")
    case = (await api.get(f"/api/v1/cases/{case_id}")).json()
    assert not case["bounced"] and case["return_count"] == 1
    await ok(api, case_id, operator, action="redispatch", department_code="ZJ", note="改派住建局")
    await ok(api, case_id, zj, action="return", note="小区照明归物业，不归住建局")
    case = (await api.get(f"/api/v1/cases/{case_id}")).json()
    assert case["bounced"] and case["bounce_label"] == "推诿预警：案件已被退回两次"
    # At least the street supervises it now (路灯 is a district-level category: it stays there).
    assert (
        case["level"] in ("street", "district")
        and case["coordinator_department_name"] == "区城市管理局·市政设施科"
    )
    flagged = next(e for e in case["events"] if e["type"] == "case.bounce_flagged")
    assert flagged["payload"]["departments_tried"] == ["区城市管理局·市政设施科", "区住房和城乡建设局"]
    # The first department keeps the case in sight to coordinate it; the street's leader sees the flag.
    assert (await api.get(f"/api/v1/cases/{case_id}", headers=cg_sz)).status_code == 200
    leader = await as_role["leader"].get("/api/v1/cases", params={"bounced": "true", "limit": 50})
    assert leader.status_code == 200, leader.text
    assert case_id in [c["case_id"] for c in leader.json()["items"]]


async def test_a_third_department_is_a_bounce(api: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    operator = role_headers("operator")
    accepted = await post_report(api, channel="operator", grid_code=LIUTANG_1, category_code="0101")
    case_id = accepted["case_id"]
    await case_in_status(api, case_id, "dispatched")
    await ok(api, case_id, operator, action="redispatch", department_code="ZJ", note="属房屋附属设施")
    assert (await api.get(f"/api/v1/cases/{case_id}")).json()["bounced"] is False
    await ok(api, case_id, operator, action="redispatch", department_code="ZJ-WY", note="属物业管理范围")
    row = await db.fetchrow(
        "SELECT bounce_reason, coordinator_department_code, departments_tried, assist_department_codes "
        "FROM cases WHERE id = $1",
        uuid.UUID(case_id),
    )
    assert row["bounce_reason"] == "third_department" and row["coordinator_department_code"] == "CG-SZ"
    assert list(row["departments_tried"]) == ["CG-SZ", "ZJ", "ZJ-WY"]
    assert "CG-SZ" in row["assist_department_codes"]


async def test_the_catalog_is_rebuilt_only_when_reference_data_changes(db: asyncpg.Pool) -> None:
    from services.reference.catalog import CatalogCache

    cache = CatalogCache(db, ttl_s=0)  # check on every read
    first = await cache.get()
    assert await cache.get() is first and cache.loads == 1
    await db.execute("UPDATE categories SET handle_limit = handle_limit WHERE code = '0101'")
    assert await cache.get() is not first and cache.loads == 2
