"""HTTP API contracts: what intake accepts and what the read API answers."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class Channel(StrEnum):
    APP = "app"
    WECHAT = "wechat"
    HOTLINE = "hotline"
    OPERATOR = "operator"
    OPEN311 = "open311"
    SUPERIOR = "superior"  # 上级交办: tasks handed down from the city or the district, entered by operators


CHANNEL_LABELS: dict[Channel, str] = {
    Channel.APP: "网格员App",
    Channel.WECHAT: "微信公众号",
    Channel.HOTLINE: "12345热线",
    Channel.OPERATOR: "指挥中心录入",
    Channel.OPEN311: "Open311",
    Channel.SUPERIOR: "上级交办",
}


class Urgency(StrEnum):
    NORMAL = "normal"
    URGENT = "urgent"
    EMERGENCY = "emergency"


# Urgency only ever goes up: a resident's "emergency" is not lowered to a category's default.
URGENCY_RANK: dict[str, int] = {"normal": 0, "urgent": 1, "emergency": 2}

URGENCY_LABELS: dict[Urgency, str] = {
    Urgency.NORMAL: "一般",
    Urgency.URGENT: "紧急",
    Urgency.EMERGENCY: "特急",
}


class Location(BaseModel):
    model_config = ConfigDict(extra="forbid")

    lat: float = Field(ge=-90, le=90, allow_inf_nan=False)
    lon: float = Field(ge=-180, le=180, allow_inf_nan=False)
    crs: Literal["wgs84", "gcj02", "bd09"] = "wgs84"  # GPS, Chinese web maps and WeChat, Baidu


class Reporter(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, max_length=50)
    phone: str | None = Field(default=None, pattern=r"^\+?[0-9][0-9\- ]{4,19}$")
    id_number: str | None = Field(default=None, pattern=r"^[0-9]{17}[0-9Xx]$", description="身份证号")


class HandedDown(BaseModel):
    """A task handed down from above (上级交办): who sent it, its document number, its deadline."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    from_unit: str = Field(min_length=2, max_length=100, description="交办单位，如 市12345热线办、区委督查室")
    document_no: str | None = Field(default=None, max_length=100, description="交办单号/文号")
    deadline: datetime | None = Field(default=None, description="交办单位要求的办结时限")
    requirements: str | None = Field(default=None, max_length=1000, description="交办要求")


class ReportIn(BaseModel):
    """A report from any channel (POST /api/v1/reports)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    channel: Channel
    description: str = Field(min_length=2, max_length=4000)
    category_code: str | None = Field(default=None, pattern=r"^[0-9]{4}$")
    location: Location | None = None
    grid_code: str | None = Field(default=None, pattern=r"^[0-9]{20}$")
    address: str | None = Field(default=None, max_length=300)
    reporter: Reporter | None = None
    urgency: Urgency | None = None
    external_id: str | None = Field(default=None, min_length=1, max_length=128)
    handed_down: HandedDown | None = Field(default=None, description="channel superior only: 上级交办")

    @model_validator(mode="after")
    def handed_down_only_from_above(self) -> ReportIn:
        if (self.channel is Channel.SUPERIOR) != (self.handed_down is not None):
            raise ValueError("上级交办（channel superior）须填写 handed_down（交办单位等），其他渠道不能填写")
        return self

    @field_validator("description")
    @classmethod
    def description_has_content(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("description must not be blank")
        return v


class ReportAccepted(BaseModel):
    case_id: UUID
    case_no: str
    duplicate_of_request: bool = Field(
        default=False,
        description="True when this external_id was already taken in: the same case is returned",
    )


class ActionIn(BaseModel):
    """A department's or operator's action on a case (POST /api/v1/cases/{id}/actions).

    The actor is the signed-in identity; a body that names one is refused (unknown field)."""

    model_config = ConfigDict(extra="forbid")

    action: str
    note: str | None = Field(default=None, max_length=2000, description="The reason or result people read")
    department_code: str | None = Field(default=None, max_length=32, description="dispatch / redispatch")
    category_code: str | None = Field(
        default=None, pattern=r"^[0-9]{4}$", description="dispatch: picked or corrected"
    )
    due_at: datetime | None = Field(default=None, description="request_extension: the new deadline")
    original_case_id: UUID | None = Field(default=None, description="mark_duplicate: the original (并案)")
    photo_ids: list[UUID] = Field(default_factory=list, max_length=9, description="from POST /api/v1/photos")
    missing_assists_reason: str | None = Field(
        default=None, max_length=500, description="resolve: why now, though assisting parts are missing"
    )


class FieldError(BaseModel):
    field: str
    reason: str


class ErrorBody(BaseModel):
    error: str
    message: str
    fields: list[FieldError] = Field(default_factory=list)
    details: dict[str, Any] = Field(default_factory=dict)
