"""Malformed requests for every intake endpoint, deterministic with a seed, and the checks every one of
them must pass: an answer below 500, no dropped connection, and (where intake keeps what arrives) exactly
one row in ``raw_inbound`` with a final outcome (not ``received``).

Shared by tests/integration/test_fuzz_intake.py (a few hundred against the test system) and
bench/fuzz_intake.py (thousands against a system of its own). Each request carries a unique
``X-Request-Id`` (intake keeps that header with the raw row: ``KEPT_HEADERS`` in intake/service.py), so
its row is found again.

What is sent: random bytes; bodies over the 64 KB limit; empty bodies; XML bombs (billion laughs),
external entities (file:///etc/passwd, http://127.0.0.1/…), parameter entities and DTDs for WeChat;
wrong types (numbers as strings, arrays for objects, nesting 1,000+ deep); missing and unknown fields;
SQL and script injection (and NUL, lone surrogates, RTL marks …) in every string field; coordinates out
of range, on the edges (in every datum), NaN / Infinity / 1e309 literals; bad UTF-8 and other encodings;
wrong and duplicated content types; duplicate JSON keys; bad, stale and replayed signatures, unknown
feeds; broken multipart bodies (no, wrong, empty or overlong boundaries, unterminated, too many parts,
bad photos); bad Open311 parameters (lat=abc, long=999, bad dates, bad api_key).

Requests the auth middleware refuses (no bearer token on /api/v1/…) are not generated: they are not
kept by design (no identity). Every authenticated request carries a valid token.

The content of request ``n`` depends only on (seed, n) and the credentials, except the timestamps of
signed requests, which are taken when it is generated (generate lazily, right before sending).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import random
import re
import struct
import time
import urllib.parse
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
from wechatpy.crypto import WeChatCrypto

# --- what is sent ---------------------------------------------------------------------------------

REPORTS = "POST /api/v1/reports"
APP_REPORTS = "POST /api/v1/app/reports"
CHECKINS = "POST /api/v1/app/checkins"
WECHAT_GET = "GET /channels/wechat"
WECHAT_POST = "POST /channels/wechat"
HOTLINE = "POST /channels/hotline"
OPEN311_POST = "POST /open311/v2/requests.json"
OPEN311_GET = "GET /open311/v2/…"

BODY_LIMIT = 64 * 1024  # GRIDCASE_MAX_BODY_BYTES' default
SQL = (
    "'; DROP TABLE cases;--",
    "1 OR 1=1",
    "' OR '1'='1",
    "1; SELECT pg_sleep(5)--",
    "%' UNION SELECT NULL--",
)
SCRIPT = ("<script>alert(1)</script>", '"><img src=x onerror=alert(1)>', "javascript:alert(1)")
ODD = (
    "\x00",
    "a\x00b",
    "\ud800",  # a lone surrogate: JSON can carry it (\\ud800), UTF-8 cannot
    "\udfff\ud800",
    "\u202eevil",
    "\ufeff",
    "😀" * 300,
    "𠜎𠝹𠱓",
    "{{7*7}}",
    "${jndi:ldap://127.0.0.1/a}",
    "%s%s%s%n",
    "../../../../etc/passwd",
    "\r\nX-Injected: 1",
    "   ",
    "",
    "null",
    "NaN",
    "１２３４",
    "٠١٠١",
    "²³",
    "①②③④",
    "A" * 5000,
)
INJECTIONS = SQL + SCRIPT + ODD
WRONG_VALUES: tuple[Any, ...] = (0, -1, 1.5, True, False, None, [], {}, ["a"], {"a": 1}, "x", [[[]]])


@dataclass(frozen=True)
class Credentials:
    """What a legitimate sender of each endpoint has."""

    feed_token: str  # a feed token of channel hotline: POST /api/v1/reports
    grid_worker_token: str  # POST /api/v1/app/…
    grid_worker_grid: str  # the grid worker's own grid
    open311_key: str  # a feed token of channel open311: Open311's api_key
    wechat_token: str
    wechat_aes_key: str
    wechat_appid: str
    hotline_secret: str  # the feed `default`'s secret (GRIDCASE_HOTLINE_SECRET)


@dataclass
class FuzzRequest:
    n: int
    endpoint: str
    kind: str
    method: str
    path: str
    query: str = ""  # already encoded
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    stored: bool = True  # intake must keep it in raw_inbound
    not_stored_when: frozenset[int] = frozenset()  # statuses refused before anything is kept, by design
    follow_up: FuzzRequest | None = None  # sent right after this one, on the same connection
    request_id: str = ""
    inner: bytes | None = None  # what an encrypted body carries (WeChat's safe and compatibility mode)
    hazards: frozenset[str] = frozenset()  # what it carries that may trip the server (see hazards_of)

    def describe(self, body_chars: int = 300) -> dict[str, Any]:
        """For a report: the credentials masked, the body cut."""
        headers = [
            (k, "Bearer ***" if k.lower() == "authorization" else v)
            for k, v in self.headers
            if k.lower() != "x-request-id"
        ]
        query = re.sub(r"(api_key=)[^&]*", r"\1***", self.query)
        return {
            "request_id": self.request_id,
            "endpoint": self.endpoint,
            "kind": self.kind,
            "method": self.method,
            "url": self.path + ("?" + query if query else ""),
            "headers": headers,
            "body_bytes": len(self.body),
            "body_head": repr(self.body[:body_chars]),
            **({"decrypted_head": repr(self.inner[:body_chars])} if self.inner is not None else {}),
            "hazards": sorted(self.hazards),
        }


@dataclass
class Ctx:
    rng: random.Random
    creds: Credentials
    n: int
    now: int

    def pick(self, options: Sequence[Any]) -> Any:
        return options[self.rng.randrange(len(options))]

    def unique(self) -> str:
        return f"fz{self.n}-{self.rng.getrandbits(40):010x}"


# --- JSON with what json.dumps won't write ---------------------------------------------------------


@dataclass(frozen=True)
class Raw:
    """A JSON value written as is: NaN, Infinity, 1e309, a nesting 5,000 deep …"""

    text: str


def dumps(doc: Any, *, ascii_only: bool = False) -> bytes:
    raws: list[str] = []

    def walk(v: Any) -> Any:
        if isinstance(v, Raw):
            raws.append(v.text)
            return f"@@RAW{len(raws) - 1}@@"
        if isinstance(v, dict):
            return {k: walk(x) for k, x in v.items()}
        if isinstance(v, list):
            return [walk(x) for x in v]
        return v

    try:
        text = json.dumps(walk(doc), ensure_ascii=ascii_only)
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: only \\ud800 can carry it
        raws.clear()
        text = json.dumps(walk(doc), ensure_ascii=True)
    for i, raw in enumerate(raws):
        text = text.replace(f'"@@RAW{i}@@"', raw)
    return text.encode("utf-8")


def nested(depth: int, *, arrays: bool) -> Raw:
    return Raw(("[" * depth + "]" * depth) if arrays else ('{"a":' * depth + "1" + "}" * depth))


def string_paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(doc, dict):
        return [p for k, v in doc.items() for p in string_paths(v, (*prefix, k))]
    if isinstance(doc, list):
        return [p for i, v in enumerate(doc) for p in string_paths(v, (*prefix, i))]
    return [prefix] if isinstance(doc, str) else []


def leaf_paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every member's path (objects' too), not the document's own."""
    here = [prefix] if prefix else []
    if isinstance(doc, dict):
        return here + [p for k, v in doc.items() for p in leaf_paths(v, (*prefix, k))]
    return here


