"""In-memory view of the reference data (categories, departments, the area tree and grid polygons).

Services route and label thousands of events a second; they read this snapshot and refresh it
every few seconds instead of querying the reference tables per event.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

import asyncpg

from services.geo.grid_index import GridIndex
from services.matrix import repository as matrix_repository
from services.matrix.rules import Matrix, Rule


@dataclass(frozen=True, slots=True)
class Category:
    code: str
    name: str
    kind: str
    department_code: str | None  # district-wide default; area rules of the matrix may override
    assist: tuple[str, ...]
    level: str
    urgency: str
    sign_limit: str
    handle_limit: str
    must_report: bool


@dataclass(frozen=True, slots=True)
class Department:
    code: str
    name: str
    level: str
    office_hours: str | None = None  # None: the deployment's default


@dataclass(frozen=True, slots=True)
class Area:
    code: str
    name: str
    level: str
    parent_code: str | None
    worker: str | None


@dataclass(frozen=True)
class Catalog:
    categories: dict[str, Category]
    departments: dict[str, Department]
    areas: dict[str, Area]
    grids: GridIndex
    rules: tuple[Rule, ...] = ()  # the matrix's area rules
    matrix: Matrix = field(init=False)

    def __post_init__(self) -> None:
        # The matrix reads the same categories and areas: built here, never out of step with them.
        object.__setattr__(
            self, "matrix", Matrix.of(self.categories.values(), self.areas.values(), self.rules)
        )

    @classmethod
    async def load(cls, conn: asyncpg.Connection | asyncpg.Pool) -> Catalog:
        cats = await conn.fetch("SELECT * FROM categories")
        deps = await conn.fetch("SELECT code, name, level, office_hours FROM departments")
        areas = await conn.fetch("SELECT code, name, level, parent_code, worker, geometry FROM areas")
        rules = await matrix_repository.fetch_rules(conn)
        return cls(
            categories={
                r["code"]: Category(
                    code=r["code"],
                    name=r["name"],
                    kind=r["kind"],
                    department_code=r["department_code"],
                    assist=tuple(r["assist"] or ()),
                    level=r["level"],
                    urgency=r["urgency"],
                    sign_limit=r["sign_limit"],
                    handle_limit=r["handle_limit"],
                    must_report=r["must_report"],
                )
                for r in cats
            },
            departments={
                r["code"]: Department(r["code"], r["name"], r["level"], r["office_hours"]) for r in deps
            },
            areas={
                r["code"]: Area(r["code"], r["name"], r["level"], r["parent_code"], r["worker"])
                for r in areas
            },
            grids=GridIndex((r["code"], r["geometry"]) for r in areas if r["level"] == "grid"),
            rules=tuple(matrix_repository.to_rule(r) for r in rules),
        )

    def area_name(self, code: str | None) -> str | None:
        area = self.areas.get(code) if code else None
        return area.name if area else None

    def grids_under(self, codes: list[str] | tuple[str, ...]) -> frozenset[str]:
        """Every grid inside the given areas (a grid counts as inside itself); unknown codes add none."""
        wanted = set(codes)
        grids = set()
        for area in self.areas.values():
            if area.level != "grid":
                continue
            node: Area | None = area
            while node is not None:
                if node.code in wanted:
                    grids.add(area.code)
                    break
                node = self.areas.get(node.parent_code) if node.parent_code else None
        return frozenset(grids)


class CatalogCache:
    """The Catalog, checked every ``ttl_s`` seconds and reloaded only when the reference data changed.

    Building it costs (a spatial index over every grid, the matrix); checking costs one row: a
    statement trigger on the reference tables bumps ``reference_version`` (migration 0007).
    """

    def __init__(self, pool: asyncpg.Pool, ttl_s: float = 1.0) -> None:
        self.pool = pool
        self.ttl_s = ttl_s
        self._catalog: Catalog | None = None
        self._version: int | None = None
        self._checked_at = 0.0
        self._lock = asyncio.Lock()
        self.loads = 0  # how many times it was built (tests and metrics read it)

    def invalidate(self) -> None:
        """After this process changed reference data: the next read checks at once."""
        self._checked_at = 0.0

    async def get(self) -> Catalog:
        if self._catalog is not None and time.monotonic() - self._checked_at < self.ttl_s:
            return self._catalog
        async with self._lock:
            if self._catalog is None or time.monotonic() - self._checked_at >= self.ttl_s:
                version = await self.pool.fetchval("SELECT version FROM reference_version WHERE id = 1")
                if self._catalog is None or version != self._version:
                    async with self.pool.acquire() as conn, conn.transaction(isolation="repeatable_read"):
                        # The version and the data from one snapshot: a change in between is seen next time.
                        version = await conn.fetchval("SELECT version FROM reference_version WHERE id = 1")
                        self._catalog = await Catalog.load(conn)
                    self._version = version
                    self.loads += 1
                self._checked_at = time.monotonic()
        return self._catalog
