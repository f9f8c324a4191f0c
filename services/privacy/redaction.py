"""Redaction of secrets (credentials, tokens, signatures) in logs and in URLs shown to people.

The one place that knows what a secret looks like: ``redact_url`` for a URL on display (the
notification timeline), ``redact_text`` for free text (every log line, through ``RedactingFormatter``,
which ``services/runtime/logs.py`` installs on every handler). Residents' personal data is a
different concern (``masking.py``): it is never put into logs in the first place.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import unquote, urlsplit, urlunsplit

MASK = "***"

# Query parameter names that carry secrets. Unambiguous words match anywhere in the name
# (access_token, client_secret, X-Amz-Signature, X-Amz-Credential, oauth_code…). Short ones that are
# also parts of harmless names match only as the whole name or its last part: "code" alone (OAuth) or a
# one-time code (sms_code), never category_code or grid_code; "sign" but not sign_type; "*key".
_SECRET_PARAM = re.compile(
    r"token|secret|passw(?:or)?d|pwd|api_?key|signature|credential|auth|ticket|session"
    r"|^code$|(?:verify|verification|sms|otp)[_.\-]?code$"
    r"|(?:^|[_.\-])(?:pass|sig|sign)$|key$",
    re.IGNORECASE,
)

# Anything that looks like an absolute URL in free text (stops at whitespace and quotes).
_URL_IN_TEXT = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.\-]*://[^\s\"'<>`]+")
# "Authorization: Bearer x" / "Authorization: Basic x" / "Authorization=x": the credential goes.
_AUTHORIZATION = re.compile(
    r"(?i)(\bauthorization[\"']?\s*[:=]\s*[\"']?)(?:(bearer|basic|token)\s+)?[^\s\"',;]+"
)
# A bearer token on its own ("Bearer eyJ…"). Capitalised as in the header, so prose like
# "missing bearer token" stays readable.
_BEARER = re.compile(r"\bBearer\s+[A-Za-z0-9._~+/=\-]+")
# Gridcase's own tokens: gcs_ (sign-in session) and gct_ (API token) plus url-safe base64.
_OUR_TOKENS = re.compile(r"\b(gc[st]_)[A-Za-z0-9_\-]+")
# key=value and "key": "value" pairs whose key names a secret.
_SECRET_PAIR = re.compile(
    r"""(?ix)
    (?P<key>(?P<q>["']?)[\w\-]*(?:password|passwd|pwd|secret|token|api_?key|credential)[\w\-]*(?P=q))
    (?P<sep>\s*[:=]\s*)
    (?P<value>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|[^\s&,;"'}\])]+)
    """
)


def redact_url(url: str) -> str:
    """The URL with its userinfo replaced by ``***@`` and the values of secret parameters by ``***``.

    Scheme, host, port and path are kept; so are the other query parameters, as they were written.
    Something that is not a URL comes back unchanged.
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return _redact_query(url)
    netloc = parts.netloc
    if "@" in netloc:
        netloc = MASK + "@" + netloc.rsplit("@", 1)[1]
    query = _redact_query(parts.query)
    fragment = _redact_query(parts.fragment) if "=" in parts.fragment else parts.fragment
    if (netloc, query, fragment) == (parts.netloc, parts.query, parts.fragment):
        return url
    return urlunsplit((parts.scheme, netloc, parts.path, query, fragment))


def _redact_query(query: str) -> str:
    if "=" not in query:
        return query
    out = []
    for pair in query.split("&"):
        name, eq, _value = pair.partition("=")
        if eq and _SECRET_PARAM.search(unquote(name)):
            out.append(f"{name}={MASK}")
        else:
            out.append(pair)
    return "&".join(out)


def _redact_pair(m: re.Match[str]) -> str:
    value = m.group("value")
    quote = value[0] if value[:1] in ('"', "'") else ""
    return f"{m.group('key')}{m.group('sep')}{quote}{MASK}{quote}"


def _redact_authorization(m: re.Match[str]) -> str:
    scheme = m.group(2)
    return f"{m.group(1)}{scheme + ' ' if scheme else ''}{MASK}"


def _redact_url_in_text(m: re.Match[str]) -> str:
    url = m.group(0)
    # Punctuation after a URL in prose ("… to http://h/x?token=abc, retrying") is not part of it.
    bare = url.rstrip(".,;:!?)]}")
    return redact_url(bare) + url[len(bare) :]


def redact_text(text: str) -> str:
    """Free text (a log line, an error message) with every secret it shows replaced by ``***``."""
    if not text:
        return text
    if "://" in text:
        text = _URL_IN_TEXT.sub(_redact_url_in_text, text)
    text = _AUTHORIZATION.sub(_redact_authorization, text)
    text = _BEARER.sub(f"Bearer {MASK}", text)
    text = _OUR_TOKENS.sub(rf"\g<1>{MASK}", text)
    return _SECRET_PAIR.sub(_redact_pair, text)


class RedactingFormatter(logging.Formatter):
    """Formats as usual (or as ``inner`` does), then redacts the whole line, traceback included."""

    def __init__(
        self,
        fmt: str | None = None,
        datefmt: str | None = None,
        *,
        inner: logging.Formatter | None = None,
    ) -> None:
        super().__init__(fmt, datefmt)
        self.inner = inner

    def format(self, record: logging.LogRecord) -> str:
        line = self.inner.format(record) if self.inner is not None else super().format(record)
        return redact_text(line)


class RedactingFilter(logging.Filter):
    """Redacts a record in place: its message (formatted with its arguments) and its traceback.

    For handlers whose formatter can't be replaced. Not for formatters that read ``record.args``
    themselves (uvicorn's access log): wrap those in ``RedactingFormatter(inner=...)`` instead.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: let the handler report it as usual
            return True
        redacted = redact_text(message)
        if redacted != message:
            record.msg, record.args = redacted, ()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact_text(record.exc_text)
        if record.stack_info:
            record.stack_info = redact_text(record.stack_info)
        return True