def put(doc: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    copy: Any = dict(doc) if isinstance(doc, dict) else list(doc)
    copy[path[0]] = put(copy[path[0]], path[1:], value)
    return copy


def drop(doc: dict[str, Any], keys: Iterable[str]) -> dict[str, Any]:
    gone = set(keys)
    return {k: v for k, v in doc.items() if k not in gone}


COORDINATES: tuple[Any, ...] = (
    91,
    -91,
    181,
    -181,
    999,
    -999,
    90,
    -90,
    180,
    -180,
    Raw("NaN"),
    Raw("Infinity"),
    Raw("-Infinity"),
    Raw("1e309"),
    Raw("-1e309"),
    Raw("1e-400"),
    Raw("-0.0"),
    "30.1",
    "abc",
    None,
    [30, 120],
    {"lat": 1},
    True,
)
COORDINATE_TEXTS = (
    "abc",
    "999",
    "-999",
    "91",
    "181",
    "90",
    "-90",
    "180",
    "-180",
    "NaN",
    "nan",
    "inf",
    "-Infinity",
    "1e309",
    "-1e309",
    "1e-400",
    "0x1A",
    "30,1",
    "３０.１",
    "30.1.2",
    "",
    " ",
    "1" * 400,
    "9" * 5000,
)
CRSES = ("wgs84", "gcj02", "bd09", "WGS84", "utm", "", "bd09;DROP", None)
EDGES = ((-180.0, -90.0), (180.0, -90.0), (-180.0, 90.0), (180.0, 90.0), (0.0, 0.0))

BAD_UTF8 = (b"\xff", b"\xfe\xff", b"\xc0\xaf", b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80", b"\xe6\x88")


def mutate_json(
    ctx: Ctx, base: dict[str, Any], *, location: Callable[[Ctx, dict[str, Any]], Any]
) -> tuple[str, Any]:
    """A (kind, document) of a JSON endpoint's body; the document is dumped by :func:`dumps`."""
    rng = ctx.rng
    kind = ctx.pick(
        (
            "valid",
            "injection_one_field",
            "injection_one_field",
            "injection_all_fields",
            "nul_and_surrogates",
            "wrong_type",
            "wrong_type",
            "numbers_as_strings",
            "array_for_object",
            "deep_nesting",
            "missing_fields",
            "not_an_object",
            "unknown_fields",
            "coordinates",
            "coordinates",
            "long_strings",
        )
    )
    doc: Any = dict(base)
    strings = string_paths(doc)
    if kind == "injection_one_field":
        doc = put(doc, ctx.pick(strings), ctx.pick(INJECTIONS))
    elif kind == "injection_all_fields":
        for p in strings:
            doc = put(doc, p, ctx.pick(INJECTIONS))
    elif kind == "nul_and_surrogates":
        doc = put(
            doc, ctx.pick(strings), ctx.pick(("\x00", "abc\x00", "\ud800", "路灯\udfff不亮", "\x00" * 10))
        )
    elif kind == "wrong_type":
        for _ in range(rng.randint(1, 3)):
            doc = put(doc, ctx.pick(leaf_paths(doc)), ctx.pick(WRONG_VALUES))
    elif kind == "numbers_as_strings":

        def stringify(v: Any) -> Any:
            if isinstance(v, dict):
                return {k: stringify(x) for k, x in v.items()}
            if isinstance(v, bool) or not isinstance(v, int | float):
                return v
            return str(v)

        doc = stringify(doc)
    elif kind == "array_for_object":
        objects = [p for p in leaf_paths(doc) if isinstance(_get(doc, p), dict)]
        if not objects or rng.random() < 0.3:
            return kind, [base] if rng.random() < 0.5 else [list(kv) for kv in base.items()]
        p = ctx.pick(objects)
        inner = _get(doc, p)
        doc = put(doc, p, [inner] if rng.random() < 0.5 else list(inner.values()))
    elif kind == "deep_nesting":
        deep = nested(ctx.pick((1000, 3000, 20000)), arrays=rng.random() < 0.5)
        if rng.random() < 0.4:
            return kind, deep
        doc = put(doc, ctx.pick(leaf_paths(doc)), deep)
    elif kind == "missing_fields":
        keys = list(doc)
        doc = drop(doc, rng.sample(keys, rng.randint(1, len(keys))))
    elif kind == "not_an_object":
        return kind, ctx.pick((None, [], [base], "report", 42, True, Raw("NaN"), [None] * 3))
    elif kind == "unknown_fields":
        doc[ctx.pick(("id", "case_id", "status", "__proto__", "constructor", "admin", "submitted_by"))] = (
            ctx.pick(("x", 1, {"$gt": ""}, None))
        )
    elif kind == "coordinates":
        doc = location(ctx, doc)
    elif kind == "long_strings":
        p = ctx.pick(strings)
        doc = put(doc, p, ctx.pick(("长" * 4001, "x" * 129, "a" * 301, "b" * 20000, "9" * 21)))
    return kind, doc


def _get(doc: Any, path: tuple[Any, ...]) -> Any:
    for key in path:
        doc = doc[key]
    return doc


def body_level(ctx: Ctx, good: bytes) -> tuple[str, bytes, list[str] | None] | None:
    """Sometimes (about a third): something wrong with the body as bytes or its content type, rather
    than its fields. (kind, body, content types: None = none sent)."""
    rng = ctx.rng
    if rng.random() > 0.35:
        return None
    kind = ctx.pick(
        (
            "random_bytes",
            "huge_body",
            "just_under_limit",
            "empty_body",
            "empty_body_no_type",
            "bad_utf8",
            "duplicate_keys",
            "other_encodings",
            "wrong_content_type",
            "two_content_types",
            "no_content_type",
            "not_json",
            "truncated",
        )
    )
    json_type = ["application/json"]
    if kind == "random_bytes":
        return (
            kind,
            rng.randbytes(rng.randint(1, 4096)),
            ctx.pick((json_type, None, ["application/octet-stream"])),
        )
    if kind == "huge_body":
        size = BODY_LIMIT + rng.randint(1, 3 * BODY_LIMIT)
        filler = ctx.pick(("description", "x"))
        body = b'{"' + filler.encode() + b'": "' + b"A" * size + b'"}'
        return kind, body, json_type
    if kind == "just_under_limit":
        return kind, b'{"description": "' + "路".encode() * ((BODY_LIMIT - 200) // 3) + b'"}', json_type
    if kind == "empty_body":
        return kind, b"", json_type
    if kind == "empty_body_no_type":
        return kind, b"", None
    if kind == "bad_utf8":
        cut = rng.randrange(len(good))
        return kind, good[:cut] + ctx.pick(BAD_UTF8) + good[cut:], json_type
    if kind == "duplicate_keys":
        text = good.decode()
        key = ctx.pick(re.findall(r'"([a-z_]+)":', text) or ["description"])
        again = ctx.pick(('"x"', "null", "1", "[]", '{"a": 1}', '"' + "'; DROP TABLE cases;--" + '"'))
        return kind, (text[:-1] + f', "{key}": {again}' + "}").encode(), json_type
    if kind == "other_encodings":
        text = good.decode()
        options = (
            (text.encode("utf-16"), "application/json"),
            (text.encode("utf-32-le"), "application/json"),
            (b"\xef\xbb\xbf" + good, "application/json"),
            (text.encode("gb18030"), "application/json; charset=gbk"),
            (good, "application/json; charset=utf-16"),
            (good, "application/json; charset=x-no-such"),
        )
        body, ctype = ctx.pick(options)
        return kind, body, [ctype]
    if kind == "wrong_content_type":
        ctype = ctx.pick(
            (
                "text/plain",
                "application/x-www-form-urlencoded",
                "application/xml",
                "text/html; charset=utf-8",
                "multipart/form-data",
                "multipart/form-data; boundary=x",
                "application/JSON",
                "application/json, text/plain",
                "application/problem+json",
                "application/vnd.api+json",
                "application/json/x",
                "",
                "*/*",
                "json",
            )
        )
        return kind, good, [ctype]
    if kind == "two_content_types":
        return kind, good, ["application/json", ctx.pick(("text/plain", "application/json"))]
    if kind == "no_content_type":
        return kind, good, None
    if kind == "not_json":
        body = ctx.pick(
            (
                b"<xml><a>1</a></xml>",
                b"description=abc&channel=app",
                b"{'description': 'single quotes'}",
                b'{"description": "trailing comma",}',
                b"[1, 2, 3",
                b"\x00\x00\x00\x00",
                b"undefined",
                b'{"a": 1} {"b": 2}',
                b"// comment\n{}",
            )
        )
        return kind, body, json_type
    # truncated
    return kind, good[: rng.randrange(1, max(2, len(good)))], json_type


# --- building blocks -------------------------------------------------------------------------------


def png(width: int = 4, height: int = 3) -> bytes:
    """A real, tiny PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    raw = b"".join(b"\x00" + b"\xff\x80\x00" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


Part = tuple[str, str | None, str | None, bytes]  # name, filename, content type, content


def multipart(parts: Sequence[Part], boundary: str, *, newline: bytes = b"\r\n", close: bool = True) -> bytes:
    out = b""
    for name, filename, ctype, content in parts:
        disposition = f'form-data; name="{name}"' + (
            f'; filename="{filename}"' if filename is not None else ""
        )
        out += b"--" + boundary.encode("latin-1") + newline
        out += b"Content-Disposition: " + disposition.encode("utf-8") + newline
        if ctype:
            out += b"Content-Type: " + ctype.encode() + newline
        out += newline + content + newline
    if close:
        out += b"--" + boundary.encode("latin-1") + b"--" + newline
    return out


def broken_multipart(ctx: Ctx, fields: Mapping[str, str], photo_field: str | None) -> tuple[str, bytes, str]:
    """(kind, body, content type) of a multipart body that is wrong somewhere."""
    rng = ctx.rng
    boundary = f"----fuzz{rng.getrandbits(48):012x}"
    parts: list[Part] = [(k, None, None, v.encode()) for k, v in fields.items()]
    if photo_field:
        parts.append((photo_field, "a.png", "image/png", png()))
    good_type = f"multipart/form-data; boundary={boundary}"
    kind = ctx.pick(
        (
            "no_boundary_param",
            "wrong_boundary",
            "empty_boundary",
            "overlong_boundary",
            "unterminated",
            "truncated_mid_part",
            "lf_only",
            "part_without_name",
            "part_without_disposition",
            "too_many_fields",
            "too_many_files",
            "non_utf8_field",
            "huge_part_header",
            "nested_multipart",
            "filename_traversal",
            "bad_photo",
            "photo_as_text",
            "garbage_after_close",
            "random_bytes",
        )
    )
    if kind == "no_boundary_param":
        return kind, multipart(parts, boundary), "multipart/form-data"
    if kind == "wrong_boundary":
        return kind, multipart(parts, boundary + "x"), good_type
    if kind == "empty_boundary":
        return kind, multipart(parts, ""), "multipart/form-data; boundary="
    if kind == "overlong_boundary":
        long = "b" * ctx.pick((71, 200, 2000))
        return kind, multipart(parts, long), f"multipart/form-data; boundary={long}"
    if kind == "unterminated":
        return kind, multipart(parts, boundary, close=False), good_type
    if kind == "truncated_mid_part":
        body = multipart(parts, boundary)
        return kind, body[: rng.randrange(10, len(body))], good_type
    if kind == "lf_only":
        return kind, multipart(parts, boundary, newline=b"\n"), good_type
    if kind == "part_without_name":
        body = multipart(parts, boundary).replace(b'form-data; name="description"', b"form-data", 1)
        return kind, body, good_type
    if kind == "part_without_disposition":
        body = (
            b"--"
            + boundary.encode()
            + b"\r\nContent-Type: text/plain\r\n\r\nhello\r\n"
            + multipart(parts, boundary)
        )
        return kind, body, good_type
    if kind == "too_many_fields":
        extra: list[Part] = [(f"f{i}", None, None, b"x") for i in range(ctx.pick((45, 250, 1200)))]
        return kind, multipart(parts + extra, boundary), good_type
    if kind == "too_many_files":
        files: list[Part] = [(photo_field or "media", f"p{i}.png", "image/png", png()) for i in range(12)]
        return kind, multipart(parts + files, boundary), good_type
    if kind == "non_utf8_field":
        bad = [
            *parts,
            ("description", None, "text/plain; charset=utf-8", b"\xff\xfe\xc0\xaf" + ctx.pick(BAD_UTF8)),
        ]
        return kind, multipart(bad[::-1], boundary), good_type
    if kind == "huge_part_header":
        body = multipart(parts, boundary).replace(
            b"Content-Disposition", b"X-Long: " + b"h" * 20000 + b"\r\nContent-Disposition", 1
        )
        return kind, body, good_type
    if kind == "nested_multipart":
        inner_boundary = "inner" + boundary
        inner = multipart(parts, inner_boundary)
        outer = [("file", "nested.bin", f"multipart/mixed; boundary={inner_boundary}", inner)]
        return kind, multipart(outer + parts, boundary), good_type
    if kind == "filename_traversal":
        name = ctx.pick(
            ("../../../../etc/passwd", "..\\..\\win.ini", "a\x00.png", "<script>.png", "路" * 300)
        )
        return (
            kind,
            multipart([*parts[:-1], (photo_field or "media", name, "image/png", png())], boundary),
            good_type,
        )
    if kind == "bad_photo":
        content, ctype = ctx.pick(
            (
                (b"GIF89a" + rng.randbytes(100), "image/png"),
                (png()[:20], "image/png"),
                (rng.randbytes(500), "image/jpeg"),
                (b"<svg onload=alert(1)></svg>", "image/svg+xml"),
                (b"", "image/png"),
                (png(), "application/x-msdownload"),
                (b"\xff\xd8\xff\xe0" + b"\x00" * 50, "image/jpeg"),
            )
        )
        return (
            kind,
            multipart([*parts, (photo_field or "media", "x.png", ctype, content)], boundary),
            good_type,
        )
    if kind == "photo_as_text":
        return (
            kind,
            multipart([*parts, (photo_field or "media", None, None, b"not a file")], boundary),
            good_type,
        )
    if kind == "garbage_after_close":
        return kind, multipart(parts, boundary) + rng.randbytes(300), good_type
    return kind, rng.randbytes(rng.randint(1, 3000)), good_type


# --- endpoints -------------------------------------------------------------------------------------


def _bearer(token: str) -> tuple[str, str]:
    return ("Authorization", f"Bearer {token}")


def _json_request(
    ctx: Ctx,
    endpoint: str,
    path: str,
    base: dict[str, Any],
    location: Callable[[Ctx, dict[str, Any]], Any],
    headers: list[tuple[str, str]],
) -> tuple[str, bytes, list[tuple[str, str]]]:
    """(kind, body, headers with content types) for a JSON endpoint."""
    kind, doc = mutate_json(ctx, base, location=location)
    body = dumps(doc, ascii_only=ctx.rng.random() < 0.3)
    types: list[str] | None = ["application/json"]
    raw = body_level(ctx, body)
    if raw is not None:
        kind, body, types = raw
    return kind, body, headers + [("Content-Type", t) for t in types or []]


def _report_location(ctx: Ctx, doc: dict[str, Any]) -> dict[str, Any]:
    if ctx.rng.random() < 0.4:
        lon, lat = ctx.pick(EDGES)
        return doc | {"location": {"lat": lat, "lon": lon, "crs": ctx.pick(("bd09", "gcj02", "wgs84"))}}
    loc = {"lat": ctx.pick(COORDINATES), "lon": ctx.pick(COORDINATES)}
    crs = ctx.pick(CRSES)
    if crs is not None:
        loc["crs"] = crs
    return doc | {"location": ctx.pick((loc, [loc["lat"], loc["lon"]], "30.1,120.2", Raw("NaN")))}


def build_report(ctx: Ctx) -> FuzzRequest:
    base = {
        "channel": "hotline",
        "description": "小区东门路灯不亮，晚上很黑",
        "category_code": "0101",
        "grid_code": ctx.creds.grid_worker_grid,
        "external_id": ctx.unique(),
        "location": {"lat": 30.2741, "lon": 120.1551, "crs": "gcj02"},
        "address": "梅园新村五号楼",
        "reporter": {"name": "张三", "phone": "13800138000"},
        "urgency": "normal",
    }
    if ctx.rng.random() < 0.15:
        base["channel"] = ctx.pick(("app", "wechat", "superior", "HOTLINE", "hotline ", "", "x" * 100))
    kind, body, headers = _json_request(
        ctx, REPORTS, "/api/v1/reports", base, _report_location, [_bearer(ctx.creds.feed_token)]
    )
    # The per-principal rate limit answers 429 before the body is read (then nothing is kept).
    return FuzzRequest(
        ctx.n,
        REPORTS,
        kind,
        "POST",
        "/api/v1/reports",
        headers=headers,
        body=body,
        not_stored_when=frozenset({429}),
    )


def _app_location(ctx: Ctx, doc: dict[str, Any]) -> dict[str, Any]:
    if ctx.rng.random() < 0.4:
        lon, lat = ctx.pick(EDGES)
        return doc | {"lat": lat, "lon": lon, "crs": ctx.pick(("bd09", "gcj02", "wgs84"))}
    out = doc | {"lat": ctx.pick(COORDINATES), "lon": ctx.pick(COORDINATES)}
    if ctx.rng.random() < 0.3:
        out.pop(ctx.pick(("lat", "lon")))
    crs = ctx.pick(CRSES)
    return out | {"crs": crs} if crs is not None else out


def build_app_report(ctx: Ctx) -> FuzzRequest:
    grid = ctx.creds.grid_worker_grid
    fields: dict[str, Any] = {
        "description": "柳塘路口井盖缺失，已设置临时警示",
        "category_code": "0102",
        "grid_code": grid,
        "lat": 30.27,
        "lon": 120.15,
        "crs": "gcj02",
        "accuracy_m": 8.5,
        "external_id": ctx.unique(),
    }
    auth = [_bearer(ctx.creds.grid_worker_token)]
    path = "/api/v1/app/reports"
    if ctx.rng.random() < 0.5:
        kind, body, headers = _json_request(ctx, APP_REPORTS, path, fields, _app_location, auth)
        return FuzzRequest(ctx.n, APP_REPORTS, "json:" + kind, "POST", path, headers=headers, body=body)
    # Multipart, as the app sends it: form fields and photos.
    form = {k: str(v) for k, v in fields.items()}
    rng = ctx.rng
    if rng.random() < 0.5:
        kind, body, ctype = broken_multipart(ctx, form, "photos")
    else:
        kind = ctx.pick(("valid_with_photo", "injection_fields", "coordinates", "wrong_values", "other_grid"))
        if kind == "injection_fields":
            for key in rng.sample(list(form), rng.randint(1, len(form))):
                form[key] = ctx.pick(INJECTIONS)
        elif kind == "coordinates":
            form["lat"], form["lon"] = ctx.pick(COORDINATE_TEXTS), ctx.pick(COORDINATE_TEXTS)
            form["crs"] = ctx.pick(("bd09", "gcj02", "wgs84", "utm", ""))
        elif kind == "wrong_values":
            form[ctx.pick(list(form))] = ctx.pick(("", "[]", "{}", "null", "true", "-1", "1e309", "\x00"))
        elif kind == "other_grid":
            form["grid_code"] = ctx.pick(("10100133019900200101", "0" * 20, "1" * 19, "１" * 20))
        boundary = f"----fuzz{rng.getrandbits(48):012x}"
        parts: list[Part] = [(k, None, None, v.encode("utf-8", "surrogatepass")) for k, v in form.items()]
        parts.append(("photos", "a.png", "image/png", png()))
        body, ctype = multipart(parts, boundary), f"multipart/form-data; boundary={boundary}"
    headers = [*auth, ("Content-Type", ctype)]
    return FuzzRequest(ctx.n, APP_REPORTS, "multipart:" + kind, "POST", path, headers=headers, body=body)


def build_checkin(ctx: Ctx) -> FuzzRequest:
    base = {"grid_code": ctx.creds.grid_worker_grid, "note": "今日巡查无事项"}
    kind, body, headers = _json_request(
        ctx,
        CHECKINS,
        "/api/v1/app/checkins",
        base,
        lambda c, d: d | {"grid_code": c.pick(COORDINATES)},
        [_bearer(ctx.creds.grid_worker_token)],
    )
    return FuzzRequest(ctx.n, CHECKINS, kind, "POST", "/api/v1/app/checkins", headers=headers, body=body)


# --- WeChat ----------------------------------------------------------------------------------------

ACCOUNT = "gh_0123456789ab"


def wechat_signature(token: str, timestamp: str, nonce: str) -> str:
    """sha1 of the sorted [token, timestamp, nonce], as WeChat's servers sign the URL."""
    return hashlib.sha1("".join(sorted([token, timestamp, nonce])).encode()).hexdigest()


def wechat_xml(fields: Sequence[tuple[str, str]]) -> str:
    inner = "".join(
        f"<{k}><![CDATA[{v}]]></{k}>" if not v.isdigit() else f"<{k}>{v}</{k}>" for k, v in fields
    )
    return f"<xml>{inner}</xml>"


def wechat_fields(ctx: Ctx, openid: str) -> list[tuple[str, str]]:
    kind = ctx.pick(("text", "text", "location", "image", "voice", "event"))
    common = [
        ("ToUserName", ACCOUNT),
        ("FromUserName", openid),
        ("CreateTime", str(ctx.now)),
        ("MsgType", kind),
    ]
    msg_id = [("MsgId", str(ctx.rng.randrange(10**15, 10**19)))]
    if kind == "text":
        return [*common, ("Content", "小区门口垃圾满溢，请处理"), *msg_id]
    if kind == "location":
        return [
            *common,
            ("Location_X", "30.2741"),
            ("Location_Y", "120.1551"),
            ("Scale", "16"),
            ("Label", "梅园新村"),
            *msg_id,
        ]
    if kind == "image":
        return [*common, ("PicUrl", "http://mmbiz.qpic.cn/mmbiz_jpg/x/0"), ("MediaId", "media-1"), *msg_id]
    if kind == "voice":
        return [*common, ("MediaId", "voice-1"), ("Format", "amr"), ("Recognition", "路灯不亮"), *msg_id]
    return [
        *common,
        ("Event", ctx.pick(("subscribe", "unsubscribe", "CLICK", "LOCATION"))),
        ("EventKey", "query"),
    ]


XML_ATTACKS = (
    # billion laughs
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
    '<!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;"><!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">'
    '<!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;"><!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">'
    '<!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;"><!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">'
    '<!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;"><!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">]>'
    "<xml><ToUserName>a</ToUserName><FromUserName>oFuzz</FromUserName><CreateTime>1</CreateTime>"
    "<MsgType>text</MsgType><Content>&lol9;</Content><MsgId>1</MsgId></xml>",
    # external entities
    '<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
    "<xml><FromUserName>oFuzz</FromUserName><CreateTime>1</CreateTime><MsgType>text</MsgType>"
    "<Content>&xxe;</Content><MsgId>1</MsgId></xml>",
    '<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY xxe SYSTEM "http://127.0.0.1:9/xxe">]>'
    "<xml><FromUserName>oFuzz</FromUserName><CreateTime>1</CreateTime><MsgType>text</MsgType>"
    "<Content>&xxe;</Content><MsgId>1</MsgId></xml>",
    # parameter entities, an external DTD, a DTD on its own
    '<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY % p SYSTEM "http://127.0.0.1:9/evil.dtd"> %p;]><xml/>',
    '<?xml version="1.0"?><!DOCTYPE xml SYSTEM "file:///etc/passwd"><xml><MsgType>text</MsgType></xml>',
    "<!DOCTYPE xml><xml><MsgType>text</MsgType></xml>",
    '<?xml version="1.0"?><!DOCTYPE xml [<!ELEMENT xml ANY><!ATTLIST xml a CDATA "x">]><xml/>',
    # quadratic blowup without a DTD: just big
    "<xml><Content>" + "a" * 60000 + "</Content></xml>",
    # XInclude, processing instructions, comments, namespaces
    '<xml xmlns:xi="http://www.w3.org/2001/XInclude"><xi:include href="file:///etc/passwd" parse="text"/></xml>',
    '<?xml-stylesheet href="http://127.0.0.1:9/x.xsl"?><xml><MsgType>text</MsgType></xml>',
    "<xml><!-- c --><FromUserName><!-- x -->oFuzz</FromUserName></xml>",
    '<x:xml xmlns:x="urn:x"><MsgType>text</MsgType></x:xml>',
    # broken
    "<xml><MsgType>text</MsgType>",
    "<xml><a></b></xml>",
    "<xml>&undefined;</xml>",
    "<xml>&#0;</xml>",
    "<xml>&#xD800;</xml>",
    "<notxml><MsgType>text</MsgType></notxml>",
    "<xml></xml><xml></xml>",
    "just text",
    "",
    "   \n",
    '<?xml version="1.0" encoding="x-no-such"?><xml/>',
    '<?xml version="1.0" encoding="utf-16"?><xml/>',
    '<?xml version="1.0" encoding="gbk"?><xml><Content>路灯</Content></xml>',
    "<xml>" + "<a>" * 5000 + "</a>" * 5000 + "</xml>",
    "<xml>" + "<MsgType>text</MsgType>" * 2500 + "</xml>",
    '<xml a="' + "x" * 20000 + '"/>',
    "<xml><![CDATA[<![CDATA[]]>]]></xml>",
)


def _mutate_wechat_fields(ctx: Ctx, fields: list[tuple[str, str]]) -> tuple[str, list[tuple[str, str]]]:
    rng = ctx.rng
    kind = ctx.pick(
        (
            "valid",
            "field_injection",
            "field_injection",
            "missing_field",
            "bad_create_time",
            "bad_msg_id",
            "bad_from_user",
            "bad_msg_type",
            "bad_location",
            "bad_scale",
            "duplicate_field",
            "long_content",
            "unknown_event",
        )
    )
    out = list(fields)
    names = [k for k, _ in out]

    def set_(name: str, value: str) -> None:
        for i, (k, _) in enumerate(out):
            if k == name:
                out[i] = (k, value)
                return
        out.append((name, value))

    if kind == "field_injection":
        name = ctx.pick(names)
        set_(
            name,
            ctx.pick([s for s in INJECTIONS if "\x00" not in s and "\ud800" not in s and "\udfff" not in s]),
        )
    elif kind == "missing_field":
        gone = ctx.pick(names)
        out = [(k, v) for k, v in out if k != gone]
    elif kind == "bad_create_time":
        set_("CreateTime", ctx.pick(("abc", "-1", "9" * 5000, "1e10", "", "１２３", "0x10", str(2**64))))
    elif kind == "bad_msg_id":
        set_("MsgId", ctx.pick(("abc", "-1", "9" * 40, "1 OR 1=1", "１２３", "", "1.5")))
    elif kind == "bad_from_user":
        set_("FromUserName", ctx.pick(("", "o" * 129, "'; DROP TABLE cases;--", "<script>", "路人", "a b")))
    elif kind == "bad_msg_type":
        set_(
            "MsgType", ctx.pick(("", "TEXT", "video", "shortvideo", "link", "file", "x" * 500, "text\u202e"))
        )
    elif kind == "bad_location":
        out = [(k, v) for k, v in out if k not in ("MsgType", "MsgId")] + [
            ("MsgType", "location"),
            ("MsgId", str(rng.randrange(10**15, 10**19))),
        ]
        set_("Location_X", ctx.pick(COORDINATE_TEXTS))
        set_("Location_Y", ctx.pick(COORDINATE_TEXTS))
    elif kind == "bad_scale":
        out = [(k, v) for k, v in out if k not in ("MsgType", "MsgId")] + [
            ("MsgType", "location"),
            ("MsgId", str(rng.randrange(10**15, 10**19))),
            ("Location_X", "30.27"),
            ("Location_Y", "120.15"),
        ]
        set_("Scale", ctx.pick(("²", "①", "٣", "9" * 5000, "-1", "abc", "1e3", "")))
    elif kind == "duplicate_field":
        name = ctx.pick(names)
        out.append((name, ctx.pick(("", "x", "'; DROP TABLE cases;--"))))
    elif kind == "long_content":
        set_("Content", ctx.pick(("长" * 4001, "a" * 30000, "😀" * 5000)))
    elif kind == "unknown_event":
        out = [(k, v) for k, v in out if k not in ("MsgType", "MsgId", "Event")] + [
            ("MsgType", "event"),
            ("Event", ctx.pick(("", "x" * 100, "subscribe\x01", "SCAN", "'; DROP"))),
            ("EventKey", ctx.pick(INJECTIONS[:8])),
        ]
    return kind, out


def _wechat_query(
    creds: Credentials, ts: str, nonce: str, openid: str | None, **extra: str
) -> dict[str, str]:
    q = {"signature": wechat_signature(creds.wechat_token, ts, nonce), "timestamp": ts, "nonce": nonce}
    if openid is not None:
        q["openid"] = openid
    return q | extra


def _bad_signature(ctx: Ctx, query: dict[str, str]) -> tuple[str, dict[str, str]]:
    creds = ctx.creds
    kind = ctx.pick(
        (
            "no_signature_params",
            "missing_signature",
            "missing_timestamp",
            "missing_nonce",
            "wrong_signature",
            "wrong_token",
            "stale_timestamp",
            "future_timestamp",
            "timestamp_not_a_number",
            "long_nonce",
            "long_timestamp",
            "uppercase_signature",
            "repeated_params",
        )
    )
    q = dict(query)
    ts, nonce = q["timestamp"], q["nonce"]
    if kind == "no_signature_params":
        q = {k: v for k, v in q.items() if k not in ("signature", "timestamp", "nonce")}
    elif kind.startswith("missing_"):
        q.pop(kind.removeprefix("missing_"))
    elif kind == "wrong_signature":
        q["signature"] = ctx.pick(("0" * 40, "", "x", "'; DROP TABLE cases;--", "a" * 4000))
    elif kind == "wrong_token":
        q["signature"] = wechat_signature(creds.wechat_token + "x", ts, nonce)
    elif kind in ("stale_timestamp", "future_timestamp"):
        ts = str(
            ctx.now + (-1 if kind == "stale_timestamp" else 1) * ctx.pick((301, 3600, 86400 * 365, 10**9))
        )
        q |= {"timestamp": ts, "signature": wechat_signature(creds.wechat_token, ts, nonce)}
    elif kind == "timestamp_not_a_number":
        ts = ctx.pick(("abc", "1e9", "-1", "１７００", " ", "1.5"))
        q |= {"timestamp": ts, "signature": wechat_signature(creds.wechat_token, ts, nonce)}
    elif kind == "long_nonce":
        nonce = "n" * ctx.pick((65, 1000))
        q |= {"nonce": nonce, "signature": wechat_signature(creds.wechat_token, ts, nonce)}
    elif kind == "long_timestamp":
        ts = "1" * 21
        q |= {"timestamp": ts, "signature": wechat_signature(creds.wechat_token, ts, nonce)}
    elif kind == "uppercase_signature":
        q["signature"] = q["signature"].upper()
    return kind, q


def _encode_query(q: Mapping[str, str] | Sequence[tuple[str, str]]) -> str:
    pairs = list(q.items()) if isinstance(q, Mapping) else list(q)
    return urllib.parse.urlencode(pairs, errors="surrogatepass")  # a lone surrogate as bad UTF-8


def build_wechat_get(ctx: Ctx) -> FuzzRequest:
    ts, nonce = str(ctx.now), str(ctx.rng.randrange(10**8, 10**10))
    q = _wechat_query(ctx.creds, ts, nonce, None, echostr=str(ctx.rng.randrange(10**15)))
    if ctx.rng.random() < 0.6:
        kind, q = _bad_signature(ctx, q)
    else:
        kind = ctx.pick(("valid", "no_echostr", "echostr_injection", "echostr_long"))
        if kind == "no_echostr":
            q.pop("echostr")
        elif kind == "echostr_injection":
            q["echostr"] = ctx.pick(SQL + SCRIPT + ("路灯", "\u202e"))
        elif kind == "echostr_long":
            q["echostr"] = "e" * 6000
    return FuzzRequest(ctx.n, WECHAT_GET, kind, "GET", "/channels/wechat", query=_encode_query(q))


def build_wechat_post(ctx: Ctx) -> FuzzRequest:
    rng, creds = ctx.rng, ctx.creds
    openid = "oFuzz_" + f"{rng.getrandbits(80):020x}"
    ts, nonce = str(ctx.now), str(rng.randrange(10**8, 10**10))
    q = _wechat_query(creds, ts, nonce, openid)
    mode = ctx.pick(("plain", "plain", "aes", "compat"))
    roll = rng.random()
    if roll < 0.2:  # a wrong signature (the body a good one)
        kind, fields = "valid", wechat_fields(ctx, openid)
        body = wechat_xml(fields).encode()
        kind, q = _bad_signature(ctx, q)
        kind = "signature:" + kind
    elif roll < 0.4:  # attacks on the XML parser
        kind = "xml_attack"
        body = ctx.pick(XML_ATTACKS).encode("utf-8")
        if rng.random() < 0.2:
            body = rng.randbytes(rng.randint(1, 3000))
            kind = "random_bytes"
        elif rng.random() < 0.2:
            cut = rng.randrange(len(body) or 1)
            body = body[:cut] + ctx.pick(BAD_UTF8) + body[cut:]
            kind = "bad_utf8"
        mode = "plain" if mode == "compat" else mode
    elif roll < 0.45:
        kind = "huge_body"
        body = b"<xml><Content>" + b"A" * (BODY_LIMIT + rng.randint(1, BODY_LIMIT)) + b"</Content></xml>"
        mode = "plain"
    else:
        kind, fields = _mutate_wechat_fields(ctx, wechat_fields(ctx, openid))
        body = wechat_xml(fields).encode("utf-8")
        if rng.random() < 0.1:  # openid in the URL is another resident's
            q["openid"] = "oOther_" + f"{rng.getrandbits(40):010x}"
            kind = "openid_mismatch"
    inner = None
    if mode != "plain":
        inner = body
        kind, q, body = _encrypt(ctx, kind, q, body, mode)
    ctype = ctx.pick(
        ("text/xml", "application/xml", "text/xml; charset=utf-8", "application/json", None, "text/plain")
    )
    headers = [("Content-Type", ctype)] if ctype else []
    req = FuzzRequest(
        ctx.n,
        WECHAT_POST,
        f"{mode}:{kind}",
        "POST",
        "/channels/wechat",
        query=_encode_query(q),
        headers=headers,
        body=body,
        inner=inner,
    )
    if rng.random() < 0.04 and "signature:" not in kind:  # the nonce again with another message: a replay
        fields = wechat_fields(ctx, openid)
        again = FuzzRequest(
            ctx.n,
            WECHAT_POST,
            "replayed_nonce",
            "POST",
            "/channels/wechat",
            query=_encode_query(_wechat_query(creds, ts, nonce, openid)),
            headers=[("Content-Type", "text/xml")],
            body=wechat_xml(fields).encode(),
        )
        req.follow_up = again
    return req


def _encrypt(
    ctx: Ctx, kind: str, q: dict[str, str], body: bytes, mode: str
) -> tuple[str, dict[str, str], bytes]:
    """Safe mode (aes: only the Encrypt envelope) or compatibility mode (plaintext and Encrypt), with
    sometimes something wrong with the envelope itself."""
    creds, rng = ctx.creds, ctx.rng
    ts, nonce = q.get("timestamp", str(ctx.now)), q.get("nonce", "1")
    crypto = WeChatCrypto(creds.wechat_token, creds.wechat_aes_key, creds.wechat_appid)
    try:
        inner = body.decode("utf-8")
    except UnicodeDecodeError:
        inner = body.decode("latin-1")
    envelope_kind = ctx.pick(
        ("good",) * 6
        + (
            "wrong_msg_signature",
            "no_msg_signature",
            "garbage_encrypt",
            "random_ciphertext",
            "other_appid",
            "other_key",
            "no_encrypt",
            "encrypt_type_upper",
            "encrypt_type_other",
        )
    )
    if envelope_kind == "other_appid":
        crypto = WeChatCrypto(creds.wechat_token, creds.wechat_aes_key, "wx0000000000000000")
    elif envelope_kind == "other_key":
        crypto = WeChatCrypto(
            creds.wechat_token, base64.b64encode(rng.randbytes(32)).decode()[:43], creds.wechat_appid
        )
    xml = crypto.encrypt_message(inner, nonce, ts)
    encrypt = re.search(r"<Encrypt><!\[CDATA\[(.*?)\]\]></Encrypt>", xml)
    signature = re.search(r"<MsgSignature><!\[CDATA\[(.*?)\]\]></MsgSignature>", xml)
    assert encrypt and signature
    enc, msg_sig = encrypt.group(1), signature.group(1)
    if envelope_kind == "garbage_encrypt":
        enc = ctx.pick(("!!!not base64!!!", "", "AAAA", "路灯", "A" * 4001))
        msg_sig = hashlib.sha1("".join(sorted([creds.wechat_token, ts, nonce, enc])).encode()).hexdigest()
    elif envelope_kind == "random_ciphertext":
        enc = base64.b64encode(rng.randbytes(ctx.pick((16, 32, 33, 1000)))).decode()
        msg_sig = hashlib.sha1("".join(sorted([creds.wechat_token, ts, nonce, enc])).encode()).hexdigest()
    q = q | {"encrypt_type": "aes", "msg_signature": msg_sig}
    if envelope_kind == "wrong_msg_signature":
        q["msg_signature"] = ctx.pick(("0" * 40, "x", q.get("signature", "")))
    elif envelope_kind == "no_msg_signature":
        q.pop("msg_signature")
    elif envelope_kind == "encrypt_type_upper":
        q["encrypt_type"] = "AES"
    elif envelope_kind == "encrypt_type_other":
        q["encrypt_type"] = ctx.pick(("raw", "des", "", "aes;DROP"))
    part = "" if envelope_kind == "no_encrypt" else f"<Encrypt><![CDATA[{enc}]]></Encrypt>"
    if mode == "aes":
        out = f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName>{part}</xml>"
    else:
        out = inner.replace("</xml>", part + "</xml>") if "</xml>" in inner else inner + part
    suffix = "" if envelope_kind == "good" else f"+{envelope_kind}"
    return kind + suffix, q, out.encode("utf-8", "surrogatepass")


# --- the 12345 hotline -----------------------------------------------------------------------------


def hotline_headers(secret: str, ts: str, body: bytes) -> list[tuple[str, str]]:
    mac = hmac.new(secret.encode(), ts.encode() + b"." + body, hashlib.sha256).hexdigest()
    return [("X-Gridcase-Timestamp", ts), ("X-Gridcase-Signature", f"sha256={mac}")]


def _hotline_location(ctx: Ctx, doc: dict[str, Any]) -> dict[str, Any]:
    return _report_location(ctx, doc)


def build_hotline(ctx: Ctx) -> FuzzRequest:
    rng, creds = ctx.rng, ctx.creds
    base: dict[str, Any] = {
        "call_id": f"HL-{ctx.unique()}",
        "caller_number": "13912345678",
        "called_at": "2026-11-25T09:30:00+08:00",
        "summary": "市民来电：小区东门路灯不亮，晚上很黑，请尽快修复",
        "address": "青禾区梅溪街道梅园新村五号楼",
        "category_code": "0101",
        "urgency": "urgent",
        "callback_wanted": True,
        "location": {"lon": 120.1551, "lat": 30.2741, "crs": "gcj02"},
    }
    if rng.random() < 0.15:
        base["called_at"] = ctx.pick(
            (
                "2026-11-25T09:30:00",
                "2026-13-45T99:00:00+08:00",
                "0001-01-01T00:00:00+14:00",
                "9999-12-31T23:59:59-14:00",
                "yesterday",
                "1700000000",
                "",
            )
        )
    kind, body, headers = _json_request(ctx, HOTLINE, "/channels/hotline", base, _hotline_location, [])
    ts = str(ctx.now)
    signed = hotline_headers(creds.hotline_secret, ts, body)
    if rng.random() < 0.3:
        auth_kind, signed = _bad_hotline_auth(ctx, ts, body)
        kind = f"auth:{auth_kind}"
    if rng.random() < 0.1 and not kind.startswith("auth:"):
        signed = [
            ("X-Gridcase-Timestamp", ts),
            ("X-Gridcase-Signature", signed[1][1].upper().replace("SHA256=", "sha256=")),
        ]
        kind += "+uppercase_hex"
    req = FuzzRequest(ctx.n, HOTLINE, kind, "POST", "/channels/hotline", headers=headers + signed, body=body)
    if rng.random() < 0.05:  # the same signed request again (a replay within the window: a duplicate)
        req.follow_up = FuzzRequest(
            ctx.n, HOTLINE, "replayed", "POST", "/channels/hotline", headers=list(req.headers), body=body
        )
    return req


def _bad_hotline_auth(ctx: Ctx, ts: str, body: bytes) -> tuple[str, list[tuple[str, str]]]:
    secret = ctx.creds.hotline_secret
    kind = ctx.pick(
        (
            "no_headers",
            "unknown_feed",
            "feed_injection",
            "timestamp_missing",
            "timestamp_not_a_number",
            "timestamp_millis",
            "stale_timestamp",
            "future_timestamp",
            "signature_missing",
            "signature_malformed",
            "signature_of_other_body",
            "wrong_secret",
            "signature_sha1",
        )
    )
    good = hotline_headers(secret, ts, body)
    if kind == "no_headers":
        return kind, []
    if kind == "unknown_feed":
        return kind, [*good, ("X-Gridcase-Feed", ctx.pick(("cti-nowhere", "default2", "x" * 200)))]
    if kind == "feed_injection":
        return kind, [
            *good,
            ("X-Gridcase-Feed", ctx.pick(("../../etc/passwd", "'; DROP TABLE cases;--", "路", "cti east"))),
        ]
    if kind == "timestamp_missing":
        return kind, good[1:]
    if kind in ("timestamp_not_a_number", "timestamp_millis", "stale_timestamp", "future_timestamp"):
        stamp = {
            "timestamp_not_a_number": ctx.pick(("abc", "-1", "1e9", "１７００", "1.5", "0x10", "17 00")),
            "timestamp_millis": str(ctx.now * 1000),
            "stale_timestamp": str(ctx.now - ctx.pick((301, 3600, 10**8))),
            "future_timestamp": str(ctx.now + ctx.pick((301, 3600, 10**8))),
        }[kind]
        return kind, hotline_headers(secret, stamp, body)
    if kind == "signature_missing":
        return kind, good[:1]
    if kind == "signature_malformed":
        bad = ctx.pick(
            ("sha256=", "sha256=" + "0" * 63, "sha256=" + "g" * 64, "md5=abc", "0" * 64, "sha256 =x")
        )
        return kind, [good[0], ("X-Gridcase-Signature", bad)]
    if kind == "signature_of_other_body":
        return kind, hotline_headers(secret, ts, body + b" ")
    if kind == "wrong_secret":
        return kind, hotline_headers(secret + "x", ts, body)
    mac = hmac.new(secret.encode(), ts.encode() + b"." + body, hashlib.sha1).hexdigest()
    return kind, [good[0], ("X-Gridcase-Signature", f"sha256={mac}")]


# --- Open311 ---------------------------------------------------------------------------------------


def _open311_fields(ctx: Ctx) -> dict[str, str]:
    return {
        "api_key": ctx.creds.open311_key,
        "jurisdiction_id": "gridcase.example.cn",
        "service_code": "0101",
        "lat": "30.2741000",
        "long": "120.1551000",
        "address_string": "柳塘路18号",
        "email": "resident@example.cn",
        "device_id": "device-7f3a",
        "account_id": "acct-42",
        "first_name": "小红",
        "last_name": "欧阳",
        "phone": "13900139123",
        "description": f"路灯不亮，晚上很黑（{ctx.unique()}）",
        "media_url": "https://img.example.cn/reports/lamp.jpg",
    }


def build_open311_post(ctx: Ctx) -> FuzzRequest:
    rng = ctx.rng
    fields = _open311_fields(ctx)
    headers: list[tuple[str, str]] = []
    kind = ctx.pick(
        (
            "valid",
            "bad_params",
            "bad_params",
            "bad_params",
            "injection",
            "injection",
            "api_key",
            "api_key",
            "encoding",
            "too_many_fields",
            "idempotency_key",
            "json_body",
            "multipart",
            "wrong_content_type",
            "random_bytes",
            "huge_body",
            "empty_body",
        )
    )
    pairs: list[tuple[str, str]] = list(fields.items())
    ctype: str | None = "application/x-www-form-urlencoded"
    body: bytes | None = None
    query = ""

    def set_(name: str, value: str | None) -> None:
        nonlocal pairs
        pairs = [(k, v) for k, v in pairs if k != name] + ([(name, value)] if value is not None else [])

    if kind == "bad_params":
        for _ in range(rng.randint(1, 3)):
            name = ctx.pick(
                (
                    "lat",
                    "long",
                    "lat",
                    "long",
                    "service_code",
                    "description",
                    "phone",
                    "media_url",
                    "crs",
                    "email",
                    "address_id",
                    "device_id",
                    "address_string",
                )
            )
            value = {
                "lat": lambda: ctx.pick((*COORDINATE_TEXTS, None)),
                "long": lambda: ctx.pick((*COORDINATE_TEXTS, None)),
                "service_code": lambda: ctx.pick(
                    (None, "", "9998", "0101 OR 1=1", "x" * 40, "０１０１", "../x")
                ),
                "description": lambda: ctx.pick((None, "", "x", "长" * 4001, "   ")),
                "phone": lambda: ctx.pick(("abc", "1" * 30, "+", "-- --", "１３９")),
                "media_url": lambda: ctx.pick(
                    (
                        "javascript:alert(1)",
                        "file:///etc/passwd",
                        "http://",
                        "ftp://x/y",
                        "http://" + "a" * 3000,
                        "//no-scheme",
                        "http://127.0.0.1:9/x",
                    )
                ),
                "crs": lambda: ctx.pick(("utm", "", "BD09", "gcj02", "bd09")),
                "email": lambda: ctx.pick(("<script>", "a" * 400, "@")),
                "address_id": lambda: ctx.pick(("a" * 101, "'; DROP", "")),
                "device_id": lambda: ctx.pick(("d" * 101, "\u202e")),
                "address_string": lambda: ctx.pick(("", "a" * 1000)),
            }[name]()
            set_(name, value)
        if rng.random() < 0.3:  # no location at all
            for name in ("lat", "long", "address_string"):
                set_(name, None)
    elif kind == "injection":
        for name in rng.sample([k for k, _ in pairs if k != "api_key"], rng.randint(1, 5)):
            set_(name, ctx.pick(INJECTIONS))
    elif kind == "api_key":
        sub = ctx.pick(
            (
                "missing",
                "empty",
                "invalid",
                "gcs_forged",
                "other_role",
                "in_query",
                "twice",
                "bearer_only",
                "injection",
            )
        )
        kind = f"api_key:{sub}"
        if sub == "missing":
            set_("api_key", None)
        elif sub == "empty":
            set_("api_key", "")
        elif sub == "invalid":
            set_("api_key", "not-a-token")
        elif sub == "gcs_forged":
            set_("api_key", "gct_" + "A" * 40)
        elif sub == "other_role":
            set_("api_key", ctx.creds.feed_token)  # a valid token, of the hotline feed
        elif sub == "in_query":
            set_("api_key", None)
            query = _encode_query({"api_key": ctx.creds.open311_key})
        elif sub == "twice":
            pairs.append(("api_key", "second-key"))
        elif sub == "bearer_only":
            set_("api_key", None)
            headers.append(_bearer(ctx.creds.open311_key))
        else:
            set_("api_key", ctx.pick(SQL))
    elif kind == "encoding":
        sub = ctx.pick(
            ("bad_percent", "invalid_utf8_escape", "gbk", "unknown_charset", "raw_utf8_bytes", "semicolons")
        )
        kind = f"encoding:{sub}"
        form = _encode_query(pairs)
        if sub == "bad_percent":
            body = (form + "&description=%ZZ%2&lat=%").encode()
        elif sub == "invalid_utf8_escape":
            body = (form + "&description=%FF%FE%C0%AF").encode()
        elif sub == "gbk":
            body = urllib.parse.urlencode(pairs, encoding="gbk", errors="replace").encode()
            ctype = "application/x-www-form-urlencoded; charset=gbk"
        elif sub == "unknown_charset":
            body = form.encode()
            ctype = "application/x-www-form-urlencoded; charset=x-no-such"
        elif sub == "raw_utf8_bytes":
            body = form.encode() + b"&first_name=" + "路".encode() + b"\xff"
        else:
            body = form.replace("&", ";").encode()
    elif kind == "too_many_fields":
        pairs += [(f"f{i}", "x") for i in range(ctx.pick((201, 1000, 5000)))]
    elif kind == "idempotency_key":
        headers.append(
            (
                "Idempotency-Key",
                ctx.pick(("k" * 81, "key\twith\ttab", "'; DROP TABLE cases;--", "a  b", "路灯")),
            )
        )
    elif kind == "json_body":
        doc: dict[str, Any] = dict(pairs)
        sub_kind, mutated = mutate_json(
            ctx, doc, location=lambda c, d: d | {"lat": c.pick(COORDINATES), "long": c.pick(COORDINATES)}
        )
        kind = f"json:{sub_kind}"
        body = dumps(mutated)
        ctype = ctx.pick(("application/json", "application/json; charset=utf-8", "application/geo+json"))
    elif kind == "multipart":
        sub, body, ctype = broken_multipart(ctx, dict(pairs), "media")
        kind = f"multipart:{sub}"
    elif kind == "wrong_content_type":
        ctype = ctx.pick(
            ("text/plain", "application/xml", None, "multipart/form-data", "application/octet-stream", "")
        )
    elif kind == "random_bytes":
        body = rng.randbytes(rng.randint(1, 4000))
        ctype = ctx.pick(("application/x-www-form-urlencoded", "application/json", None))
    elif kind == "huge_body":
        body = (
            _encode_query(pairs) + "&description=" + "a" * (BODY_LIMIT + rng.randint(1, BODY_LIMIT))
        ).encode()
    elif kind == "empty_body":
        body = b""
    if body is None:
        body = _encode_query(pairs).encode()
    if ctype is not None:
        headers.append(("Content-Type", ctype))
    # A rate-limited POST is answered 429 before it is kept: the client sends it again (by design).
    return FuzzRequest(
        ctx.n,
        OPEN311_POST,
        kind,
        "POST",
        "/open311/v2/requests.json",
        query=query,
        headers=headers,
        body=body,
        not_stored_when=frozenset({429}),
    )


def build_open311_get(ctx: Ctx) -> FuzzRequest:
    """Reads: never kept raw (they take nothing in); they must still answer < 500."""
    key = ctx.creds.open311_key
    kind = ctx.pick(
        ("services", "service_definition", "requests", "requests", "one_request", "tokens", "other")
    )
    fmt = ctx.pick(("json", "json", "json", "xml", "JSON", "yaml", "json%00", "exe"))
    params: list[tuple[str, str]] = []
    if ctx.rng.random() < 0.8:
        params.append(
            ("api_key", ctx.pick((key, key, key, "invalid", "", "gct_" + "A" * 40, ctx.creds.feed_token)))
        )
    if kind == "services":
        path = f"/open311/v2/services.{fmt}"
        params.append(("jurisdiction_id", ctx.pick(("gridcase.example.cn", "'; DROP", "x" * 3000))))
    elif kind == "service_definition":
        code = ctx.pick(
            ("0101", "9999", "'%20OR%201=1", "%00", "..%2F..%2Fetc", "x" * 300, "%E8%B7%AF", "%FF")
        )
        path = f"/open311/v2/services/{code}.{fmt}"
    elif kind == "requests":
        path = f"/open311/v2/requests.{fmt}"
        for _ in range(ctx.rng.randint(1, 4)):
            name = ctx.pick(
                (
                    "lat",
                    "long",
                    "start_date",
                    "end_date",
                    "status",
                    "service_code",
                    "service_request_id",
                    "page",
                    "page_size",
                )
            )
            value = ctx.pick(
                (
                    *COORDINATE_TEXTS[:12],
                    "2026-11-25T00:00:00Z",
                    "0001-01-01",
                    "9999-12-31T23:59:59Z",
                    "yesterday",
                    "2026-02-30",
                    "open",
                    "closed,open",
                    "pending",
                    "'; DROP TABLE cases;--",
                    "<script>",
                    "\u202e",
                    "-1",
                    "1e309",
                )
            )
            params.append((name, value))
        if ctx.rng.random() < 0.1:
            params += [("service_request_id", str(i)) for i in range(1001)]
    elif kind == "one_request":
        rid = ctx.pick(
            (
                "20261125000001",
                "0",
                "-1",
                "'%20OR%201=1--",
                "%00",
                "x" * 300,
                "%E8%B7%AF",
                "%FF%FE",
                "..%2F..",
                "1;DROP",
            )
        )
        path = f"/open311/v2/requests/{rid}.{fmt}"
    elif kind == "tokens":
        path = f"/open311/v2/tokens/{ctx.pick(('abc', '%00', 'x' * 500))}.{fmt}"
    else:
        path = ctx.pick(
            (
                "/open311/v2/",
                "/open311/v2/requests",
                "/open311/v2/discovery.json",
                "/open311/v2/%2e%2e/x",
                "/open311/v2/requests.json/extra",
                "/open311/",
            )
        )
    return FuzzRequest(ctx.n, OPEN311_GET, kind, "GET", path, query=_encode_query(params), stored=False)


_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
_SURROGATE_BYTES = re.compile(rb"\xed[\xa0-\xbf]|%[eE][dD]%[aAbB][0-9a-fA-F]")
_SCALE = re.compile(r"<Scale>(?:<!\[CDATA\[)?(.*?)(?:\]\]>)?</Scale>", re.S)


_FORM_PART = re.compile(
    rb'Content-Disposition: form-data; name="[^"]*"(?P<file>; filename="[^"]*")?\r?\n'
    rb"(?:Content-Type: [^\r\n]*\r?\n)?\r?\n(?P<content>.*?)\r?\n--",
    re.S,
)


def _texts(req: FuzzRequest) -> list[bytes]:
    """The body, or of a multipart body its text fields (photos hold NUL bytes, harmlessly)."""
    ctype = next((v for k, v in req.headers if k.lower() == "content-type"), "")
    if "multipart" not in ctype.lower():
        return [req.body]
    return [m.group("content") for m in _FORM_PART.finditer(req.body) if m.group("file") is None]


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def hazards_of(req: FuzzRequest) -> frozenset[str]:
    """What a request carries that a server may trip over, found in what is sent (for grouping
    results and naming known problems): ``nul`` (U+0000, which PostgreSQL text can't hold),
    ``surrogate`` (a lone UTF-16 surrogate, not encodable as UTF-8), ``deep_json`` (nesting past
    Python's recursion limit), ``bd09_edge`` (a BD-09 point on the ±90/±180 edge, out of range once
    converted), ``scale_digits`` (a WeChat location's Scale of digits int() refuses: ², or > 4,300 of
    them), ``xml_unknown_encoding`` (an XML declaration naming an encoding Python doesn't know)."""
    found: set[str] = set()
    for data in (*_texts(req), req.inner or b"", req.query.encode()):
        wide = len(data) >= 2 and 0 in data[:2]  # UTF-16 or UTF-32 (as json.loads tells them apart)
        if b"\\u0000" in data or b"%00" in data or (b"\x00" in data and _is_utf8(data) and not wide):
            found.add("nul")
        if _SURROGATE_ESCAPE.search(data) or _SURROGATE_BYTES.search(data):
            found.add("surrogate")
        narrow = data.replace(b"\x00", b"")  # UTF-16 and UTF-32 as ASCII, roughly
        if b"[" * 500 in narrow or b'{"a":' * 500 in narrow:
            found.add("deep_json")
        if b"\\u0000" in narrow:
            found.add("nul")
        if b'encoding="x-no-such"' in data:
            found.add("xml_unknown_encoding")
        for scale in _SCALE.findall(data.decode("utf-8", "replace")):
            if scale.isdigit() and (not scale.isascii() or len(scale) > 4300):
                found.add("scale_digits")
    if b"bd09" in req.body:
        try:
            doc = json.loads(req.body)
        except (ValueError, RecursionError):
            doc = None
        stack = [doc]
        while stack:
            v = stack.pop()
            if isinstance(v, dict):
                crs, lat, lon = v.get("crs"), v.get("lat"), v.get("lon")
                if (
                    isinstance(crs, str)
                    and crs.strip().lower() == "bd09"
                    and isinstance(lat, int | float)
                    and isinstance(lon, int | float)
                    and (abs(lat) == 90 or abs(lon) == 180)
                ):
                    found.add("bd09_edge")
                stack += list(v.values())
            elif isinstance(v, list):
                stack += v
    return frozenset(found)


@dataclass(frozen=True)
class Endpoint:
    weight: float
    build: Callable[[Ctx], FuzzRequest]


ENDPOINTS: dict[str, Endpoint] = {
    REPORTS: Endpoint(14, build_report),
    APP_REPORTS: Endpoint(13, build_app_report),
    CHECKINS: Endpoint(5, build_checkin),
    WECHAT_GET: Endpoint(4, build_wechat_get),
    WECHAT_POST: Endpoint(22, build_wechat_post),
    HOTLINE: Endpoint(16, build_hotline),
    OPEN311_POST: Endpoint(16, build_open311_post),
    OPEN311_GET: Endpoint(10, build_open311_get),
}


def generate(
    seed: int | str, count: int, creds: Credentials, *, run: str, endpoints: Sequence[str] | None = None
) -> Iterator[FuzzRequest]:
    """``count`` requests (a few carry a follow-up: a replay), each tagged ``X-Request-Id: <run>-<n>``."""
    names = list(endpoints or ENDPOINTS)
    weights = [ENDPOINTS[e].weight for e in names]
    for n in range(count):
        rng = random.Random(f"{seed}:{n}")
        endpoint = rng.choices(names, weights)[0]
        req = ENDPOINTS[endpoint].build(Ctx(rng, creds, n, int(time.time())))
        req.request_id = f"{run}-{n}"
        req.headers.append(("X-Request-Id", req.request_id))
        req.hazards = hazards_of(req)
        if req.follow_up is not None:
            req.follow_up.request_id = f"{run}-{n}r"
            req.follow_up.headers.append(("X-Request-Id", req.follow_up.request_id))
            req.follow_up.hazards = hazards_of(req.follow_up)
        yield req


# --- reproducers -----------------------------------------------------------------------------------


def reproducers(creds: Credentials, *, run: str) -> dict[str, list[FuzzRequest]]:
    """One small, deterministic request per problem the fuzzing found (issue 8), by the hazard's name
    (see :func:`hazards_of`; ``checkins_not_kept`` for the check-ins). Each must be answered < 500 and
    kept with a final outcome once the problem is fixed."""
    now = str(int(time.time()))
    grid = creds.grid_worker_grid
    feed = [_bearer(creds.feed_token), ("Content-Type", "application/json")]
    worker = [_bearer(creds.grid_worker_token), ("Content-Type", "application/json")]

    def report(**fields: Any) -> bytes:
        doc = {"channel": "hotline", "description": "路灯不亮", "grid_code": grid, "category_code": "0101"}
        return dumps(doc | fields, ascii_only=True)

    def order(kind: str, **fields: Any) -> bytes:
        doc = {"call_id": f"HL-{run}-{kind}", "called_at": "2026-11-25T09:30:00+08:00", "summary": "路灯不亮"}
        return dumps(doc | fields, ascii_only=True)

    def hotline(kind: str, body: bytes) -> FuzzRequest:
        headers = [("Content-Type", "application/json"), *hotline_headers(creds.hotline_secret, now, body)]
        return FuzzRequest(0, HOTLINE, kind, "POST", "/channels/hotline", headers=headers, body=body)

    def wechat(kind: str, xml: bytes) -> FuzzRequest:
        nonce = str(random.randrange(10**8, 10**10))
        query = _encode_query(_wechat_query(creds, now, nonce, None))
        return FuzzRequest(
            0,
            WECHAT_POST,
            kind,
            "POST",
            "/channels/wechat",
            query=query,
            headers=[("Content-Type", "text/xml")],
            body=xml,
        )

    deep = ("[" * 3000 + "]" * 3000).encode()
    location_xml = (
        "<xml><ToUserName>gh_0123456789ab</ToUserName><FromUserName>oRepro_{n}</FromUserName>"
        "<CreateTime>{now}</CreateTime><MsgType>location</MsgType><Location_X>30.27</Location_X>"
        "<Location_Y>120.15</Location_Y><Scale>{scale}</Scale><MsgId>{msg_id}</MsgId></xml>"
    )
    out = {
        "deep_json": [
            FuzzRequest(0, REPORTS, "deep_json", "POST", "/api/v1/reports", headers=list(feed), body=deep),
            FuzzRequest(
                0, APP_REPORTS, "deep_json", "POST", "/api/v1/app/reports", headers=list(worker), body=deep
            ),
            hotline("deep_json", deep),
        ],
        "nul": [
            FuzzRequest(
                0,
                REPORTS,
                "nul:description",
                "POST",
                "/api/v1/reports",
                headers=list(feed),
                body=report(description="路灯\x00不亮", external_id=f"{run}-nul-d"),
            ),
            FuzzRequest(
                0,
                REPORTS,
                "nul:channel",
                "POST",
                "/api/v1/reports",
                headers=list(feed),
                body=report(channel="\x00"),
            ),
            FuzzRequest(
                0,
                APP_REPORTS,
                "nul:description",
                "POST",
                "/api/v1/app/reports",
                headers=list(worker),
                body=dumps({"description": "井盖\x00缺失", "grid_code": grid}, ascii_only=True),
            ),
            hotline("nul:summary", order("nul", summary="路灯\x00不亮")),
            FuzzRequest(
                0,
                OPEN311_POST,
                "nul:long",
                "POST",
                "/open311/v2/requests.json",
                headers=[("Content-Type", "application/x-www-form-urlencoded")],
                body=_encode_query(
                    {
                        "api_key": creds.open311_key,
                        "service_code": "0101",
                        "description": "路灯不亮",
                        "lat": "30.27",
                        "long": "\x00",
                    }
                ).encode(),
            ),
        ],
        "surrogate": [
            FuzzRequest(
                0,
                REPORTS,
                "surrogate:description",
                "POST",
                "/api/v1/reports",
                headers=list(feed),
                body=report(description="路灯\ud800不亮", external_id=f"{run}-sur-d"),
            ),
            FuzzRequest(
                0,
                REPORTS,
                "surrogate:channel",
                "POST",
                "/api/v1/reports",
                headers=list(feed),
                body=report(channel="\ud800"),
            ),
            FuzzRequest(
                0,
                APP_REPORTS,
                "surrogate:description",
                "POST",
                "/api/v1/app/reports",
                headers=list(worker),
                body=dumps({"description": "井盖\ud800缺失", "grid_code": grid}, ascii_only=True),
            ),
            hotline("surrogate:summary", order("surrogate", summary="路灯\ud800不亮")),
        ],
        "bd09_edge": [
            FuzzRequest(
                0,
                REPORTS,
                "bd09_edge",
                "POST",
                "/api/v1/reports",
                headers=list(feed),
                body=report(location={"lat": -90, "lon": -180, "crs": "bd09"}, external_id=f"{run}-bd09"),
            ),
        ],
        "scale_digits": [
            wechat(
                "scale_digits:" + label,
                location_xml.format(n=i, now=now, scale=scale, msg_id=10**17 + i).encode(),
            )
            for i, (label, scale) in enumerate((("superscript", "²"), ("5000_digits", "9" * 5000)))
        ],
        "xml_unknown_encoding": [
            wechat(
                "xml_unknown_encoding",
                b'<?xml version="1.0" encoding="x-no-such"?><xml><MsgType>text</MsgType></xml>',
            ),
        ],
        "checkins_not_kept": [
            FuzzRequest(
                0,
                CHECKINS,
                "valid",
                "POST",
                "/api/v1/app/checkins",
                headers=list(worker),
                body=dumps({"grid_code": grid, "note": "今日巡查无事项"}),
            ),
            FuzzRequest(
                0,
                CHECKINS,
                "unknown_field",
                "POST",
                "/api/v1/app/checkins",
                headers=list(worker),
                body=dumps({"grid_code": grid, "id": 1}),
            ),
        ],
    }
    i = 0
    for name, requests in out.items():
        for req in requests:
            req.n = i
            req.request_id = f"{run}-{name}-{i}"
            req.headers.append(("X-Request-Id", req.request_id))
            req.hazards = hazards_of(req)
            i += 1
    return out


# --- sending and checking --------------------------------------------------------------------------


@dataclass
class Sent:
    request: FuzzRequest
    status: int | None  # None: no answer (the error says why)
    error: str | None = None
    elapsed_ms: float = 0.0
    response_head: str = ""
    # The connection was dropped under an earlier attempt (the error, and what that connection last
    # answered); the request was then sent again once, on a new connection.
    dropped: str | None = None
    dropped_after_status: int | None = None  # what that connection had answered last


# A server that closes a keep-alive connection after an unhandled error (uvicorn does, after the 500)
# leaves the next request on it unanswered: sent again once on a new connection, the drop reported.
RETRIED = (httpx.ReadError, httpx.RemoteProtocolError, httpx.WriteError, httpx.ConnectError)


async def send_all(
    base_url: str,
    requests: Iterable[FuzzRequest],
    *,
    concurrency: int = 16,
    timeout_s: float = 30.0,
    progress: Callable[[int], None] | None = None,
) -> list[Sent]:
    """Send every request (and its follow-up right after it) on ``concurrency`` keep-alive connections."""
    it = iter(requests)
    out: list[Sent] = []

    def new_client() -> httpx.AsyncClient:
        return httpx.AsyncClient(
            timeout=timeout_s,
            trust_env=False,
            limits=httpx.Limits(max_connections=1, max_keepalive_connections=1, keepalive_expiry=4.0),
        )

    class Connection:
        def __init__(self) -> None:
            self.client = new_client()
            self.last = "nothing yet"
            self.last_status: int | None = None

        async def send(self, req: FuzzRequest) -> None:
            url = base_url.rstrip("/") + req.path + ("?" + req.query if req.query else "")
            headers = [(k.encode("latin-1"), v.encode("utf-8")) for k, v in req.headers]
            dropped: str | None = None
            dropped_after: int | None = None
            for attempt in (1, 2):
                started = time.monotonic()
                try:
                    r = await self.client.request(req.method, url, headers=headers, content=req.body or None)
                    sent = Sent(req, r.status_code, None, (time.monotonic() - started) * 1000, r.text[:300])
                    self.last = f"{r.status_code} to {req.request_id} ({req.endpoint} [{req.kind}])"
                    self.last_status = r.status_code
                    break
                except httpx.HTTPError as exc:
                    error = f"{type(exc).__name__}: {exc}"[:300]
                    sent = Sent(req, None, error, (time.monotonic() - started) * 1000)
                    if attempt == 2 or not isinstance(exc, RETRIED):
                        self.last, self.last_status = f"no answer to {req.request_id}", None
                        break
                    dropped = (
                        f"{error or type(exc).__name__} (this connection's previous answer: {self.last})"
                    )
                    dropped_after = self.last_status
                    await self.client.aclose()
                    self.client = new_client()
                    self.last, self.last_status = "nothing yet (new connection)", None
            if dropped is not None:
                sent.dropped, sent.dropped_after_status = dropped, dropped_after
            out.append(sent)
            if progress is not None:
                progress(len(out))

    async def worker() -> None:
        conn = Connection()
        try:
            for req in it:  # one shared iterator: each request is generated right before it is sent
                await conn.send(req)
                if req.follow_up is not None:
                    await conn.send(req.follow_up)
        finally:
            await conn.client.aclose()

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return out


@dataclass
class Row:
    id: int
    outcome: str
    error: Any
    path: str | None


async def stored_rows(db: Any, run: str) -> dict[str, list[Row]]:
    """The raw rows of a run by request id (``db``: an asyncpg pool or connection)."""
    rows = await db.fetch(
        "SELECT id, headers->>'x-request-id' AS rid, outcome, error, path FROM raw_inbound "
        "WHERE left(headers->>'x-request-id', length($1)) = $1 ORDER BY id",
        run + "-",
    )
    out: dict[str, list[Row]] = {}
    for r in rows:
        error = r["error"]
        if isinstance(error, str):
            error = json.loads(error)
        out.setdefault(r["rid"], []).append(Row(r["id"], r["outcome"], error, r["path"]))
    return out


@dataclass
class Violation:
    kind: str  # server_error | no_answer | dropped_connection | not_stored | stored_twice | left_received
    sent: Sent
    rows: list[Row]

    def describe(self) -> dict[str, Any]:
        return {
            "violation": self.kind,
            "status": self.sent.status,
            "error": self.sent.error,
            "dropped": self.sent.dropped,
            "response_head": self.sent.response_head,
            "request": self.sent.request.describe(),
            "raw_rows": [{"id": r.id, "outcome": r.outcome, "error": r.error} for r in self.rows],
        }


@dataclass
class EndpointStats:
    sent: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    stored_rows: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    expected_stored: int = 0
    not_stored_by_design: int = 0
    violations: int = 0
    max_ms: float = 0.0


@dataclass
class Verdict:
    endpoints: dict[str, EndpointStats]
    violations: list[Violation]
    failed: list[tuple[Sent, Row]]  # stored as `failed`: our fault, replayable; worth a look
    dropped_after_5xx: list[Sent]  # the connection closed under them after a 5xx; sent again

    @property
    def ok(self) -> bool:
        return not self.violations

    def summary(self) -> dict[str, Any]:
        total = EndpointStats()
        for s in self.endpoints.values():
            total.sent += s.sent
            total.statuses.update(s.statuses)
            total.stored_rows += s.stored_rows
            total.outcomes.update(s.outcomes)
            total.expected_stored += s.expected_stored
            total.not_stored_by_design += s.not_stored_by_design
            total.violations += s.violations
            total.max_ms = max(total.max_ms, s.max_ms)

        def shape(s: EndpointStats) -> dict[str, Any]:
            return {
                "sent": s.sent,
                "statuses": dict(sorted(s.statuses.items())),
                "expected_in_raw_store": s.expected_stored,
                "raw_rows": s.stored_rows,
                "outcomes": dict(s.outcomes.most_common()),
                "not_kept_by_design": s.not_stored_by_design,
                "violations": s.violations,
                "slowest_ms": round(s.max_ms, 1),
            }

        return {
            "endpoints": {name: shape(s) for name, s in self.endpoints.items()},
            "total": shape(total),
            "violations_by_kind": dict(Counter(v.kind for v in self.violations).most_common()),
            "violations": [v.describe() for v in self.violations],
            "connections_dropped_after_a_5xx": [
                {"request": s.request.describe(), "dropped": s.dropped, "status_when_sent_again": s.status}
                for s in self.dropped_after_5xx
            ],
            "failed_outcomes": [
                {"request": s.request.describe(), "status": s.status, "raw_id": r.id, "error": r.error}
                for s, r in self.failed
            ],
        }


def check(sent: Sequence[Sent], rows: Mapping[str, list[Row]]) -> Verdict:
    """Every answer < 500; every request intake keeps found once, with a final outcome."""
    stats: dict[str, EndpointStats] = {}
    violations: list[Violation] = []
    failed: list[tuple[Sent, Row]] = []
    dropped: list[Sent] = []
    for s in sent:
        req = s.request
        st = stats.setdefault(req.endpoint, EndpointStats())
        st.sent += 1
        st.statuses[str(s.status) if s.status is not None else "no answer"] += 1
        st.max_ms = max(st.max_ms, s.elapsed_ms)
        mine = rows.get(req.request_id, [])
        st.stored_rows += len(mine)
        st.outcomes.update(r.outcome for r in mine)
        found: list[Violation] = []
        if s.dropped is not None:
            # After a 5xx it is that 5xx's consequence (already a violation); otherwise its own.
            if s.dropped_after_status is not None and s.dropped_after_status >= 500:
                dropped.append(s)
            else:
                found.append(Violation("dropped_connection", s, mine))
        if s.status is None:
            found.append(Violation("no_answer", s, mine))
        elif s.status >= 500:
            found.append(Violation("server_error", s, mine))
        if req.stored and s.status is not None and s.status in req.not_stored_when and not mine:
            st.not_stored_by_design += 1
        elif req.stored:
            st.expected_stored += 1
            if not mine:
                found.append(Violation("not_stored", s, mine))
            elif len(mine) > 1:
                found.append(Violation("stored_twice", s, mine))
            if any(r.outcome == "received" for r in mine):
                found.append(Violation("left_received", s, mine))
        failed += [(s, r) for r in mine if r.outcome == "failed"]
        st.violations += len(found)
        violations += found
    order = list(ENDPOINTS)
    ordered = {k: stats[k] for k in sorted(stats, key=lambda k: order.index(k) if k in order else len(order))}
    return Verdict(ordered, violations, failed, dropped)


async def settled_rows(db: Any, run: str, expected: int, timeout_s: float = 10.0) -> dict[str, list[Row]]:
    """The run's rows once none is `received` any more and there are ``expected`` of them or their
    count stopped growing (a request's row and outcome are written before its answer: normally at once)."""
    deadline = time.monotonic() + timeout_s
    last = -1
    while True:
        rows = await stored_rows(db, run)
        count = sum(len(v) for v in rows.values())
        pending = any(r.outcome == "received" for v in rows.values() for r in v)
        if (not pending and (count >= expected or count == last)) or time.monotonic() > deadline:
            return rows
        last = count
        await asyncio.sleep(0.5)
