"""The hotline contract: feeds, timestamps and HMAC signatures, and the work order's fields.

Requests are signed here with plain ``hmac``, independently of the code under test."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest
from pydantic import SecretStr

from intake.hotline.protocol import (
    HotlineNotConfigured,
    OrderInvalid,
    feed_secrets,
    new_case,
    parse_order,
    signature,
    verify,
)
from services.http.errors import Unauthenticated
from services.settings import Settings

NOW = 1_795_000_000.0
SECRETS = {"default": ("s3cret-default",), "cti-east": ("east-1",)}
BODY = json.dumps(
    {"call_id": "HL-1", "called_at": "2026-11-25T09:30:00+08:00", "summary": "路灯不亮"}, ensure_ascii=False
).encode()


def sign(secret: str, ts: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), f"{ts}.".encode() + body, hashlib.sha256).hexdigest()


def check(
    body: bytes = BODY,
    *,
    ts: str | None = None,
    sig: str | None = None,
    feed: str | None = None,
    secret: str = "s3cret-default",
    secrets: dict[str, tuple[str, ...]] | None = None,
) -> str:
    ts = str(int(NOW)) if ts is None else ts
    return verify(
        body,
        timestamp=ts,
        signature_header=sign(secret, ts, body) if sig is None else sig,
        feed=feed,
        secrets=SECRETS if secrets is None else secrets,
        window_s=300,
        now=NOW,
    )


def refusal(**kwargs: object) -> Unauthenticated:
    with pytest.raises(Unauthenticated) as caught:
        check(**kwargs)  # type: ignore[arg-type]
    return caught.value


def test_good_signature_gives_the_default_feed() -> None:
    assert check() == "default"


def test_named_feed_with_its_own_secret() -> None:
    assert check(feed="cti-east", secret="east-1") == "cti-east"


def test_signature_helper_matches_an_independent_hmac() -> None:
    assert signature("k", "123", b"{}") == sign("k", "123", b"{}")


def test_wrong_secret_is_a_mismatch() -> None:
    exc = refusal(secret="not-the-secret")
    assert exc.status == 401 and exc.error == "signature_mismatch"
    assert "签名不匹配" in exc.message


def test_another_feeds_secret_does_not_sign_for_the_default() -> None:
    assert refusal(secret="east-1").error == "signature_mismatch"


def test_tampered_body_is_a_mismatch() -> None:
    ts = str(int(NOW))
    good = sign("s3cret-default", ts, BODY)
    assert (
        refusal(body=BODY.replace("路灯".encode(), "井盖".encode()), sig=good).error == "signature_mismatch"
    )


def test_signed_timestamp_cannot_be_swapped() -> None:
    sig = sign("s3cret-default", str(int(NOW) - 10), BODY)
    assert refusal(sig=sig).error == "signature_mismatch"


@pytest.mark.parametrize("offset", [-300, 300, 0])
def test_timestamp_inside_the_window_is_accepted(offset: int) -> None:
    assert check(ts=str(int(NOW) + offset)) == "default"


def test_expired_timestamp_says_by_how_much() -> None:
    exc = refusal(ts=str(int(NOW) - 301))
    assert exc.error == "timestamp_out_of_window"
    assert exc.details["skew_s"] == -301 and exc.details["window_s"] == 300
    assert "早于服务器时间301秒" in exc.message and "1秒" in exc.message


def test_future_timestamp_says_by_how_much() -> None:
    exc = refusal(ts=str(int(NOW) + 301))
    assert exc.error == "timestamp_out_of_window" and exc.details["skew_s"] == 301
    assert "晚于服务器时间301秒" in exc.message


@pytest.mark.parametrize(
    ("ts", "error"),
    [("", "timestamp_missing"), ("abc", "timestamp_invalid"), ("1795000000.5", "timestamp_invalid")],
)
def test_bad_timestamp(ts: str, error: str) -> None:
    assert refusal(ts=ts, sig="sha256=" + "0" * 64).error == error


def test_milliseconds_get_a_hint() -> None:
    exc = refusal(ts=str(int(NOW * 1000)), sig="sha256=" + "0" * 64)
    assert exc.error == "timestamp_invalid" and "毫秒" in exc.message


def test_missing_timestamp_header() -> None:
    with pytest.raises(Unauthenticated) as caught:
        verify(BODY, timestamp=None, signature_header="x", feed=None, secrets=SECRETS, window_s=300)
    assert caught.value.error == "timestamp_missing"
    assert "X-Gridcase-Timestamp" in caught.value.message


@pytest.mark.parametrize(
    ("sig", "error"),
    [
        ("", "signature_missing"),
        ("md5=abcdef", "signature_malformed"),
        ("sha256=xyz", "signature_malformed"),
        ("sha256=" + "a" * 63, "signature_malformed"),
        ("a" * 64, "signature_malformed"),
        ("sha256=" + "g" * 64, "signature_malformed"),
    ],
)
def test_malformed_signature_header(sig: str, error: str) -> None:
    assert refusal(sig=sig).error == error


def test_uppercase_hex_is_the_same_signature() -> None:
    ts = str(int(NOW))
    assert (
        check(ts=ts, sig=sign("s3cret-default", ts, BODY).upper().replace("SHA256=", "sha256=")) == "default"
    )


def test_unknown_feed_is_named() -> None:
    exc = refusal(feed="cti-north")
    assert exc.error == "unknown_feed" and "cti-north" in exc.message


def test_no_feed_named_and_no_default_secret() -> None:
    exc = refusal(secrets={"cti-east": ("east-1",)})
    assert exc.error == "unknown_feed" and "X-Gridcase-Feed" in exc.message


def test_no_secret_configured_is_503() -> None:
    with pytest.raises(HotlineNotConfigured) as caught:
        check(secrets={})
    assert caught.value.status == 503


def test_feed_secrets_from_settings() -> None:
    s = Settings(hotline_secret=SecretStr("d"), hotline_secrets=SecretStr(" a=1, b = 2=x ,a=3,"))
    assert feed_secrets(s.hotline_secret.get_secret_value(), s.hotline_secrets.get_secret_value()) == {  # type: ignore[union-attr]
        "default": ("d",),
        "a": ("1", "3"),  # a name twice: two secrets, both accepted (rotation)
        "b": ("2=x",),
    }
    assert feed_secrets(None, None) == {}


def test_rotated_secrets_both_verify() -> None:
    secrets: dict[str, tuple[str, ...]] = {"default": ("old", "new")}
    assert check(secret="old", secrets=secrets) == check(secret="new", secrets=secrets) == "default"


def test_malformed_secrets_setting_is_503_without_the_secret() -> None:
    with pytest.raises(HotlineNotConfigured) as caught:
        feed_secrets(None, "east=ok,just-a-secret-value")
    assert "第2项" in caught.value.message and "just-a-secret-value" not in caught.value.message


def test_order_maps_to_a_case() -> None:
    order = parse_order(
        {
            "call_id": "HL-9",
            "caller_number": "13800138000",
            "called_at": "2026-11-25T09:30:00+08:00",
            "summary": "  小区门口污水外溢  ",
            "address": "",
            "category_code": "0101",
            "urgency": "urgent",
            "callback_wanted": True,
            "location": {"lon": 120.1, "lat": 30.2, "crs": "gcj02"},
        }
    )
    case = new_case(order, feed="cti-east", submitted_by="feed:hotline:cti-east")
    assert (case.channel, case.external_id, case.description) == ("hotline", "HL-9", "小区门口污水外溢")
    assert (case.reporter_phone, case.address, case.urgency) == ("13800138000", None, "urgent")
    assert case.lon is not None and case.lon != 120.1  # converted to WGS-84
    assert case.intake_details == {
        "called_at": "2026-11-25T09:30:00+08:00",
        "callback_wanted": True,
        "feed": "cti-east",
    }


def test_order_errors_name_each_field_in_chinese() -> None:
    with pytest.raises(OrderInvalid) as caught:
        parse_order(
            {
                "call_id": 7,
                "called_at": "2026-11-25T09:30:00",
                "summary": "x",
                "category_code": "12",
                "urgency": "asap",
                "extra": 1,
            }
        )
    reasons = {f.field: f.reason for f in caught.value.fields}
    assert caught.value.status == 422
    assert set(reasons) == {"call_id", "called_at", "summary", "category_code", "urgency", "extra"}
    assert reasons["called_at"].startswith("须带时区")
    assert reasons["summary"] == "至少2个字"
    assert reasons["category_code"] == "应为4位数字，如 0101"


def test_missing_fields_are_named() -> None:
    with pytest.raises(OrderInvalid) as caught:
        parse_order({"summary": "路灯不亮"})
    assert {f.field: f.reason for f in caught.value.fields} == {
        "call_id": "缺少必填字段",
        "called_at": "缺少必填字段",
    }
