"""Where a case goes: its grid (given, or found from the location) and who is responsible there,
from the responsibility matrix (category × area). Pure: no I/O, easy to test.
"""

from __future__ import annotations

from dataclasses import dataclass

from schemas.triage import TRIAGE_LABELS, TriageReason
from services.matrix.assignment import Assignment, assign
from services.reference.catalog import Catalog, Category

# Categories the command centre always triages by hand (99 其他).
OPERATOR_CATEGORIES = frozenset({"9999"})


@dataclass(frozen=True, slots=True)
class Route:
    grid_code: str
    category: Category
    assignment: Assignment
    routed_by: str  # grid_code | location

    @property
    def department_code(self) -> str:
        return self.assignment.department_code


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
    assignment = assign(catalog, category_code=category.code, grid_code=grid_code)
    if assignment is None:
        return Triage(TriageReason.UNKNOWN_DEPARTMENT, grid_code)
    return Route(grid_code=grid_code, category=category, assignment=assignment, routed_by=routed_by)
