"""Open311 records from our categories, statuses and cases: exact field names, no personal data."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from intake.open311.mapping import (
    CaseRow,
    created_of,
    group_of,
    open311_status,
    request_of,
    rounded,
    service_definition_of,
    service_of,
    status_notes,
    statuses_for,
    w3_datetime,
)
from schemas.states import STATUS_LABELS, CaseStatus

SERVICE_FIELDS = ["service_code", "service_name", "description", "metadata", "type", "keywords", "group"]
REQUEST_FIELDS = [
    "service_request_id",
    "status",
    "status_notes",
    "service_name",
    "service_code",
    "description",
    "agency_responsible",
    "service_notice",
    "requested_datetime",
    "updated_datetime",
    "expected_datetime",
    "address",
    "address_id",
    "zipcode",
    "lat",
    "long",
    "media_url",
]


@pytest.mark.parametrize(
    ("code", "group"),
    [
        ("0101", "市政公用设施"),
        ("0205", "市容环境"),
        ("0301", "街面秩序与违法建设"),
        ("0401", "安全隐患"),
        ("0501", "环境污染"),
        ("0601", "矛盾纠纷与社会治安"),
        ("0701", "民生服务"),
        ("9999", "其他"),
        ("4201", "其他"),  # a deployment's own group we don't know
    ],
)
def test_groups_come_from_the_category_list(code: str, group: str) -> None:
    assert group_of(code) == group


def test_a_category_is_a_realtime_service_without_metadata() -> None:
    service = service_of("0102", "井盖缺失或破损", "component")
    assert list(service) == SERVICE_FIELDS
    assert service["service_code"] == "0102" and service["service_name"] == "井盖缺失或破损"
    assert service["metadata"] is False and service["type"] == "realtime"
    assert service["group"] == "市政公用设施"
    assert service["keywords"] == "井盖缺失或破损, 井盖缺失, 破损, 市政公用设施, 部件"
    assert "部件" in service["description"]
    assert service_definition_of("0102") == {"service_code": "0102", "attributes": []}


@pytest.mark.parametrize("status", list(CaseStatus))
def test_closed_means_terminal(status: CaseStatus) -> None:
    expected = (
        "closed" if status in {CaseStatus.CLOSED, CaseStatus.REJECTED, CaseStatus.DUPLICATE} else "open"
    )
    assert open311_status(status.value) == expected
    assert status.value in statuses_for(expected)
    assert status_notes(status.value) == STATUS_LABELS[status]


def test_unknown_status_is_open_and_named_as_is() -> None:
    assert open311_status("something_new") == "open"
    assert status_notes("something_new") == "something_new"


def test_a_merged_duplicate_names_its_original() -> None:
    assert status_notes("duplicate", "20260105000123") == "已并入案件20260105000123"
    assert status_notes("duplicate", None) == "重复件"


def test_datetimes_are_w3_with_the_district_offset() -> None:
    assert w3_datetime(datetime(2026, 1, 5, 1, 30, 15, 123456, tzinfo=UTC)) == "2026-01-05T09:30:15+08:00"
    assert w3_datetime(datetime(2026, 1, 5, 1, 30)) == "2026-01-05T09:30:00+08:00"  # naive: UTC
    assert w3_datetime(None) is None


def test_coordinates_are_rounded_to_about_ten_metres() -> None:
    assert rounded(30.123456789) == 30.1235
    assert rounded(-120.00004) == -120.0
    assert rounded(None) is None


def _case(**overrides: object) -> CaseRow:
    values: dict[str, object] = {
        "case_no": "20260105000123",
        "status": "dispatched",
        "category_code": "0101",
        "category_name": "路灯损坏",
        "description": "路灯不亮，请回电13812345678，身份证330106199001011234",
        "department_name": "区城市管理局·市政设施科",
        "created_at": datetime(2026, 1, 5, 1, 0, tzinfo=UTC),
        "updated_at": datetime(2026, 1, 5, 2, 0, tzinfo=UTC),
        "due_at": datetime(2026, 1, 6, 9, 0, tzinfo=UTC),
        "address": "梅溪街道柳塘小区3幢2单元501室",
        "lat": 30.2741234,
        "lon": 120.1551234,
        "intake_details": {
            "media_url": "https://img.example.org/a.jpg",
            "address_id": "A-17",
            "device_id": "d1",
        },
    }
    values.update(overrides)
    return CaseRow(**values)  # type: ignore[arg-type]


def test_a_case_is_a_request_without_personal_data() -> None:
    request = request_of(_case())
    assert list(request) == REQUEST_FIELDS
    assert request["service_request_id"] == "20260105000123"
    assert request["status"] == "open" and request["status_notes"] == "已派遣"
    assert request["service_code"] == "0101" and request["service_name"] == "路灯损坏"
    assert request["agency_responsible"] == "区城市管理局·市政设施科"
    assert "13812345678" not in request["description"] and "138****5678" in request["description"]
    assert "330106199001011234" not in request["description"]
    assert request["address"] == "梅溪街道柳塘****" and "501" not in request["address"]
    assert (request["lat"], request["long"]) == (30.2741, 120.1551)
    assert request["requested_datetime"] == "2026-01-05T09:00:00+08:00"
    assert request["updated_datetime"] == "2026-01-05T10:00:00+08:00"
    assert request["expected_datetime"] == "2026-01-06T17:00:00+08:00"
    assert request["media_url"] == "https://img.example.org/a.jpg" and request["address_id"] == "A-17"
    assert request["zipcode"] is None and request["service_notice"] is None
    assert "device_id" not in request


def test_a_case_without_category_place_or_details() -> None:
    request = request_of(
        _case(
            category_code=None,
            category_name=None,
            department_name=None,
            address=None,
            lat=None,
            lon=None,
            due_at=None,
            intake_details=None,
            status="closed",
        )
    )
    assert request["status"] == "closed" and request["status_notes"] == "已结案"
    assert request["service_code"] is None and request["lat"] is None and request["long"] is None
    assert (
        request["address"] is None and request["media_url"] is None and request["expected_datetime"] is None
    )


def test_the_answer_to_a_post_is_the_case_number() -> None:
    created = created_of("20260105000123", "路灯损坏")
    assert list(created) == ["service_request_id", "service_notice", "account_id"]
    assert created["service_request_id"] == "20260105000123" and created["account_id"] is None
    assert "20260105000123" in created["service_notice"] and "路灯损坏" in created["service_notice"]
