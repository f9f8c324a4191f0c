"""Reading what a channel sent, defensively: JSON that is too deep, text PostgreSQL can't store (NUL) or
UTF-8 can't carry (lone surrogates) are the sender's problem, answered with a 4xx, never a 500."""

from __future__ import annotations

import json
from typing import Any

MAX_DEPTH = 32  # no report is nested deeper; json.loads recurses and a deep body is an attack


class Undecodable(ValueError):
    """The body can't be taken as JSON (``reason`` is Chinese, for the sender)."""

    def __init__(self, reason: str, field: str = "body") -> None:
        super().__init__(reason)
        self.reason = reason
        self.field = field


def decode_json(body: bytes) -> Any:
    try:
        decoded = json.loads(body)
    except RecursionError:
        raise Undecodable("JSON嵌套层级过深") from None
    except (ValueError, UnicodeDecodeError):
        raise Undecodable("请求体不是合法的JSON") from None
    check_text(decoded)
    return decoded


def check_text(value: Any, path: str = "", depth: int = 0) -> None:
    """Raise :class:`Undecodable` naming the field when a string holds NUL or a lone surrogate, or the
    value nests deeper than :data:`MAX_DEPTH`."""
    if depth > MAX_DEPTH:
        raise Undecodable("JSON嵌套层级过深", path or "body")
    if isinstance(value, str):
        if "\x00" in value or any(0xD800 <= ord(ch) <= 0xDFFF for ch in value):
            raise Undecodable("含有无法保存的字符（如 \\u0000 或不成对的代理字符）", path or "body")
    elif isinstance(value, dict):
        for key, item in value.items():
            check_text(key, path or "body", depth + 1)
            check_text(item, f"{path}.{key}" if path else str(key), depth + 1)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            check_text(item, f"{path}.{i}" if path else str(i), depth + 1)
