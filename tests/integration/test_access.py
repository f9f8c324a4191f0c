"""Identity and access on the running system: every route asks the policy, people see only what is
theirs, feeds only what they sent, and the timeline names who really acted."""

from __future__ import annotations

import re
import uuid
from typing import Any

import asyncpg
import httpx
import pytest

from intake.routes import SELF_AUTHENTICATED
from schemas.access import Permission, scope_of
from schemas.identity import Role
from services.identity.bootstrap import DEMO_ACCOUNTS, DEMO_PASSWORD
from services.identity.middleware import PUBLIC_PATHS
from tests.integration.conftest import case_in_status, client_for, post_report
from tests.support import ADMIN_PASSWORD, GRIDS, SECRETS, System

# Routes that need no identity, as the OpenAPI document lists them.
PUBLIC_OPERATIONS = {("post", "/api/v1/auth/login"), ("post", "/api/v1/auth/session")}
# 梅溪街道 holds GRIDS[0] (柳塘社区第一网格); 望江街道 the 1002… grids.
MEIXI, WANGJIANG = "10100133019900100000", "10100133019900200000"
WANGJIANG_GRID = next(g for g in GRIDS if g.startswith("101001330199002"))


def _probe_url(path: str) -> str:
    """Fill path parameters with well-formed values that name nothing."""
    path = path.replace("{case_id}", str(uuid.uuid4())).replace("{token_id}", str(uuid.uuid4()))
    path = path.replace("{dead_letter_id}", "999999999").replace("{code}", "0000")
    return re.sub(r"\{[a-z_]+\}", "no-such-thing", path)


async def _login(system: System, username: str, password: str) -> str:
    async with httpx.AsyncClient(base_url=system.http, timeout=30) as client:
        r = await client.post("/api/v1/auth/login", json={"username": username, "password": password})
    assert r.status_code == 200, r.text
    token: str = r.json()["access_token"]
    SECRETS.add(token)
    return token


async def test_every_route_asks_the_policy(system: System, as_role: dict[str, httpx.AsyncClient]) -> None:
    """Generated from the OpenAPI document and the policy table: no identity → 401; a role without
    the route's permission → 403 with a Chinese reason; a role with it is let through."""
    spec = (await as_role["admin"].get("/openapi.json")).json()
    operations = [
        (method, path, op)
        for path, item in spec["paths"].items()
        for method, op in item.items()
        if method in {"get", "post", "put", "patch", "delete"}
    ]
    assert len(operations) > 20
    # Fresh sessions per role (the probe signs them out at the end).
    sessions = {a.role: await _login(system, a.username, DEMO_PASSWORD) for a in DEMO_ACCOUNTS}
    sessions[Role.ADMIN] = await _login(system, "admin", ADMIN_PASSWORD)
    operations.sort(key=lambda o: o[1] == "/api/v1/auth/logout")  # sign out last
    checked = 0
    for method, path, op in operations:
        if path.startswith(SELF_AUTHENTICATED):
            continue  # channels check their own signatures or api_key (their own tests cover them)
        url = _probe_url(path)
        anonymous = await as_role["anonymous"].request(method, url, json={} if method != "get" else None)
        if (method, path) in PUBLIC_OPERATIONS:
            assert anonymous.status_code != 401, (method, path)
            continue
        assert anonymous.status_code == 401, (method, path, anonymous.text)
        security = op.get("security") or []
        assert security, f"{method.upper()} {path} names no permission"
        permission = Permission(next(iter(security[0].values()))[0])
        for role, token in sessions.items():
            async with client_for(system, token) as client:
                # Streamed: the live feed (SSE) answers its status and then never ends.
                request = client.build_request(method, url, json={} if method != "get" else None)
                r = await client.send(request, stream=True)
                status = r.status_code
                body = (await r.aread()).decode() if status >= 400 else ""
                await r.aclose()
            if scope_of(role, permission) is None:
                assert status == 403, (role, method, path, body)
                assert re.search(r"[\u4e00-\u9fff]", body), body
            else:
                assert status not in (401, 403), (role, method, path, body)
            checked += 1
    assert checked >= len(operations) * len(Role) // 2


