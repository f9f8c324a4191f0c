"""Build the demo district reference data (``data/demo_district.geojson``).

The district is invented: 青禾区, with 2 streets (街道), 5 communities (社区) and
14 grids (网格). It sits around lon 120.15 / lat 30.27 (WGS-84) and covers
roughly 3 km x 3 km, bounded by a railway on the west and a river on the east.

How the geometry is made:

1. Everything is first drawn in a local metre frame (x east, y north, origin at
   the south-west corner of the design box). The district outline is split by
   road lines into streets, each street into communities and each community
   into grids (``shapely.ops.split``), so every level tiles its parent exactly.
2. The boundaries of all 14 grids are noded together, converted to lon/lat
   and rounded to 6 decimals, then polygonized. Because every shared vertex is
   the same rounded value on both sides, grids still tile exactly after the
   rounding, including across community and street borders.
3. Communities are the union of their grids, streets the union of their
   communities and the district the union of its streets.

Codes follow the CJ/T 349-2010 grid code layout, 20 digits::

    101001   330199   001     001        01
    |        |        |       |          +- grid serial (网格顺序码), 01.. in
    |        |        |       |             reading order: top to bottom,
    |        |        |       |             left to right; 00 for parents
    |        |        |       +- community (社区代码), 000 for street/district
    |        |        +- street (街道代码, GB/T 10114 style), 000 for district
    |        +- district administrative code (GB/T 2260 style, invented:
    |           330199 is not a real code)
    +- management/service object type code (CJ/T 348 style). We chose the
       fixed placeholder prefix 101001 for "community grid" for every level.

Run ``python -m services.reference.build_demo_district`` to rewrite the file.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from shapely.geometry import LineString, MultiPolygon, Point, Polygon, mapping
from shapely.geometry.polygon import orient
from shapely.ops import split, unary_union

OUTPUT_PATH = Path(__file__).resolve().parent / "data" / "demo_district.geojson"

#: CJ/T 348-style management object type code used as the 6-digit prefix.
OBJECT_TYPE_PREFIX = "101001"
#: Invented GB/T 2260-style county-level administrative code of 青禾区.
DISTRICT_ADMIN_CODE = "330199"

#: Centre of the design box (WGS-84).
CENTER_LON = 120.15
CENTER_LAT = 30.27
#: Size of the design box in metres; the design coordinates run 0..BOX_M.
BOX_M = 3000.0

COORD_DECIMALS = 6

#: One interior point (lon, lat, WGS-84) per grid, keyed by grid code. Picked
#: with ``polygon.representative_point()`` on the final (rounded) grid polygons
#: and rounded to 6 decimals; ``main`` checks every point is strictly inside its
#: own grid and outside all the others. See ``pick_sample_points``.
SAMPLE_POINTS: dict[str, tuple[float, float]] = {
    "10100133019900100101": (120.139047, 30.281327),
    "10100133019900100102": (120.147248, 30.281674),
    "10100133019900100103": (120.139062, 30.277574),
    "10100133019900100104": (120.147206, 30.278106),
    "10100133019900100201": (120.137791, 30.272597),
    "10100133019900100202": (120.143014, 30.272514),
    "10100133019900100203": (120.14828, 30.270074),
    "10100133019900100301": (120.141081, 30.262392),
    "10100133019900100302": (120.145247, 30.259915),
    "10100133019900200101": (120.158516, 30.279858),
    "10100133019900200102": (120.157717, 30.273304),
    "10100133019900200201": (120.154312, 30.264213),
    "10100133019900200202": (120.161428, 30.26418),
    "10100133019900200203": (120.164138, 30.260269),
}


@dataclass(frozen=True)
class GridSpec:
    name_suffix: str
    worker: str
    anchor: tuple[float, float]  # design-frame point (metres) that lies inside the grid


@dataclass(frozen=True)
class CommunitySpec:
    name: str
    anchor: tuple[float, float]
    grid_lines: tuple[tuple[tuple[float, float], ...], ...]
    grids: tuple[GridSpec, ...]


@dataclass(frozen=True)
class StreetSpec:
    name: str
    anchor: tuple[float, float]
    community_lines: tuple[tuple[tuple[float, float], ...], ...]
    communities: tuple[CommunitySpec, ...]


@dataclass(frozen=True)
class Unit:
    """One administrative unit of the output, already in lon/lat."""

    code: str
    name: str
    level: str
    parent_code: str | None
    geometry: Polygon | MultiPolygon
    worker: str | None = None


DISTRICT_NAME = "青禾区"

_SERIALS = "一二三四五六七八九"


def _grid(n: int, worker: str, anchor: tuple[float, float]) -> GridSpec:
    return GridSpec(name_suffix=f"第{_SERIALS[n - 1]}网格", worker=worker, anchor=anchor)


# Streets in code order. Lines are design-frame polylines (metres) that cross
# the whole parent polygon; they are clipped by the split.
STREETS: tuple[StreetSpec, ...] = (
    StreetSpec(
        name="梅溪街道",
        anchor=(800.0, 1500.0),
        community_lines=(
            ((-200.0, 2060.0), (700.0, 2110.0), (1900.0, 1950.0)),  # 柳塘路
            ((-200.0, 1040.0), (820.0, 975.0), (1900.0, 1085.0)),  # 杏林路
        ),
        communities=(
            CommunitySpec(
                name="柳塘社区",
                anchor=(800.0, 2500.0),
                grid_lines=(
                    ((830.0, 1800.0), (790.0, 2500.0), (760.0, 3200.0)),
                    ((-200.0, 2430.0), (900.0, 2610.0), (1900.0, 2500.0)),
                ),
                grids=(
                    _grid(1, "陈晓燕", (400.0, 2800.0)),
                    _grid(2, "王建国", (1250.0, 2800.0)),
                    _grid(3, "李梅", (400.0, 2300.0)),
                    _grid(4, "张磊", (1250.0, 2300.0)),
                ),
            ),
            CommunitySpec(
                name="桂花苑社区",
                anchor=(800.0, 1500.0),
                grid_lines=(
                    ((540.0, 800.0), (560.0, 1500.0), (610.0, 2300.0)),
                    ((1160.0, 800.0), (1060.0, 1480.0), (1110.0, 2300.0)),
                ),
                grids=(
                    _grid(1, "刘海涛", (250.0, 1500.0)),
                    _grid(2, "周敏", (800.0, 1500.0)),
                    _grid(3, "吴志强", (1400.0, 1500.0)),
                ),
            ),
            CommunitySpec(
                name="杏林社区",
                anchor=(800.0, 500.0),
                grid_lines=(((-200.0, 180.0), (900.0, 520.0), (1900.0, 900.0)),),
                grids=(
                    _grid(1, "赵丽娟", (500.0, 700.0)),
                    _grid(2, "孙浩", (1100.0, 250.0)),
                ),
            ),
        ),
    ),
    StreetSpec(
        name="望江街道",
        anchor=(2400.0, 1500.0),
        community_lines=(((1400.0, 1520.0), (2300.0, 1590.0), (3400.0, 1440.0)),),  # 观澜路
        communities=(
            CommunitySpec(
                name="观澜社区",
                anchor=(2400.0, 2300.0),
                grid_lines=(((1400.0, 2330.0), (2350.0, 2210.0), (3400.0, 2380.0)),),
                grids=(
                    _grid(1, "胡静", (2400.0, 2700.0)),
                    _grid(2, "郑伟", (2400.0, 1900.0)),
                ),
            ),
            CommunitySpec(
                name="江滨社区",
                anchor=(2400.0, 800.0),
                grid_lines=(
                    ((2260.0, -200.0), (2200.0, 700.0), (2290.0, 1800.0)),
                    ((2350.0, -200.0), (2800.0, 560.0), (3400.0, 1100.0)),
                ),
                grids=(
                    _grid(1, "何婷", (1900.0, 800.0)),
                    _grid(2, "马俊", (2550.0, 1000.0)),
                    _grid(3, "林芳", (2800.0, 150.0)),
                ),
            ),
        ),
    ),
)


def _river_bank() -> list[tuple[float, float]]:
    """East boundary: a meandering river bank from south to north."""
    points: list[tuple[float, float]] = []
    steps = 20
    for i in range(steps + 1):
        y = 60.0 + (2950.0 - 60.0) * i / steps
        x = 2960.0 + 70.0 * math.sin(y / 3000.0 * 2.4 * math.pi) - 40.0 * math.sin(y / 3000.0 * math.pi)
        points.append((x, y))
    return points


def district_outline_m() -> Polygon:
    """The district outline in the design frame (metres)."""
    south_road = [(0.0, 80.0), (700.0, 30.0), (1400.0, 0.0)]
    river = _river_bank()
    north_road = [(2200.0, 3000.0), (1600.0, 3030.0), (900.0, 2990.0), (120.0, 2920.0)]
    railway = [(90.0, 2200.0), (60.0, 1500.0), (30.0, 800.0)]
    ring = south_road + river + north_road + railway
    poly = Polygon(ring)
    if not poly.is_valid:
        raise ValueError(f"district outline is invalid: {shapely.is_valid_reason(poly)}")
    return poly


def split_by_lines(poly: Polygon, lines: Sequence[Sequence[tuple[float, float]]]) -> list[Polygon]:
    """Split ``poly`` by each line in turn; every piece is split by every line."""
    pieces: list[Polygon] = [poly]
    for coords in lines:
        line = LineString(coords)
        next_pieces: list[Polygon] = []
        for piece in pieces:
            for part in split(piece, line).geoms:
                if not isinstance(part, Polygon):
                    raise TypeError(f"split produced {part.geom_type}")
                next_pieces.append(part)
        pieces = next_pieces
    return pieces


def assign_pieces(
    pieces: Sequence[Polygon], anchors: Sequence[tuple[float, float]], what: str
) -> list[Polygon]:
    """Order ``pieces`` so that piece i contains anchor i; each piece used once."""
    if len(pieces) != len(anchors):
        raise ValueError(f"{what}: {len(pieces)} pieces for {len(anchors)} anchors")
    ordered: list[Polygon] = []
    for anchor in anchors:
        hits = [p for p in pieces if p.contains(Point(anchor))]
        if len(hits) != 1:
            raise ValueError(f"{what}: anchor {anchor} is inside {len(hits)} pieces")
        if any(hits[0] is p for p in ordered):
            raise ValueError(f"{what}: two anchors inside the same piece")
        ordered.append(hits[0])
    return ordered


def _meters_per_degree(lat: float) -> tuple[float, float]:
    phi = math.radians(lat)
    per_lat = 111132.92 - 559.82 * math.cos(2 * phi) + 1.175 * math.cos(4 * phi)
    per_lon = 111412.84 * math.cos(phi) - 93.5 * math.cos(3 * phi)
    return per_lon, per_lat


def to_lonlat(coords: np.ndarray) -> np.ndarray:
    """Design-frame metres -> WGS-84 lon/lat (local equirectangular, fine for 3 km)."""
    per_lon, per_lat = _meters_per_degree(CENTER_LAT)
    lon = CENTER_LON + (coords[:, 0] - BOX_M / 2) / per_lon
    lat = CENTER_LAT + (coords[:, 1] - BOX_M / 2) / per_lat
    return np.column_stack([lon, lat])


def _round_coords(coords: np.ndarray) -> np.ndarray:
    return np.round(coords, COORD_DECIMALS)


def _as_polygonal(geom: Any) -> Polygon | MultiPolygon:
    if isinstance(geom, (Polygon, MultiPolygon)):
        return geom
    raise TypeError(f"expected a polygonal geometry, got {geom.geom_type}")


def _oriented(geom: Polygon | MultiPolygon) -> Polygon | MultiPolygon:
    """RFC 7946 winding: exterior rings counter-clockwise."""
    if isinstance(geom, Polygon):
        return orient(geom, 1.0)
    return MultiPolygon([orient(p, 1.0) for p in geom.geoms])


def code_for(street: int = 0, community: int = 0, serial: int = 0) -> str:
    code = f"{OBJECT_TYPE_PREFIX}{DISTRICT_ADMIN_CODE}{street:03d}{community:03d}{serial:02d}"
    assert len(code) == 20 and code.isdigit()
    return code


def build_units() -> list[Unit]:
    """Build every unit (district, streets, communities, grids) in lon/lat."""
    district_m = district_outline_m()
    street_polys = assign_pieces(
        split_by_lines(district_m, [((1650.0, -200.0), (1600.0, 1400.0), (1720.0, 3200.0))]),
        [s.anchor for s in STREETS],
        DISTRICT_NAME,
    )

    # (code, name, worker, polygon in metres) for each grid, plus the tree.
    grid_rows: list[tuple[str, str, str, Polygon]] = []
    tree: list[tuple[StreetSpec, str, list[tuple[CommunitySpec, str, list[str]]]]] = []
    for s_idx, (street, street_m) in enumerate(zip(STREETS, street_polys, strict=True), start=1):
        street_code = code_for(s_idx)
        community_polys = assign_pieces(
            split_by_lines(street_m, street.community_lines),
            [c.anchor for c in street.communities],
            street.name,
        )
        street_children: list[tuple[CommunitySpec, str, list[str]]] = []
        for c_idx, (community, community_m) in enumerate(
            zip(street.communities, community_polys, strict=True), start=1
        ):
            community_code = code_for(s_idx, c_idx)
            grid_polys = assign_pieces(
                split_by_lines(community_m, community.grid_lines),
                [g.anchor for g in community.grids],
                community.name,
            )
            grid_codes: list[str] = []
            for g_idx, (grid, grid_m) in enumerate(zip(community.grids, grid_polys, strict=True), start=1):
                grid_code = code_for(s_idx, c_idx, g_idx)
                grid_rows.append((grid_code, community.name + grid.name_suffix, grid.worker, grid_m))
                grid_codes.append(grid_code)
            street_children.append((community, community_code, grid_codes))
        tree.append((street, street_code, street_children))

    # Convert all grid boundaries to lon/lat and node them together with
    # snap-rounding to the 1e-6 degree grid (this merges the float-noise
    # copies of shared edges and puts T-junction vertices on both sides), then
    # polygonize: every shared vertex is then bit-identical on both sides.
    boundaries = [shapely.transform(poly.boundary, to_lonlat) for _, _, _, poly in grid_rows]
    linework = shapely.unary_union(boundaries, grid_size=10.0**-COORD_DECIMALS)
    linework = shapely.transform(linework, _round_coords)
    faces = list(shapely.get_parts(shapely.polygonize(shapely.get_parts(linework))))
    if len(faces) != len(grid_rows):
        raise ValueError(f"polygonize gave {len(faces)} faces for {len(grid_rows)} grids")

    grid_geoms: dict[str, Polygon] = {}
    for code, _, _, poly_m in grid_rows:
        target = shapely.transform(poly_m, to_lonlat)
        best = max(faces, key=lambda f: f.intersection(target).area)
        if best.intersection(target).area < 0.999 * target.area:
            raise ValueError(f"grid {code}: no polygonized face matches")
        if any(best is g for g in grid_geoms.values()):
            raise ValueError(f"grid {code}: face already used")
        if not best.is_valid:
            raise ValueError(f"grid {code}: invalid face: {shapely.is_valid_reason(best)}")
        grid_geoms[code] = best

    def merged(parts: Sequence[Polygon | MultiPolygon]) -> Polygon | MultiPolygon:
        geom = _as_polygonal(shapely.transform(unary_union(list(parts)), _round_coords))
        if not geom.is_valid:
            raise ValueError(f"union is invalid: {shapely.is_valid_reason(geom)}")
        return geom

    units: list[Unit] = []
    grid_units: list[Unit] = []
    community_units: list[Unit] = []
    street_units: list[Unit] = []
    district_code = code_for()
    workers = {code: worker for code, _, worker, _ in grid_rows}
    names = {code: name for code, name, _, _ in grid_rows}
    for street, street_code, children in tree:
        community_geoms: list[Polygon | MultiPolygon] = []
        for community, community_code, grid_codes in children:
            for gc in grid_codes:
                grid_units.append(
                    Unit(gc, names[gc], "grid", community_code, _oriented(grid_geoms[gc]), workers[gc])
                )
            community_geom = merged([grid_geoms[gc] for gc in grid_codes])
            community_geoms.append(community_geom)
            community_units.append(
                Unit(community_code, community.name, "community", street_code, _oriented(community_geom))
            )
        street_geom = merged(community_geoms)
        street_units.append(Unit(street_code, street.name, "street", district_code, _oriented(street_geom)))
    district_geom = merged([u.geometry for u in street_units])
    units.append(Unit(district_code, DISTRICT_NAME, "district", None, _oriented(district_geom)))
    units.extend(street_units)
    units.extend(community_units)
    units.extend(grid_units)
    return units


def pick_sample_points(grids: dict[str, Polygon | MultiPolygon]) -> dict[str, tuple[float, float]]:
    """How SAMPLE_POINTS was picked: representative_point, rounded."""
    picked: dict[str, tuple[float, float]] = {}
    for code, geom in grids.items():
        point = geom.representative_point()
        picked[code] = (round(point.x, COORD_DECIMALS), round(point.y, COORD_DECIMALS))
    return picked


def check_sample_points(
    grids: dict[str, Polygon | MultiPolygon], points: dict[str, tuple[float, float]]
) -> list[str]:
    """Problems with ``points``: each must be well inside its own grid only."""
    problems: list[str] = []
    if set(points) != set(grids):
        problems.append(f"sample point codes {sorted(points)} != grid codes {sorted(grids)}")
    for code, (lon, lat) in points.items():
        point = Point(lon, lat)
        inside = [c for c, g in grids.items() if g.intersects(point)]
        if inside != [code]:
            problems.append(f"{code}: sample point {lon, lat} touches grids {inside}")
        elif grids[code].exterior.distance(point) < 1e-5:  # ~1 m
            problems.append(f"{code}: sample point {lon, lat} is too close to the grid edge")
    return problems


def _round_nested(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, COORD_DECIMALS)
    if isinstance(value, (list, tuple)):
        return [_round_nested(v) for v in value]
    return value


def feature_collection(units: Sequence[Unit]) -> dict[str, Any]:
    features: list[dict[str, Any]] = []
    for unit in units:
        properties: dict[str, Any] = {
            "code": unit.code,
            "name": unit.name,
            "level": unit.level,
            "parent_code": unit.parent_code,
        }
        if unit.level == "grid":
            properties["worker"] = unit.worker
        geometry = mapping(unit.geometry)
        features.append(
            {
                "type": "Feature",
                "id": unit.code,
                "properties": properties,
                "geometry": {"type": geometry["type"], "coordinates": _round_nested(geometry["coordinates"])},
            }
        )
    return {
        "type": "FeatureCollection",
        "features": features,
        "gridcase_sample_points": {code: list(pt) for code, pt in SAMPLE_POINTS.items()},
    }


def main() -> None:
    units = build_units()
    grids = {u.code: u.geometry for u in units if u.level == "grid"}
    problems = check_sample_points(grids, SAMPLE_POINTS)
    if problems:
        suggestion = pick_sample_points(grids)
        raise SystemExit(
            "SAMPLE_POINTS no longer fits the geometry:\n  "
            + "\n  ".join(problems)
            + "\nre-picked with representative_point():\n"
            + "\n".join(f'    "{c}": {p},' for c, p in suggestion.items())
        )
    OUTPUT_PATH.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(feature_collection(units), ensure_ascii=False, indent=1)
    OUTPUT_PATH.write_text(text + "\n", encoding="utf-8")
    print(f"wrote {OUTPUT_PATH} ({len(units)} features, {len(grids)} grids)")


if __name__ == "__main__":
    main()
