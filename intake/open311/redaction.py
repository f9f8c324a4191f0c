"""The api_key out of an Open311 request before it is stored raw (pure: no I/O).

The spec puts the client's API key in the form body, next to the report. The raw row keeps the body
as it came (nothing is lost) except that value, replaced by ``***``, whatever the encoding: a form
field (its name percent-encoded or not), a JSON member, a multipart part. Then, as a net, every
verbatim occurrence of the key, and anything that looks like a Gridcase token, is masked too.
Everything else stays byte for byte.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import quote, quote_plus, unquote_plus

from intake.open311.params import is_json, media_type

MASK = b"***"
SECRET_FIELDS = frozenset({"api_key"})
_OUR_TOKENS = re.compile(rb"\bgc[st]_[A-Za-z0-9_\-]+")
_JSON_SECRET = re.compile(rb'(?P<key>"api_key"\s*:\s*)(?:"(?:[^"\\]|\\.)*"|[^,}\]\s]+)')
_PART_NAME = re.compile(
    rb'(?im)^content-disposition:[^\r\n]*?(?<![A-Za-z0-9_*])name\s*=\s*(?:"(?P<q>[^"]*)"|(?P<t>[^;\s]+))'
)
_MIN_VERBATIM = (
    8  # shorter "keys" (garbage) are masked by field only: replacing them everywhere would maul text
)


def redact_body(body: bytes, content_type: str | None, secrets: Iterable[str | None] = ()) -> bytes:
    """``body`` with the api_key's value replaced by ``***``; ``secrets``: the key as it was read."""
    media, params = media_type(content_type)
    if media == "multipart/form-data" and params.get("boundary"):
        body = _redact_multipart(body, params["boundary"].encode("latin-1"))
    elif is_json(media):
        body = _JSON_SECRET.sub(rb'\g<key>"***"', body)
    else:  # the spec's form encoding, and what a client sent without saying what it is
        body = _redact_form(body)
    for secret in secrets:
        if secret and len(secret) >= _MIN_VERBATIM:
            for variant in {secret, quote_plus(secret), quote(secret, safe="")}:
                body = body.replace(variant.encode(), MASK)
    return _OUR_TOKENS.sub(MASK, body)


def _field_name(raw: bytes) -> str:
    return unquote_plus(raw.decode("latin-1"), encoding="latin-1").strip()


def _redact_form(body: bytes) -> bytes:
    pieces = body.split(b"&")
    for i, piece in enumerate(pieces):
        name, eq, _value = piece.partition(b"=")
        if eq and _field_name(name) in SECRET_FIELDS:
            pieces[i] = name + b"=" + MASK
    return b"&".join(pieces)


def _redact_multipart(body: bytes, boundary: bytes) -> bytes:
    delimiter = b"--" + boundary
    parts = body.split(delimiter)
    for i in range(1, len(parts)):
        part = parts[i]
        for blank in (b"\r\n\r\n", b"\n\n"):
            head, sep, content = part.partition(blank)
            if sep:
                break
        else:
            continue
        found = _PART_NAME.search(head)
        if found is None:
            continue
        name = (found.group("q") if found.group("q") is not None else found.group("t")).decode("latin-1")
        if name.strip() in SECRET_FIELDS:
            ending = b"\r\n" if content.endswith(b"\r\n") else b"\n" if content.endswith(b"\n") else b""
            parts[i] = head + sep + MASK + ending
    return delimiter.join(parts)
