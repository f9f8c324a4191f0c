"""Who gets a dispatched case, from the matrix: the lead and assisting departments, the level and time
limits, and who works it first (小事不出网格). One function for automatic dispatch and for operators."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from services.matrix.rules import DEPARTMENT_STAGE, Responsibility, Stage, first_stage
from services.reference.catalog import Catalog


@dataclass(frozen=True, slots=True)
class Assignment:
    department_code: str
    assist: tuple[str, ...]
    level: str | None  # None (and no limits) when the case has no category
    sign_limit: str | None
    handle_limit: str | None
    stage: Stage
    rule_area_code: str | None  # the area rule that decided; None: the category's default

    def updates(self) -> dict[str, Any]:
        """Columns of the case row."""
        return {
            "department_code": self.department_code,
            "assist_department_codes": list(self.assist),
            "level": self.level,
            "sign_limit": self.sign_limit,
            "handle_limit": self.handle_limit,
            "handler_level": self.stage.level,
            "handler_area_codes": list(self.stage.area_codes) or None,
        }

    def payload(self, catalog: Catalog) -> dict[str, Any]:
        """What the timeline says (names as people read them)."""
        out: dict[str, Any] = {
            "department_code": self.department_code,
            "department_name": catalog.departments[self.department_code].name,
            "level": self.level,
            "sign_limit": self.sign_limit,
            "handle_limit": self.handle_limit,
            "handler_level": self.stage.level,
            "handler_label": self._handler_label(catalog),
            "matrix_rule": catalog.area_name(self.rule_area_code) or "类别默认",
        }
        if self.assist:
            out["assist_departments"] = [catalog.departments[d].name for d in self.assist]
        return out

    def _handler_label(self, catalog: Catalog) -> str:
        if self.stage.level is None:
            return catalog.departments[self.department_code].name
        return f"{catalog.area_name(self.stage.area_codes[0])}（{self.stage.label}先行处置）"


def assign(
    catalog: Catalog,
    *,
    category_code: str | None,
    grid_code: str | None,
    department_code: str | None = None,
    local_first: bool = True,
) -> Assignment | None:
    """The matrix's answer for the category at the grid. A department named by an operator overrides
    the lead; then that department handles directly. Without ``local_first`` (a grid or community
    handing the case over) the department takes it. None when no lead department can be found."""
    found: Responsibility | None = catalog.matrix.resolve(category_code, grid_code) if category_code else None
    lead = department_code or (found.department_code if found else None)
    if lead is None or lead not in catalog.departments:
        return None
    if found is None:  # no category: the operator named the department, nothing else is known
        return Assignment(lead, (), None, None, None, DEPARTMENT_STAGE, None)
    stage = DEPARTMENT_STAGE
    if local_first and grid_code and (department_code is None or department_code == found.department_code):
        stage = first_stage(catalog.matrix, found, grid_code, catalog.departments[lead].level)
    # Assisting departments join when a department works the case, not while the grid tries first.
    assist = () if stage.level else tuple(d for d in found.assist if d != lead and d in catalog.departments)
    return Assignment(
        department_code=lead,
        assist=assist,
        level=found.level,
        sign_limit=found.sign_limit,
        handle_limit=found.handle_limit,
        stage=stage,
        rule_area_code=found.rule_area_code,
    )
