"""Routing that reads: free text classified, an address-only order placed in its grid, urgency from the
words, and an operator's correction kept as a labelled example."""

from __future__ import annotations

import uuid

import asyncpg
import httpx

from tests.integration.conftest import case_in_status, post_report, role_headers

VAGUE = "东门外那一片一直这样，也没人管，请尽快处理"


async def test_free_text_report_is_classified_and_dispatched(api: httpx.AsyncClient) -> None:
    accepted = await post_report(
        api,
        channel="hotline",
        category_code=None,
        description="市民来电反映：小区东门的路灯坏了好几天，晚上很黑",
    )
    case = await case_in_status(api, accepted["case_id"], "dispatched")
    assert (case["category_code"], case["department_code"]) == ("0101", "CG-SZ")
    assert case["category_source"] == "model" and case["classifier_version"]
    dispatched = next(e for e in case["events"] if e["type"] == "case.dispatched")
    assert dispatched["payload"]["classifier"]["version"] == case["classifier_version"]


async def test_unsure_text_waits_in_triage_with_three_suggestions(
    api: httpx.AsyncClient, db: asyncpg.Pool
) -> None:
    accepted = await post_report(api, channel="hotline", category_code=None, description=VAGUE)
    case = await case_in_status(api, accepted["case_id"], "triage")
    assert case["triage_reason"] == "low_confidence"
    suggestions = case["category_suggestions"]
    assert len(suggestions) == 3 and all(s["name"] for s in suggestions)
    assert suggestions == sorted(suggestions, key=lambda s: -s["confidence"])
    # The operator picks another category than the first suggestion: a new labelled example.
    chosen = "0101" if suggestions[0]["code"] != "0101" else "0102"
    r = await api.post(
        f"/api/v1/cases/{accepted['case_id']}/actions",
        json={"action": "dispatch", "category_code": chosen},
        headers=role_headers("operator"),
    )
    assert r.status_code == 200, r.text
    example = await db.fetchrow(
        "SELECT text, category, suggested FROM classifier_examples WHERE case_id = $1",
        uuid.UUID(accepted["case_id"]),
    )
    assert example is not None and (example["text"], example["category"]) == (VAGUE, chosen)
    assert example["suggested"] == suggestions[0]["code"]


async def test_hotline_order_with_only_an_address_reaches_its_grid_and_department(
    api: httpx.AsyncClient,
) -> None:
    accepted = await post_report(
        api,
        channel="hotline",
        grid_code=None,
        category_code="0101",
        address="青禾区梅溪街道梅园新村五号楼",
        description="梅园新村5号楼前的路灯不亮",
    )
    case = await case_in_status(api, accepted["case_id"], "dispatched")
    assert case["grid_code"] == "10100133019900100102"  # 柳塘社区第二网格 holds 梅园新村 1–12
    assert case["department_code"] == "CG-SZ"
    dispatched = next(e for e in case["events"] if e["type"] == "case.dispatched")
    assert dispatched["payload"]["routed_by"] == "address"


async def test_words_of_danger_raise_urgency(api: httpx.AsyncClient) -> None:
    accepted = await post_report(
        api, category_code="0701", description="独居老人被困在家中出不来，敲门无人应答"
    )
    case = await case_in_status(api, accepted["case_id"], "dispatched")
    assert case["urgency"] == "emergency"
    dispatched = next(e for e in case["events"] if e["type"] == "case.dispatched")
    assert dispatched["payload"]["urgency_raised"]["to"] == "emergency"
