"""Bearer tokens: random, shown to their holder once, stored only as SHA-256.

A token's prefix says what it is (``gcs_`` a sign-in session, ``gct_`` an API token), so a leaked
one is recognisable and log redaction can find it. SHA-256 is enough for 256-bit random secrets
(no password hash per request): checking a token costs microseconds.
"""

from __future__ import annotations

import hashlib
import secrets

SESSION_PREFIX = "gcs_"
API_TOKEN_PREFIX = "gct_"


def new_token(prefix: str) -> str:
    return prefix + secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def display_prefix(token: str) -> str:
    """What a list may show to recognise a token: the kind and four characters."""
    return token[:8] + "…"


def new_csrf_token() -> str:
    return secrets.token_urlsafe(24)
