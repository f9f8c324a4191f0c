"""Open311's two wire formats and its error shape.

JSON (``application/json; charset=utf-8``) and XML (``text/xml; charset=utf-8``, schemaless, no
namespace, with the UTF-8 declaration), chosen by the resource's suffix (``services.json``,
``requests/123.xml``). The XML is the spec's: a list becomes a root element with one child per item
(``<services><service>…``), nested lists the same (``<attributes><attribute>…``); the JSON is its Spark
convention mapping (arrays at the top level). Errors are ``[{"code": 400, "description": "…"}]`` /
``<errors><error><code>400</code><description>…`` with the HTTP status: 404 for what doesn't exist,
403 for a missing or wrong api_key, 400 for the rest (429, 413 and 503 where HTTP has a better word).
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from typing import Any

from starlette.responses import Response

JSON_TYPE = "application/json; charset=utf-8"
XML_TYPE = "text/xml; charset=utf-8"
MEDIA_TYPES = {"json": JSON_TYPE, "xml": XML_TYPE}
FORMATS = tuple(MEDIA_TYPES)

# A list's item element, by the list's element name (the spec's plurals).
ITEM_NAMES = {
    "services": "service",
    "service_requests": "request",
    "errors": "error",
    "attributes": "attribute",
    "values": "value",
    "endpoints": "endpoint",
    "formats": "format",
}
# Characters XML 1.0 can't carry, even escaped (control characters a client may have sent).
_NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


class Open311Error(Exception):
    """A refusal in Open311's shape. ``reason`` is machine-readable, for ``raw_inbound.error``."""

    def __init__(
        self,
        status: int,
        descriptions: str | Sequence[str],
        *,
        reason: str,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.status = status
        self.descriptions = [descriptions] if isinstance(descriptions, str) else list(descriptions)
        self.reason = reason
        self.headers = headers or {}
        super().__init__(f"{status} {reason}")

    @property
    def errors(self) -> list[dict[str, Any]]:
        return [{"code": self.status, "description": d} for d in self.descriptions]

    def record(self) -> dict[str, Any]:
        """What ``raw_inbound.error`` keeps of it."""
        return {"error": self.reason, "status": self.status, "errors": self.descriptions}


def format_of(suffix: str) -> str:
    """``json`` or ``xml`` from a resource suffix; anything else is a 400 (in JSON)."""
    fmt = suffix.lower()
    if fmt not in MEDIA_TYPES:
        raise Open311Error(
            400,
            f"不支持的格式“.{suffix[:20]}”：请使用 .json 或 .xml（unsupported format: use .json or .xml）",
            reason="unsupported_format",
        )
    return fmt


def format_of_path(path: str) -> str:
    """The format a response to ``path`` should have, for errors raised before the route knew it."""
    return "xml" if path.lower().endswith(".xml") else "json"


def _clean(text: str) -> str:
    return _NOT_XML.sub("", text)


def _fill(element: ET.Element, value: Any) -> None:
    if isinstance(value, dict):
        for key, child in value.items():
            _fill(ET.SubElement(element, key), child)
    elif isinstance(value, list | tuple):
        item = ITEM_NAMES.get(element.tag, "item")
        for child in value:
            _fill(ET.SubElement(element, item), child)
    elif isinstance(value, bool):
        element.text = "true" if value else "false"
    elif value is not None:
        element.text = _clean(str(value))


def xml_document(root: str, value: Any) -> bytes:
    element = ET.Element(root)
    _fill(element, value)
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(element, encoding="unicode").encode()


def json_document(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def render(
    value: Any,
    fmt: str,
    *,
    root: str,
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    """``value`` (a list, or a dict for a service definition) in ``fmt``; ``root`` names the XML root."""
    body = xml_document(root, value) if fmt == "xml" else json_document(value)
    return Response(content=body, status_code=status, media_type=MEDIA_TYPES[fmt], headers=headers)


def error_response(error: Open311Error, fmt: str) -> Response:
    return render(error.errors, fmt, root="errors", status=error.status, headers=error.headers)
