"""HTTP contract of the grid worker's app (网格员“社区通”): a report from the street, the daily check-in."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict, Field, field_validator

from schemas.api import Urgency

CRS = ("wgs84", "gcj02", "bd09")


class AppReportIn(BaseModel):
    """The form fields of ``POST /api/v1/app/reports`` (multipart, with up to 9 photos in ``photos``)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    description: str = Field(min_length=2, max_length=4000)
    category_code: str | None = Field(default=None, pattern=r"^[0-9]{4}$")
    grid_code: str | None = Field(default=None, pattern=r"^[0-9]{20}$")
    lat: float | None = Field(default=None, ge=-90, le=90, allow_inf_nan=False)
    lon: float | None = Field(default=None, ge=-180, le=180, allow_inf_nan=False)
    accuracy_m: float | None = Field(
        default=None, ge=0, le=100_000, allow_inf_nan=False, description="GPS accuracy (metres)"
    )
    crs: str = Field(default="wgs84", description="wgs84 (GPS), gcj02 (高德/腾讯/微信) or bd09 (百度)")
    urgency: Urgency | None = None
    address: str | None = Field(default=None, max_length=300)
    external_id: str | None = Field(
        default=None, min_length=1, max_length=128, description="the app's id: retries give one case"
    )

    @field_validator("crs")
    @classmethod
    def known_crs(cls, v: str) -> str:
        if v.lower() not in CRS:
            raise ValueError(f"crs must be one of {', '.join(CRS)}")
        return v.lower()

    @field_validator("description")
    @classmethod
    def has_content(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("description must not be blank")
        return v


class CheckinIn(BaseModel):
    """零上报: nothing to report in this grid today."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    grid_code: str | None = Field(
        default=None, pattern=r"^[0-9]{20}$", description="default: the worker's one grid"
    )
    note: str | None = Field(default=None, max_length=500)


class CheckinOut(BaseModel):
    grid_code: str
    grid_name: str | None
    day: date
    recorded: bool  # False: this worker had checked in for this grid today already


class GridActivity(BaseModel):
    grid_code: str
    grid_name: str
    worker: str | None
    reports: int
    checkins: int
    silent: bool  # neither a report nor a check-in


class ActivityOut(BaseModel):
    day: date
    grids: list[GridActivity]
    silent: int
