"""HTTP contract of the responsibility matrix (权责清单): rules in, rows and check results out."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from schemas.accounts import AREA_CODE_PATTERN
from schemas.levels import Level

LIMIT_PATTERN = r"^\s*\d+(\.\d+)?\s*(s|m|h|wh|wd)\s*$"


class RuleIn(BaseModel):
    """One rule. Without ``area_code`` it is the category's district-wide default (which must name a
    lead department); with one, it overrides the default inside that area, and a field left empty
    falls back to the default."""

    model_config = ConfigDict(extra="forbid")

    category_code: str = Field(min_length=1, max_length=16)
    area_code: str | None = Field(default=None, pattern=AREA_CODE_PATTERN)
    department_code: str | None = Field(default=None, min_length=1, max_length=32)
    assist: list[str] | None = Field(default=None, max_length=10)
    level: Level | None = None
    sign_limit: str | None = Field(default=None, pattern=LIMIT_PATTERN)
    handle_limit: str | None = Field(default=None, pattern=LIMIT_PATTERN)
    note: str | None = Field(default=None, max_length=500)


class RuleOut(BaseModel):
    id: int | None  # None: the category's own row
    category_code: str
    category_name: str
    area_code: str | None
    area_name: str  # 全区（类别默认） for the default
    area_level: str | None
    department_code: str | None
    department_name: str | None
    assist: list[str] | None
    assist_names: list[str]
    level: str | None
    level_label: str | None
    sign_limit: str | None
    handle_limit: str | None
    note: str | None = None
    updated_by: str | None = None
    updated_at: datetime | None = None


class ResolvedOut(BaseModel):
    """What the matrix says for a category at a grid: who leads, who assists, who tries first."""

    category_code: str
    grid_code: str | None
    department_code: str | None
    department_name: str | None
    assist: list[str]
    level: str
    level_label: str
    sign_limit: str
    handle_limit: str
    first_handler: str | None  # grid | community | None (the department directly)
    first_handler_label: str
    rule_area_code: str | None
    rule_area_name: str  # 类别默认 when no area rule applied


class ProblemOut(BaseModel):
    severity: str
    message: str
    category_code: str | None = None
    area_code: str | None = None


class CheckOut(BaseModel):
    ok: bool
    problems: list[ProblemOut]
