"""Secrets never reach a log line or a displayed URL: credentials, tokens, signatures."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from services.privacy.redaction import RedactingFilter, RedactingFormatter, redact_text, redact_url
from services.runtime.logs import configure_logging

SESSION = "gcs_" + "Ab3-_x" * 7
API_TOKEN = "gct_" + "Zz9_-q" * 7


def test_url_userinfo_is_masked_and_the_rest_kept() -> None:
    assert redact_url("https://alice:s3cret@hooks.example.com:8443/notify/v1") == (
        "https://***@hooks.example.com:8443/notify/v1"
    )
    assert redact_url("postgresql://gridcase:pw@db:5432/gridcase") == "postgresql://***@db:5432/gridcase"


@pytest.mark.parametrize(
    "name",
    [
        "key",
        "token",
        "access_token",
        "secret",
        "client_secret",
        "password",
        "pass",
        "pwd",
        "sig",
        "signature",
        "X-Amz-Signature",
        "X-Amz-Credential",
        "sign",
        "auth",
        "apikey",
        "api_key",
        "ticket",
        "credential",
        "code",
        "sms_code",
        "oauth_code",
        "AccessKey",
        "TOKEN",
    ],
)
def test_secret_query_values_are_masked(name: str) -> None:
    redacted = redact_url(f"https://h.example/cb?id=7&{name}=abc123XYZ&lang=zh")
    assert redacted == f"https://h.example/cb?id=7&{name}=***&lang=zh"


@pytest.mark.parametrize("name", ["category_code", "grid_code", "status", "page", "sign_type", "lang"])
def test_ordinary_query_values_are_kept(name: str) -> None:
    url = f"http://127.0.0.1:8000/api/v1/cases?{name}=0101&limit=50"
    assert redact_url(url) == url


def test_url_without_secrets_is_returned_unchanged() -> None:
    for url in ("http://h/p", "http://h/p?a=1&b", "not a url", "", "http://[::1]:8080/x?q=%E4%B8%AD"):
        assert redact_url(url) == url


def test_fragment_tokens_are_masked() -> None:
    assert redact_url("https://h/cb#access_token=abc&state=1") == "https://h/cb#access_token=***&state=1"


def test_text_urls_bearer_and_our_tokens() -> None:
    line = (
        f"POST https://u:p@hook.example/x?token=abc&n=1, retrying; Authorization: Bearer {SESSION} "
        f"api token {API_TOKEN} session {SESSION}."
    )
    out = redact_text(line)
    assert out == (
        "POST https://***@hook.example/x?token=***&n=1, retrying; Authorization: Bearer *** "
        "api token gct_*** session gcs_***."
    )
    assert redact_text("sent with Bearer eyJhbGciOi.J9x-y_z") == "sent with Bearer ***"
    assert redact_text("Authorization: Basic dXNlcjpwYXNz") == "Authorization: Basic ***"
    assert redact_text("missing bearer token") == "missing bearer token"


def test_text_key_value_pairs() -> None:
    assert redact_text("login password=hunter2 user=admin") == "login password=*** user=admin"
    assert redact_text('{"password": "hunter 2", "user": "admin"}') == '{"password": "***", "user": "admin"}'
    assert redact_text("{'client_secret': 'x', 'id': 1}") == "{'client_secret': '***', 'id': 1}"
    assert redact_text("secret=abc&token=def&page=2") == "secret=***&token=***&page=2"
    assert redact_text('{"password": "a\\"b", "n": 1}') == '{"password": "***", "n": 1}'


def test_text_without_secrets_is_unchanged() -> None:
    for text in (
        "case 20261123000001 dispatched to CG-SZ",
        "notification 5f0c attempt 2 failed (HTTP 503); will retry",
        "GET http://127.0.0.1:8000/api/v1/cases?status=triage",
        "",
    ):
        assert redact_text(text) == text


def test_redaction_is_idempotent() -> None:
    once = redact_text(f"token={API_TOKEN} Bearer {SESSION} https://a:b@h/?sig=1")
    assert redact_text(once) == once


def _logger_with(handler: logging.Handler) -> logging.Logger:
    logger = logging.getLogger(f"test.redaction.{id(handler)}")
    logger.handlers = [handler]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    return logger


def test_formatter_redacts_message_args_and_traceback() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(RedactingFormatter("%(levelname)s %(message)s"))
    log = _logger_with(handler)
    log.info("calling %s with %s", "https://h/x?access_token=abc", f"Bearer {SESSION}")
    try:
        raise RuntimeError(f"rejected token {API_TOKEN}")
    except RuntimeError:
        log.exception("failed password=%s", "hunter2")
    out = stream.getvalue()
    assert "abc" not in out and SESSION not in out and API_TOKEN not in out and "hunter2" not in out
    assert "access_token=***" in out and "Bearer ***" in out and "gct_***" in out and "password=***" in out
    assert "Traceback" in out


def test_formatter_wraps_another_formatter() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(RedactingFormatter(inner=logging.Formatter("[%(name)s] %(message)s")))
    log = _logger_with(handler)
    log.info("token=%s", "abc")
    assert stream.getvalue() == f"[{log.name}] token=***\n"


def test_filter_redacts_the_record_in_place() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingFilter())
    handler.setFormatter(logging.Formatter("%(message)s"))
    log = _logger_with(handler)
    log.info("hook %s", "https://u:p@h/x?key=1")
    try:
        raise ValueError(f"bad {SESSION}")
    except ValueError:
        log.exception("boom")
    out = stream.getvalue()
    assert "hook https://***@h/x?key=***" in out and SESSION not in out and "gcs_***" in out


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    levels = {n: logging.getLogger(n).level for n in ("httpx", "httpcore", "aiokafka")}
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    for n, lv in levels.items():
        logging.getLogger(n).setLevel(lv)


def test_configure_logging_redacts_every_handler_and_quiets_httpx(restore_logging: None) -> None:
    own = logging.getLogger("test.redaction.own")
    stream = io.StringIO()
    own_handler = logging.StreamHandler(stream)
    own_handler.setFormatter(logging.Formatter("%(message)s"))
    own.handlers, own.propagate = [own_handler], False
    configure_logging("dispatch", "INFO")
    root_handler = logging.getLogger().handlers[0]
    assert isinstance(root_handler.formatter, RedactingFormatter)
    assert isinstance(own_handler.formatter, RedactingFormatter)  # uvicorn's handlers are like this one
    own.warning("POST https://h/x?sign=abc")
    assert stream.getvalue() == "POST https://h/x?sign=***\n"
    assert logging.getLogger("httpx").level == logging.WARNING
    assert logging.getLogger("httpcore").level == logging.WARNING
    own.handlers = []
