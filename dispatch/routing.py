"""Where a case goes: its grid (given, or found from the location) and the responsible department
from the responsibility matrix (the category table). Pure: no I/O, easy to test.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from services.reference.catalog import Catalog, Category


class TriageReason(StrEnum):
    UNKNOWN_GRID = "unknown_grid"
    OUTSIDE_GRIDS = "outside_grids"
    NO_LOCATION = "no_location"
    NO_CATEGORY = "no_category"
    UNKNOWN_CATEGORY = "unknown_category"
    NEEDS_OPERATOR = "needs_operator"
    UNKNOWN_DEPARTMENT = "unknown_department"


TRIAGE_LABELS: dict[TriageReason, str] = {
    TriageReason.UNKNOWN_GRID: "网格编码不存在，需人工核实位置",
    TriageReason.OUTSIDE_GRIDS: "上报位置不在本区任何网格内，需人工核实",
    TriageReason.NO_LOCATION: "未提供网格编码或位置，需人工定位",
    TriageReason.NO_CATEGORY: "未指定案件类别，需人工分类",
    TriageReason.UNKNOWN_CATEGORY: "案件类别编码不存在，需人工分类",
    TriageReason.NEEDS_OPERATOR: "“其他”类案件由指挥中心人工分拣",
    TriageReason.UNKNOWN_DEPARTMENT: "责任矩阵中的责任部门不存在，需人工派遣",
}

# Categories the command centre always triages by hand (99 其他).
OPERATOR_CATEGORIES = frozenset({"9999"})


@dataclass(frozen=True, slots=True)
class Route:
    grid_code: str
    category: Category
    department_code: str
    routed_by: str  # grid_code | location


@dataclass(frozen=True, slots=True)
class Triage:
    reason: TriageReason
    grid_code: str | None = None

    @property
    def label(self) -> str:
        return TRIAGE_LABELS[self.reason]


def route(
    catalog: Catalog,
    *,
    category_code: str | None,
    grid_code: str | None,
    lon: float | None,
    lat: float | None,
) -> Route | Triage:
    if grid_code:
        area = catalog.areas.get(grid_code)
        if area is None or area.level != "grid":
            return Triage(TriageReason.UNKNOWN_GRID)
        routed_by = "grid_code"
    elif lon is not None and lat is not None:
        grid_code = catalog.grids.locate(lon, lat)
        if grid_code is None:
            return Triage(TriageReason.OUTSIDE_GRIDS)
        routed_by = "location"
    else:
        return Triage(TriageReason.NO_LOCATION)
    if not category_code:
        return Triage(TriageReason.NO_CATEGORY, grid_code)
    category = catalog.categories.get(category_code)
    if category is None:
        return Triage(TriageReason.UNKNOWN_CATEGORY, grid_code)
    if category.code in OPERATOR_CATEGORIES:
        return Triage(TriageReason.NEEDS_OPERATOR, grid_code)
    if category.department_code not in catalog.departments:
        return Triage(TriageReason.UNKNOWN_DEPARTMENT, grid_code)
    return Route(
        grid_code=grid_code, category=category, department_code=category.department_code, routed_by=routed_by
    )
