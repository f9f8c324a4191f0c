"""The grid registry: check a GeoJSON FeatureCollection of areas and import it into ``areas``.

The file holds the area tree district → street → community → grid, one Feature per area, with
properties ``code``, ``name``, ``level``, ``parent_code`` (null for the district) and, optionally,
``worker``. Codes follow the CJ/T 349 layout of the demo district (see
services/reference/build_demo_district.py): 20 digits, a 12-digit district prefix (object type and
GB/T 2260 code), then street (3), community (3) and grid serial (2); a parent's unused positions are
zeros, so each level's code extends its parent's prefix.

``check`` finds, with codes and names:

errors (import refuses them)
  bad_code, duplicate_code, bad_level, missing_name, unknown_parent, level_order, code_prefix,
  invalid_geometry (shapely ``is_valid`` / ``explain_validity``; also a grid with no polygon),
  overlap (two grids sharing more than ``area_tolerance_m2``).
warnings (import goes ahead)
  gap (part of a community covered by none of its grids), outside_parent (part of a grid outside its
  community), no_geometry (a district, street or community without a polygon).

``import_areas`` upserts by code (idempotent: the same file twice changes nothing) and leaves areas
missing from the file alone; cases refer to them.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

LEVELS = ("district", "street", "community", "grid")
LEVEL_RANK = {level: i for i, level in enumerate(LEVELS)}
#: How many leading digits of a code identify an area of each level (the rest are zeros).
PREFIX_LEN = {"district": 12, "street": 15, "community": 18, "grid": 20}
#: Overlaps and gaps smaller than this (square metres) are drawing noise, not problems.
DEFAULT_AREA_TOLERANCE_M2 = 1.0
#: Errors ``--force`` may override: the geometry is wrong but the tree is sound.
GEOMETRY_KINDS = frozenset({"invalid_geometry", "overlap"})

M_PER_DEG = 111_320.0


@dataclass(frozen=True)
class Issue:
    severity: str  # error | warning
    kind: str
    codes: tuple[str, ...]
    message: str

    def line(self) -> str:
        return f"{self.severity.upper():7} {self.kind:16} {self.message}"


@dataclass(frozen=True)
class Area:
    code: str
    name: str
    level: str
    parent_code: str | None
    geometry: dict[str, Any] | None
    worker: str | None = None


@dataclass
class Report:
    areas: list[Area]
    issues: list[Issue] = field(default_factory=list)

    @property
    def errors(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == "error"]

    @property
    def warnings(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == "warning"]

    @property
    def ok(self) -> bool:
        return not self.errors

    def kinds(self) -> Counter[str]:
        return Counter(i.kind for i in self.issues)

    def blocking(self, *, force: bool = False) -> list[Issue]:
        """The errors that stop an import (with ``force``, only those that break the area tree)."""
        return [i for i in self.errors if not (force and i.kind in GEOMETRY_KINDS)]

    def format(self) -> str:
        levels = Counter(a.level for a in self.areas)
        plural = {"district": "districts", "street": "streets", "community": "communities", "grid": "grids"}
        counts = ", ".join(f"{levels[lv]} {lv if levels[lv] == 1 else plural[lv]}" for lv in LEVELS)
        lines = [f"{len(self.areas)} areas: {counts}"]
        lines += [i.line() for i in self.issues]
        lines.append(f"{len(self.errors)} error(s), {len(self.warnings)} warning(s)")
        return "\n".join(lines)


def _label(area: Area) -> str:
    return f"{area.code} {area.name}"


def parse(collection: Mapping[str, Any]) -> tuple[list[Area], list[Issue]]:
    """The areas of a FeatureCollection, and the issues found reading it (bad shapes of the data)."""
    issues: list[Issue] = []
    if collection.get("type") != "FeatureCollection" or not isinstance(collection.get("features"), list):
        return [], [Issue("error", "bad_file", (), "not a GeoJSON FeatureCollection")]
    areas = []
    for n, feature in enumerate(collection["features"], start=1):
        props = (feature or {}).get("properties") or {}
        code = str(props.get("code") or "").strip()
        if not code:
            issues.append(Issue("error", "bad_code", (), f"feature #{n} has no code"))
            continue
        parent = props.get("parent_code")
        areas.append(
            Area(
                code=code,
                name=str(props.get("name") or "").strip(),
                level=str(props.get("level") or "").strip(),
                parent_code=str(parent).strip() if parent else None,
                geometry=feature.get("geometry"),
                worker=props.get("worker"),
            )
        )
    return areas, issues


def load(path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return loaded


def _m2_per_deg2(lat: float) -> float:
    return M_PER_DEG * M_PER_DEG * math.cos(math.radians(lat))


def check(
    collection: Mapping[str, Any],
    *,
    known: Mapping[str, str] | None = None,
    area_tolerance_m2: float = DEFAULT_AREA_TOLERANCE_M2,
) -> Report:
    """Check a FeatureCollection of areas. ``known``: code → level of areas already stored, which
    may be parents of areas in the file (importing one community's grids on its own)."""
    areas, issues = parse(collection)
    report = Report(areas, issues)
    _check_tree(report, known or {})
    _check_geometry(report, area_tolerance_m2)
    return report


def _check_tree(report: Report, known: Mapping[str, str]) -> None:
    add = report.issues.append
    counts = Counter(a.code for a in report.areas)
    for code, n in sorted(counts.items()):
        if n > 1:
            names = "、".join(a.name for a in report.areas if a.code == code)
            add(Issue("error", "duplicate_code", (code,), f"{code} is used by {n} areas ({names})"))
    levels = {a.code: a.level for a in report.areas}
    for a in report.areas:
        if not (a.code.isascii() and a.code.isdigit() and len(a.code) == 20):
            add(Issue("error", "bad_code", (a.code,), f"{_label(a)}: code must be 20 digits"))
        if not a.name:
            add(Issue("error", "missing_name", (a.code,), f"{a.code}: no name"))
        if a.level not in LEVEL_RANK:
            add(Issue("error", "bad_level", (a.code,), f"{_label(a)}: unknown level {a.level!r}"))
            continue
        if a.code.isdigit() and len(a.code) == 20 and a.code[PREFIX_LEN[a.level] :].strip("0"):
            add(
                Issue(
                    "error",
                    "code_prefix",
                    (a.code,),
                    f"{_label(a)}: a {a.level} code ends in {20 - PREFIX_LEN[a.level]} zeros",
                )
            )
        if a.parent_code is None:
            if a.level != "district":
                add(Issue("error", "unknown_parent", (a.code,), f"{_label(a)}: a {a.level} needs a parent"))
            continue
        parent_level = levels.get(a.parent_code) or known.get(a.parent_code)
        if parent_level is None:
            add(
                Issue(
                    "error",
                    "unknown_parent",
                    (a.code, a.parent_code),
                    f"{_label(a)}: parent {a.parent_code} is neither in the file nor stored",
                )
            )
            continue
        if parent_level not in LEVEL_RANK or LEVEL_RANK[parent_level] != LEVEL_RANK[a.level] - 1:
            expected = LEVELS[LEVEL_RANK[a.level] - 1] if a.level != "district" else "none"
            add(
                Issue(
                    "error",
                    "level_order",
                    (a.code, a.parent_code),
                    f"{_label(a)}: a {a.level} under {a.parent_code} ({parent_level}); expected parent: "
                    f"{expected}",
                )
            )
            continue
        n = PREFIX_LEN[parent_level]
        if a.code[:n] != a.parent_code[:n] or a.code == a.parent_code:
            add(
                Issue(
                    "error",
                    "code_prefix",
                    (a.code, a.parent_code),
                    f"{_label(a)}: code does not extend its parent's prefix {a.parent_code[:n]}",
                )
            )


def _check_geometry(report: Report, tolerance_m2: float) -> None:
    import numpy as np
    import shapely
    from shapely.geometry import shape
    from shapely.ops import unary_union
    from shapely.validation import explain_validity

    add = report.issues.append
    shapes: dict[str, Any] = {}
    by_code = {a.code: a for a in report.areas}
    for a in report.areas:
        if not a.geometry:
            if a.level == "grid":
                add(Issue("error", "invalid_geometry", (a.code,), f"{_label(a)}: a grid needs a polygon"))
            elif a.level in LEVEL_RANK:
                add(Issue("warning", "no_geometry", (a.code,), f"{_label(a)}: no polygon"))
            continue
        try:
            geom = shape(a.geometry)
        except (ValueError, TypeError, AttributeError, KeyError, shapely.errors.GEOSException) as exc:
            add(Issue("error", "invalid_geometry", (a.code,), f"{_label(a)}: unreadable geometry ({exc})"))
            continue
        if geom.geom_type not in ("Polygon", "MultiPolygon") or geom.is_empty:
            add(
                Issue(
                    "error",
                    "invalid_geometry",
                    (a.code,),
                    f"{_label(a)}: {geom.geom_type} is not a (non-empty) polygon",
                )
            )
            continue
        if not geom.is_valid:
            add(Issue("error", "invalid_geometry", (a.code,), f"{_label(a)}: {explain_validity(geom)}"))
            geom = shapely.make_valid(geom)  # still compare it, as the index will use it
        shapes[a.code] = geom

    grid_codes = sorted(c for c, g in shapes.items() if by_code[c].level == "grid")
    if grid_codes:
        lat = float(np.mean([shapes[c].centroid.y for c in grid_codes]))
        scale = _m2_per_deg2(lat)
        geoms = np.array([shapes[c] for c in grid_codes], dtype=object)
        tree = shapely.STRtree(geoms)
        left, right = tree.query(geoms, predicate="intersects")
        for i, j in zip(left.tolist(), right.tolist(), strict=True):
            if i >= j:
                continue
            m2 = geoms[i].intersection(geoms[j]).area * scale
            if m2 > tolerance_m2:
                a, b = by_code[grid_codes[i]], by_code[grid_codes[j]]
                add(
                    Issue(
                        "error",
                        "overlap",
                        (a.code, b.code),
                        f"{_label(a)} and {_label(b)} overlap by {m2:,.1f} m²",
                    )
                )

    for community in sorted(c for c, g in shapes.items() if by_code[c].level == "community"):
        mine = [c for c in grid_codes if by_code[c].parent_code == community]
        area = by_code[community]
        geom = shapes[community]
        scale = _m2_per_deg2(geom.centroid.y)
        covered = unary_union([shapes[c] for c in mine]) if mine else None
        missing = geom if covered is None else geom.difference(covered)
        m2 = missing.area * scale
        if m2 > tolerance_m2:
            where = missing.representative_point()
            add(
                Issue(
                    "warning",
                    "gap",
                    (community,),
                    f"{_label(area)}: {m2:,.1f} m² not covered by any of its {len(mine)} grid(s), "
                    f"e.g. at {where.x:.6f},{where.y:.6f}",
                )
            )
        for c in mine:
            outside = shapes[c].difference(geom).area * scale
            if outside > tolerance_m2:
                add(
                    Issue(
                        "warning",
                        "outside_parent",
                        (c, community),
                        f"{_label(by_code[c])}: {outside:,.1f} m² lie outside its community {_label(area)}",
                    )
                )


def parents_first(areas: Iterable[Area]) -> list[Area]:
    return sorted(areas, key=lambda a: (LEVEL_RANK.get(a.level, 9), a.code))


@dataclass(frozen=True)
class ImportResult:
    added: int
    changed: int
    unchanged: int


async def known_areas(conn: Any) -> dict[str, str]:
    rows = await conn.fetch("SELECT code, level FROM areas")
    return {r["code"]: r["level"] for r in rows}


async def import_areas(conn: Any, areas: Iterable[Area]) -> ImportResult:
    """Upsert the areas by code, parents first, in one transaction; only rows that differ are
    written, so importing the same file again changes nothing."""
    ordered = parents_first(areas)
    async with conn.transaction():
        rows = await conn.fetch("SELECT code, name, level, parent_code, geometry, worker FROM areas")
        stored = {r["code"]: r for r in rows}
        added = changed = 0
        todo = []
        for a in ordered:
            row = stored.get(a.code)
            if row is not None and (
                row["name"],
                row["level"],
                row["parent_code"],
                _json(row["geometry"]),
                row["worker"],
            ) == (a.name, a.level, a.parent_code, a.geometry, a.worker):
                continue
            if row is None:
                added += 1
            else:
                changed += 1
            todo.append((a.code, a.name, a.level, a.parent_code, a.geometry, a.worker))
        if todo:
            await conn.executemany(
                "INSERT INTO areas (code, name, level, parent_code, geometry, worker) "
                "VALUES ($1, $2, $3, $4, $5, $6) "
                "ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name, level = EXCLUDED.level, "
                "parent_code = EXCLUDED.parent_code, geometry = EXCLUDED.geometry, "
                "worker = EXCLUDED.worker, updated_at = now()",
                todo,
            )
    return ImportResult(added=added, changed=changed, unchanged=len(ordered) - added - changed)


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value
