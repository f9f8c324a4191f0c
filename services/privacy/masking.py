"""Masking of residents' personal data (PIPL) for roles that do not need it in full."""

from __future__ import annotations

import re

_DIGITS = re.compile(r"\d")


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
