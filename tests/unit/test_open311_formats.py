"""Open311's wire formats: top-level JSON arrays, the spec's XML elements, errors with the HTTP status."""

from __future__ import annotations

import json

import defusedxml.ElementTree as DET
import pytest

from intake.open311.formats import (
    JSON_TYPE,
    XML_TYPE,
    Open311Error,
    error_response,
    format_of,
    format_of_path,
    render,
    xml_document,
)


def test_json_is_a_top_level_array_in_utf8() -> None:
    response = render(
        [{"service_code": "0101", "service_name": "路灯损坏", "metadata": False}], "json", root="services"
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == JSON_TYPE == "application/json; charset=utf-8"
    assert json.loads(bytes(response.body)) == [
        {"service_code": "0101", "service_name": "路灯损坏", "metadata": False}
    ]
    assert "路灯损坏".encode() in response.body  # not \u escaped


def test_xml_follows_the_spec() -> None:
    services = [{"service_code": "0101", "metadata": False, "description": None, "keywords": "a, b"}]
    document = xml_document("services", services)
    assert document.startswith(b'<?xml version="1.0" encoding="utf-8"?>\n<services><service>')
    root = DET.fromstring(document)
    service = root.find("service")
    assert service is not None
    assert service.findtext("service_code") == "0101" and service.findtext("metadata") == "false"
    assert service.findtext("description") == ""


def test_xml_nested_lists_and_escaping() -> None:
    definition = {"service_code": "X", "attributes": [{"code": "A", "values": [{"key": 1, "name": "<&>"}]}]}
    root = DET.fromstring(xml_document("service_definition", definition))
    assert root.findtext("attributes/attribute/values/value/name") == "<&>"
    assert root.findtext("attributes/attribute/values/value/key") == "1"
    # control characters XML can't carry are dropped, not sent broken
    assert (
        DET.fromstring(xml_document("errors", [{"description": "a\x01b"}])).findtext("error/description")
        == "ab"
    )


def test_xml_content_type() -> None:
    response = render([], "xml", root="service_requests")
    assert response.headers["content-type"] == XML_TYPE == "text/xml; charset=utf-8"
    assert DET.fromstring(response.body).tag == "service_requests"


def test_errors_carry_the_status_in_both_formats() -> None:
    error = Open311Error(429, ["太快了", "再等等"], reason="rate_limited", headers={"Retry-After": "3"})
    response = error_response(error, "json")
    assert response.status_code == 429 and response.headers["retry-after"] == "3"
    assert json.loads(bytes(response.body)) == [
        {"code": 429, "description": "太快了"},
        {"code": 429, "description": "再等等"},
    ]
    root = DET.fromstring(error_response(error, "xml").body)
    assert root.tag == "errors" and [e.findtext("code") for e in root.findall("error")] == ["429", "429"]
    assert error.record() == {"error": "rate_limited", "status": 429, "errors": ["太快了", "再等等"]}


def test_formats() -> None:
    assert format_of("json") == "json" and format_of("XML") == "xml"
    with pytest.raises(Open311Error) as caught:
        format_of("html")
    assert caught.value.status == 400
    assert format_of_path("/open311/v2/requests/1.xml") == "xml"
    assert format_of_path("/open311/v2/requests/1.html") == "json"