async def test_no_identity_is_401_on_every_service_port(system: System) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        for name, svc in system.state()["services"].items():
            base = f"http://127.0.0.1:{svc['port']}"
            assert (await client.get(f"{base}/health")).status_code == 200, name
            r = await client.get(f"{base}/metrics")
            assert r.status_code == 401, (name, r.text)
        assert (await client.get(f"{system.http}/docs")).status_code == 401
        assert (await client.get(f"{system.http}/static/console.js")).status_code == 401
        assert (await client.get(f"{system.http}/login")).status_code == 200
        page = await client.get(f"{system.http}/", headers={"accept": "text/html"})
        assert page.status_code == 303 and page.headers["location"].startswith("/login")
        for path in PUBLIC_PATHS - {"/favicon.ico", "/api/v1/auth/login", "/api/v1/auth/session"}:
            assert (await client.get(f"{system.http}{path}")).status_code == 200, path


async def _token(admin: httpx.AsyncClient, **body: Any) -> str:
    r = await admin.post("/api/v1/tokens", json={"name": f"test-{uuid.uuid4().hex[:6]}", **body})
    assert r.status_code == 201, r.text
    token: str = r.json()["token"]
    SECRETS.add(token)
    return token


async def test_department_sees_and_acts_only_on_its_own_cases(
    system: System, api: httpx.AsyncClient, as_role: dict[str, httpx.AsyncClient]
) -> None:
    case_id = (await post_report(api))["case_id"]  # 0101 路灯 → CG-SZ
    await case_in_status(api, case_id, "dispatched")
    other = await _token(as_role["admin"], role="department", department_code="HB")
    async with client_for(system, other) as hb:
        assert (await hb.get(f"/api/v1/cases/{case_id}")).status_code == 404
        listed = (await hb.get("/api/v1/cases", params={"limit": 500})).json()
        assert case_id not in {c["case_id"] for c in listed["items"]}
        r = await hb.post(f"/api/v1/cases/{case_id}/actions", json={"action": "sign"})
        assert r.status_code == 403 and "本部门" in r.json()["message"]
    own = as_role["department"]
    assert (await own.get(f"/api/v1/cases/{case_id}")).status_code == 200
    assert (await own.post(f"/api/v1/cases/{case_id}/actions", json={"action": "sign"})).status_code == 200


async def test_feed_submits_on_its_channel_and_reads_back_only_its_cases(
    system: System, api: httpx.AsyncClient, as_role: dict[str, httpx.AsyncClient]
) -> None:
    feed_token = await _token(as_role["admin"], role="feed", channel="hotline")
    someone_elses = (await post_report(api, channel="app"))["case_id"]
    async with client_for(system, feed_token) as feed:
        body = {
            "channel": "hotline",
            "description": "工单：路灯不亮",
            "category_code": "0101",
            "grid_code": GRIDS[1],
        }
        r = await feed.post("/api/v1/reports", json=body)
        assert r.status_code == 202, r.text
        mine = r.json()["case_id"]
        detail = await feed.get(f"/api/v1/cases/{mine}")
        assert detail.status_code == 200
        assert detail.json()["description"] is None and "actor" not in detail.json()["events"][0]
        listed = (await feed.get("/api/v1/cases", params={"limit": 500})).json()
        assert {c["case_id"] for c in listed["items"]} == {mine}
        assert (await feed.get(f"/api/v1/cases/{someone_elses}")).status_code == 404
        wrong = await feed.post("/api/v1/reports", json={**body, "channel": "wechat"})
        assert wrong.status_code == 403 and "12345热线" in wrong.json()["message"]
        for method, url, payload in [
            ("get", "/api/v1/categories", None),
            ("get", "/api/v1/grids", None),
            ("get", "/api/v1/departments", None),
            ("get", "/api/v1/dead-letters", None),
            ("get", "/api/v1/audit", None),
            ("get", "/api/v1/stream", None),
            ("get", "/api/v1/users", None),
            ("post", f"/api/v1/cases/{mine}/actions", {"action": "close"}),
            ("post", f"/api/v1/cases/{mine}/reveal", {"reason": "想看看"}),
            ("patch", "/api/v1/categories/0101", {"handle_limit": "1h"}),
        ]:
            r = await feed.request(method, url, json=payload)
            assert r.status_code == 403, (url, r.text)


