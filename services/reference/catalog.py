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
        deps = await conn.fetch("SELECT code, name, level FROM departments")
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
            departments={r["code"]: Department(r["code"], r["name"], r["level"]) for r in deps},
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
    """A Catalog refreshed at most every ``ttl_s`` seconds."""

    def __init__(self, pool: asyncpg.Pool, ttl_s: float = 5.0) -> None:
        self.pool = pool
        self.ttl_s = ttl_s
        self._catalog: Catalog | None = None
        self._loaded_at = 0.0
        self._lock = asyncio.Lock()

    def invalidate(self) -> None:
        """After this process changed reference data: the next read loads it (others wait out the TTL)."""
        self._loaded_at = 0.0

    async def get(self) -> Catalog:
        if self._catalog is not None and time.monotonic() - self._loaded_at < self.ttl_s:
            return self._catalog
        async with self._lock:
            if self._catalog is None or time.monotonic() - self._loaded_at >= self.ttl_s:
                self._catalog = await Catalog.load(self.pool)
                self._loaded_at = time.monotonic()
        return self._catalog
