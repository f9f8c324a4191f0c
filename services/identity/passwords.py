"""Password hashing (argon2id, argon2-cffi) and the password rules people are told about."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_HASHER = PasswordHasher()  # argon2id with the library's current recommended parameters
# Verified against when the username is unknown, so both answers take the same time.
_DUMMY_HASH = _HASHER.hash("gridcase-no-such-user")

MIN_LENGTH = 8
MAX_LENGTH = 128


class WeakPassword(ValueError):
    """A password the rules refuse; ``reason`` is Chinese."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def check_rules(password: str) -> None:
    if len(password) < MIN_LENGTH:
        raise WeakPassword(f"密码至少需要{MIN_LENGTH}个字符")
    if len(password) > MAX_LENGTH:
        raise WeakPassword(f"密码不能超过{MAX_LENGTH}个字符")
    kinds = sum(
        (
            any(c.isdigit() for c in password),
            any(c.isalpha() for c in password),
            any(not c.isalnum() for c in password),
        )
    )
    if kinds < 2:
        raise WeakPassword("密码需包含字母、数字、符号中的至少两类")


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """True if ``password`` matches; with no hash (unknown user) spends the same time and says no."""
    try:
        return _HASHER.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _HASHER.check_needs_rehash(password_hash)
