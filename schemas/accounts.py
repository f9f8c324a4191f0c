"""HTTP contracts of sign-in, accounts and API tokens (names integrations and checks rely on)."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from schemas.api import Channel
from schemas.identity import Role

USERNAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{1,47}$"
AREA_CODE_PATTERN = r"^[0-9]{20}$"


class LoginIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str = Field(min_length=1, max_length=64)
    password: SecretStr = Field(min_length=1, max_length=256)


class UserOut(BaseModel):
    username: str | None
    display_name: str
    role: Role
    role_label: str
    unit: str
    department_code: str | None = None
    area_codes: list[str] = Field(default_factory=list)
    channel: str | None = None


class LoginOut(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_at: datetime
    user: UserOut


class SessionOut(BaseModel):
    """The console's sign-in: the token travels only in the HttpOnly cookie."""

    user: UserOut
    expires_at: datetime
    csrf_token: str


class MeOut(BaseModel):
    user: UserOut
    permissions: list[str]
    csrf_token: str | None = Field(default=None, description="Send as X-CSRF-Token with cookie sessions")
    expires_at: datetime | None = None


class UserIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    username: str = Field(pattern=USERNAME_PATTERN)
    password: SecretStr
    display_name: str = Field(min_length=1, max_length=50)
    role: Role
    department_code: str | None = Field(default=None, max_length=32)
    area_codes: list[str] = Field(default_factory=list, max_length=200)
    channel: Channel | None = None  # feed accounts only


class UserRecord(BaseModel):
    username: str
    display_name: str
    role: Role
    role_label: str
    department_code: str | None
    area_codes: list[str]
    channel: str | None
    disabled: bool
    locked_until: datetime | None
    failed_logins: int
    last_login_at: datetime | None
    created_at: datetime


class PasswordIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    password: SecretStr


class TokenIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=80)
    role: Role
    channel: Channel | None = None
    department_code: str | None = Field(default=None, max_length=32)
    area_codes: list[str] = Field(default_factory=list, max_length=200)
    expires_at: datetime | None = None


class TokenRecord(BaseModel):
    id: UUID
    name: str
    prefix: str
    role: Role
    channel: str | None
    department_code: str | None
    area_codes: list[str]
    created_by: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None


class TokenCreated(TokenRecord):
    token: str = Field(description="Shown once: store it now; only its hash is kept")


class RevealIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    reason: str = Field(min_length=2, max_length=200, description="Why you need the contact data (audited)")