async def test_operator_limited_to_one_street_neither_sees_nor_acts_elsewhere(
    system: System, api: httpx.AsyncClient, as_role: dict[str, httpx.AsyncClient]
) -> None:
    username = f"op-{uuid.uuid4().hex[:6]}"
    password = "Street-Op-2026"
    SECRETS.add(password)
    r = await as_role["admin"].post(
        "/api/v1/users",
        json={
            "username": username,
            "password": password,
            "display_name": "望江值班员",
            "role": "operator",
            "area_codes": [WANGJIANG],
        },
    )
    assert r.status_code == 201, r.text
    meixi_case = (await post_report(api, category_code="9999", grid_code=GRIDS[0]))["case_id"]
    wangjiang_case = (await post_report(api, category_code="9999", grid_code=WANGJIANG_GRID))["case_id"]
    await case_in_status(api, meixi_case, "triage")
    await case_in_status(api, wangjiang_case, "triage")
    async with client_for(system, await _login(system, username, password)) as street:
        me = (await street.get("/api/v1/auth/me")).json()
        assert me["user"]["unit"].endswith("（望江街道）")
        assert (await street.get(f"/api/v1/cases/{meixi_case}")).status_code == 404
        listed = {
            c["grid_code"] for c in (await street.get("/api/v1/cases", params={"limit": 500})).json()["items"]
        }
        assert listed and all(g.startswith("101001330199002") for g in listed)
        r = await street.post(
            f"/api/v1/cases/{meixi_case}/actions", json={"action": "dispatch", "department_code": "HB"}
        )
        assert r.status_code == 403 and "望江街道" in r.json()["message"]
        r = await street.post(
            f"/api/v1/cases/{wangjiang_case}/actions", json={"action": "dispatch", "department_code": "HB"}
        )
        assert r.status_code == 200, r.text


async def test_reveal_is_audited_and_others_still_see_it_masked(
    api: httpx.AsyncClient, as_role: dict[str, httpx.AsyncClient]
) -> None:
    phone = "13912345678"
    case_id = (
        await post_report(
            api,
            grid_code=GRIDS[0],
            reporter={"name": "刘小红", "phone": phone},
            description="路灯不亮，请回电13912345678",
        )
    )["case_id"]
    masked = (await api.get(f"/api/v1/cases/{case_id}")).json()
    assert masked["reporter"]["phone"] == "139****5678" and phone not in masked["description"]
    assert masked["viewer"]["can_reveal"] is True

    assert (
        await api.post(f"/api/v1/cases/{case_id}/reveal", json={})
    ).status_code == 422  # a reason is required
    r = await api.post(f"/api/v1/cases/{case_id}/reveal", json={"reason": "回访核实处置结果"})
    assert r.status_code == 200 and r.json()["reporter"]["phone"] == phone

    entries = (await as_role["admin"].get("/api/v1/audit", params={"case_id": case_id})).json()
    reveal = next(e for e in entries if e["action"] == "case.reveal")
    assert reveal["actor"] == "user:demo-operator" and reveal["reason"] == "回访核实处置结果"
    # The street leader of 梅溪 reads the audit of the street's cases.
    leader_entries = (await as_role["leader"].get("/api/v1/audit", params={"case_id": case_id})).json()
    assert [e["reason"] for e in leader_entries] == ["回访核实处置结果"]

    worker = as_role["grid_worker"]
    seen = (await worker.get(f"/api/v1/cases/{case_id}")).json()
    assert seen["reporter"]["phone"] == "139****5678" and seen["viewer"]["can_reveal"] is False
    assert (await worker.post(f"/api/v1/cases/{case_id}/reveal", json={"reason": "看看"})).status_code == 403
    leader_view = (await as_role["leader"].get(f"/api/v1/cases/{case_id}")).json()
    assert leader_view["description"] is None and leader_view["location"] is None


async def test_ten_wrong_passwords_slow_the_account_down_then_lock_it(
    system: System, as_role: dict[str, httpx.AsyncClient]
) -> None:
    username = f"clerk-{uuid.uuid4().hex[:6]}"
    password = "Right-Pass-2026"
    SECRETS.add(password)
    r = await as_role["admin"].post(
        "/api/v1/users",
        json={
            "username": username,
            "password": password,
            "display_name": "测试",
            "role": "department",
            "department_code": "SW",
        },
    )
    assert r.status_code == 201, r.text
    anonymous = as_role["anonymous"]
    answers = []
    for i in range(10):
        r = await anonymous.post("/api/v1/auth/login", json={"username": username, "password": f"wrong-{i}"})
        answers.append((r.status_code, r.json()["message"]))
    codes = [c for c, _ in answers]
    assert codes[:2] == [401, 401]
    assert set(codes[2:9]) == {429}, answers  # slowed down: wait before trying again
    assert "秒后再试" in answers[2][1]
    assert codes[9] == 423 and "锁定" in answers[9][1]
    r = await anonymous.post("/api/v1/auth/login", json={"username": username, "password": password})
    assert r.status_code == 423 and int(r.headers["retry-after"]) > 60
    # An admin's password reset unlocks it.
    reset = await as_role["admin"].post(
        f"/api/v1/users/{username}/password", json={"password": "New-Pass-2026"}
    )
    SECRETS.add("New-Pass-2026")
    assert reset.status_code == 200
    r = await anonymous.post("/api/v1/auth/login", json={"username": username, "password": "New-Pass-2026"})
    assert r.status_code == 200


