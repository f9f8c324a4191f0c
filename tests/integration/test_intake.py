"""Intake: idempotency keys, clear 4xx for bad input, and the raw payload kept before parsing."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import httpx
import pytest

from tests.integration.conftest import case_in_status, report, reporter_headers


async def submit(api: httpx.AsyncClient, body: dict[str, object]) -> httpx.Response:
    """Post as the identity that uses the body's channel (operators for an unknown one)."""
    channel = body.get("channel")
    return await api.post(
        "/api/v1/reports", json=body, headers=reporter_headers(channel if isinstance(channel, str) else "")
    )


async def test_same_external_id_twice_gives_one_case(api: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    body = report(channel="hotline", external_id=f"12345-{uuid.uuid4()}")

    first = await submit(api, body)
    second = await submit(api, body)

    assert first.status_code == second.status_code == 202
    assert first.json()["case_id"] == second.json()["case_id"]
    assert second.json()["duplicate_of_request"] is True
    n = await db.fetchval("SELECT count(*) FROM cases WHERE external_id = $1", body["external_id"])
    assert n == 1


async def test_concurrent_retries_of_one_report_make_one_case(
    api: httpx.AsyncClient, db: asyncpg.Pool
) -> None:
    body = report(channel="wechat", external_id=f"wx-msg-{uuid.uuid4()}")

    responses = await asyncio.gather(*(submit(api, body) for _ in range(8)))

    assert {r.status_code for r in responses} == {202}
    assert len({r.json()["case_id"] for r in responses}) == 1
    case_id = responses[0].json()["case_id"]
    await case_in_status(api, case_id, "dispatched")
    dispatches = await db.fetchval(
        "SELECT count(*) FROM case_events WHERE case_id = $1 AND type = 'case.dispatched'", uuid.UUID(case_id)
    )
    assert dispatches == 1


async def test_same_external_id_from_another_channel_is_another_case(api: httpx.AsyncClient) -> None:
    key = f"shared-{uuid.uuid4()}"
    a = await submit(api, report(channel="app", external_id=key))
    b = await submit(api, report(channel="hotline", external_id=key))
    assert a.json()["case_id"] != b.json()["case_id"]


@pytest.mark.parametrize(
    ("body", "field", "status"),
    [
        ({"channel": "fax"}, "channel", 422),
        ({"description": ""}, "description", 422),
        ({"location": {"lat": 95, "lon": 120.1}}, "location.lat", 422),
        ({"location": {"lat": 30.2, "lon": 120.1, "crs": "baidu"}}, "location.crs", 422),
        ({"grid_code": "123"}, "grid_code", 422),
        ({"reporter": {"name": "李四", "phone": "not-a-phone"}}, "reporter.phone", 422),
        ({"urgency": "asap"}, "urgency", 422),
        ({"unexpected": 1}, "unexpected", 422),
    ],
)
async def test_malformed_report_gets_4xx_naming_field_and_reason(
    api: httpx.AsyncClient, body: dict[str, object], field: str, status: int
) -> None:
    r = await submit(api, report(**body))

    assert r.status_code == status, r.text
    err = r.json()
    assert err["error"] == "validation_error"
    problem = next(f for f in err["fields"] if f["field"] == field)
    assert problem["reason"]


async def test_missing_required_fields_are_all_named(api: httpx.AsyncClient) -> None:
    r = await submit(api, {})
    assert r.status_code == 422
    assert {f["field"] for f in r.json()["fields"]} >= {"channel", "description"}


async def test_invalid_json_is_400_and_raw_payload_is_kept(api: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    garbage = b'{"channel": "app", "description": "\xe8\xb7\xaf\xe7\x81\xaf' + uuid.uuid4().hex.encode()

    r = await api.post(
        "/api/v1/reports",
        content=garbage,
        headers={"content-type": "application/json", **reporter_headers("app")},
    )

    assert r.status_code == 400
    assert r.json()["error"] == "invalid_json"
    raw = await db.fetchrow(
        "SELECT body, outcome FROM raw_inbound WHERE id = $1", r.json()["details"]["raw_id"]
    )
    assert raw["body"] == garbage and raw["outcome"] == "rejected"


async def test_accepted_report_raw_payload_links_to_case(api: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    body = report()
    r = await submit(api, body)
    row = await db.fetchrow(
        "SELECT outcome, case_id FROM raw_inbound WHERE body = $1::bytea ORDER BY id DESC LIMIT 1",
        httpx.Request("POST", "/", json=body).content,
    )
    assert row is not None and row["outcome"] == "accepted" and str(row["case_id"]) == r.json()["case_id"]


async def test_personal_data_is_masked_in_the_console(api: httpx.AsyncClient) -> None:
    r = await submit(
        api,
        report(
            reporter={"name": "王小明", "phone": "13812345678", "id_number": "33010619900101123X"},
            address="梅溪街道柳塘小区3幢2单元501室",
        ),
    )
    case = (await api.get(f"/api/v1/cases/{r.json()['case_id']}")).json()
    assert case["reporter"] == {"name": "王**", "phone": "138****5678", "id_number": "330***********123X"}
    assert "501" not in case["address"]
