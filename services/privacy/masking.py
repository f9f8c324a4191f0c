"""Masking of residents' personal data (PIPL) for roles that do not need it in full."""

from __future__ import annotations

import re

_DIGITS = re.compile(r"\d")
# In free text: ID card numbers (18), mobile numbers (11, 1[3-9]…), landlines (0xx-xxxxxxxx).
_ID_IN_TEXT = re.compile(r"(?<![0-9])[1-9]\d{5}(?:19|20)\d{2}[01]\d[0-3]\d{4}[0-9Xx](?![0-9])")
_MOBILE_IN_TEXT = re.compile(r"(?<![0-9])(?:\+?86[- ]?)?1[3-9]\d[- ]?\d{4}[- ]?\d{4}(?![0-9])")
_LANDLINE_IN_TEXT = re.compile(r"(?<![0-9])0\d{2,3}-\d{7,8}(?![0-9])")


def mask_phone(phone: str | None) -> str | None:
    """138****8000: keep the first 3 and last 4 digits."""
    if not phone:
        return phone
    digits = re.sub(r"\D", "", phone)
    if len(digits) == 13 and digits.startswith("86"):  # +86 country code before a mobile number
        digits = digits[2:]
    if len(digits) <= 7:
        return "*" * len(digits)
    return f"{digits[:3]}{'*' * (len(digits) - 7)}{digits[-4:]}"


def mask_name(name: str | None) -> str | None:
    """张* / 欧阳** : the family name only."""
    if not name:
        return name
    return name[0] + "*" * (len(name) - 1)


def mask_address(address: str | None) -> str | None:
    """Keep the area part (first 6 characters), hide the rest: building and door numbers identify people."""
    if not address:
        return address
    head = address[:6]
    return head + "****" if len(address) > 6 else _DIGITS.sub("*", head)


def mask_id_number(id_number: str | None) -> str | None:
    """110***********1234."""
    if not id_number:
        return id_number
    if len(id_number) <= 7:
        return "*" * len(id_number)
    return f"{id_number[:3]}{'*' * (len(id_number) - 7)}{id_number[-4:]}"


def mask_free_text(text: str | None) -> str | None:
    """Residents write their numbers into descriptions ("请回电13800138000"): mask those in place."""
    if not text:
        return text
    text = _ID_IN_TEXT.sub(lambda m: mask_id_number(m.group()) or "", text)
    text = _MOBILE_IN_TEXT.sub(lambda m: mask_phone(m.group()) or "", text)
    return _LANDLINE_IN_TEXT.sub(lambda m: m.group()[:4] + "****" + m.group()[-2:], text)