async def test_console_session_cookie_needs_csrf_and_signs_out(system: System) -> None:
    async with httpx.AsyncClient(base_url=system.http, timeout=30) as browser:
        r = await browser.post(
            "/api/v1/auth/session", json={"username": "demo-operator", "password": DEMO_PASSWORD}
        )
        assert r.status_code == 200 and "access_token" not in r.json()
        cookie = r.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie
        csrf = r.json()["csrf_token"]
        assert (await browser.get("/api/v1/auth/me")).json()["csrf_token"] == csrf
        assert (await browser.get("/", headers={"accept": "text/html"})).status_code == 200
        refused = await browser.post("/api/v1/auth/logout")
        assert refused.status_code == 403 and refused.json()["error"] == "csrf_failed"
        form = await browser.post(
            "/api/v1/reports",
            content=b"channel=operator",
            headers={"content-type": "application/x-www-form-urlencoded", "x-csrf-token": csrf},
        )
        assert form.status_code == 415
        assert (await browser.post("/api/v1/auth/logout", headers={"x-csrf-token": csrf})).status_code == 200
        assert (await browser.get("/api/v1/auth/me")).status_code == 401


async def test_revoked_token_and_disabled_account_stop_working(
    system: System, as_role: dict[str, httpx.AsyncClient]
) -> None:
    admin = as_role["admin"]
    token = await _token(admin, role="leader")
    async with client_for(system, token) as leader:
        assert (await leader.get("/api/v1/cases")).status_code == 200
        token_id = next(
            t["id"] for t in (await admin.get("/api/v1/tokens")).json() if token.startswith(t["prefix"][:8])
        )
        assert (await admin.delete(f"/api/v1/tokens/{token_id}")).status_code == 200
        assert (await leader.get("/api/v1/cases")).status_code == 401
    listed = (await admin.get("/api/v1/tokens")).json()
    assert all("token" not in t and "token_hash" not in t for t in listed)


async def test_oversized_body_is_refused_while_read(api: httpx.AsyncClient) -> None:
    huge = {"channel": "operator", "description": "长" * 40000}
    r = await api.post("/api/v1/reports", json=huge)
    assert r.status_code == 413 and r.json()["message"]


@pytest.mark.parametrize("permission", [Permission.CASE_READ, Permission.CASE_ACT, Permission.CASE_REVEAL])
async def test_sql_lists_and_the_policy_agree(db: asyncpg.Pool, permission: Permission) -> None:
    """The list filter (SQL) and decide() give the same answer on generated cases."""
    from itertools import product

    from schemas.access import CaseFacts, decide
    from schemas.identity import Principal
    from services.access.filters import case_condition

    grids = [GRIDS[0], WANGJIANG_GRID, None]
    departments = ["CG-SZ", "HB", None]
    facts = [
        CaseFacts(grid_code=g, department_code=d, assist_department_codes=a, submitted_by=s)
        for g, d, a, s in product(grids, departments, [(), ("CG-SZ",)], ["token:x", None])
    ]
    principals = [
        Principal(
            subject="token:x",
            kind="token",
            credential_id="x",
            display_name="x",
            role=role,
            unit="x",
            department_code=dept,
            grid_codes=scope,
        )
        for role in Role
        for dept in ("CG-SZ", None)
        for scope in (None, frozenset({GRIDS[0]}))
    ]
    values = ", ".join(
        f"(${4 * i + 1}::text, ${4 * i + 2}::text, ${4 * i + 3}::text[], ${4 * i + 4}::text, {i})"
        for i in range(len(facts))
    )
    args: list[Any] = [
        v
        for f in facts
        for v in (f.grid_code, f.department_code, list(f.assist_department_codes), f.submitted_by)
    ]
    for principal in principals:
        params = list(args)
        condition = case_condition(principal, permission, params)
        rows = await db.fetch(
            f"SELECT i FROM (VALUES {values}) AS cases(grid_code, department_code, assist_department_codes, submitted_by, i) WHERE {condition}",
            *params,
        )
        by_sql = {r["i"] for r in rows}
        by_policy = {i for i, f in enumerate(facts) if decide(principal, permission, f)}
        assert by_sql == by_policy, (principal.role, principal.department_code, principal.grid_codes)
