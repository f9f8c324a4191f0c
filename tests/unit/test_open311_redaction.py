"""The api_key never reaches the raw row, however the body was encoded; the rest stays as it came."""

from __future__ import annotations

import json

import httpx
import pytest

from intake.open311.redaction import redact_body

KEY = "gct_Abc-123_xyzXYZ0987654321abcdefghijklmnop"


def _multipart(fields: dict[str, str]) -> tuple[bytes, str]:
    request = httpx.Request("POST", "http://x/", data=fields, files={"media": ("a.jpg", b"\xff\xd8jpeg")})
    return request.read(), request.headers["content-type"]


def test_form_field_is_masked_and_the_rest_kept() -> None:
    body = f"service_code=0101&api_key={KEY}&description=%E8%B7%AF%E7%81%AF".encode()
    out = redact_body(body, "application/x-www-form-urlencoded; charset=utf-8", [KEY])
    assert out == b"service_code=0101&api_key=***&description=%E8%B7%AF%E7%81%AF"


@pytest.mark.parametrize("name", [b"api%5Fkey", b"api%5fkey", b"api_key"])
def test_form_field_name_in_any_encoding(name: bytes) -> None:
    body = b"a=1&" + name + b"=not-a-gridcase-token&b=2"
    assert redact_body(body, "application/x-www-form-urlencoded", []) == b"a=1&" + name + b"=***&b=2"


def test_short_garbage_keys_are_masked_by_field_only() -> None:
    out = redact_body(b"api_key=x&description=xx", None, ["x"])
    assert out == b"api_key=***&description=xx"


def test_json_member_is_masked() -> None:
    body = json.dumps({"api_key": KEY, "description": "路灯"}, ensure_ascii=False).encode()
    out = redact_body(body, "application/json", [KEY])
    assert json.loads(out) == {"api_key": "***", "description": "路灯"}
    assert (
        redact_body(b'{"api_key": 12345678, "a": 1}', "application/json", []) == b'{"api_key": "***", "a": 1}'
    )


def test_multipart_part_is_masked_and_the_file_kept() -> None:
    key = "some-other-systems-key-0042"  # not one of ours: found by the part's name alone
    body, content_type = _multipart({"service_code": "0101", "api_key": key, "description": "路灯"})
    out = redact_body(body, content_type, [])
    assert key.encode() not in out
    assert b'name="api_key"\r\n\r\n***\r\n' in out
    assert b"\xff\xd8jpeg" in out and "路灯".encode() in out
    assert len(body) - len(out) == len(key) - 3


def test_the_key_anywhere_else_is_masked_too() -> None:
    body = f"description=my+key+is+{KEY}&note={KEY}".encode()
    out = redact_body(body, "text/plain", [KEY])
    assert KEY.encode() not in out


def test_any_gridcase_token_is_masked_even_unknown() -> None:
    out = redact_body(b"description=gcs_SessionTokenValue123&x=1", None, [])
    assert out == b"description=***&x=1"
