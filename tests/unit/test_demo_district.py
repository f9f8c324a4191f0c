"""The demo district reference data (services/reference/data/demo_district.geojson)."""

import itertools
import json
import math
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from shapely.geometry import Point, shape
from shapely.geometry.base import BaseGeometry
from shapely.ops import unary_union

from services.reference import build_demo_district

DATA_PATH = Path(__file__).resolve().parents[2] / "services" / "reference" / "data" / "demo_district.geojson"

# Areas are in square degrees; 1e-12 deg^2 is about 0.01 m^2 at this latitude.
AREA_EPS = 1e-12

PARENT_LEVEL = {"street": "district", "community": "street", "grid": "community"}
CHINESE = re.compile(r"^[\u4e00-\u9fff]+$")


@pytest.fixture(scope="module")
def collection() -> dict[str, Any]:
    with DATA_PATH.open(encoding="utf-8") as fh:
        data: dict[str, Any] = json.load(fh)
    return data


@pytest.fixture(scope="module")
def features(collection: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["properties"]["code"]: f for f in collection["features"]}


@pytest.fixture(scope="module")
def geoms(features: dict[str, dict[str, Any]]) -> dict[str, BaseGeometry]:
    return {code: shape(f["geometry"]) for code, f in features.items()}


def _codes(features: dict[str, dict[str, Any]], level: str) -> list[str]:
    return [c for c, f in features.items() if f["properties"]["level"] == level]


def _children(features: dict[str, dict[str, Any]], parent: str) -> list[str]:
    return [c for c, f in features.items() if f["properties"]["parent_code"] == parent]


def _haversine_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    lon1, lat1 = map(math.radians, a)
    lon2, lat2 = map(math.radians, b)
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6_371_008.8 * math.asin(math.sqrt(h))


def test_is_feature_collection(collection: dict[str, Any]) -> None:
    assert collection["type"] == "FeatureCollection"
    assert all(f["type"] == "Feature" for f in collection["features"])


def test_level_counts(features: dict[str, dict[str, Any]]) -> None:
    levels = Counter(f["properties"]["level"] for f in features.values())
    assert levels == {"district": 1, "street": 2, "community": 5, "grid": 14}


def test_codes_are_20_digits_and_unique(collection: dict[str, Any]) -> None:
    codes = [f["properties"]["code"] for f in collection["features"]]
    assert len(codes) == len(set(codes))
    for code in codes:
        assert re.fullmatch(r"\d{20}", code), code
        assert code.startswith("101001330199"), code


def test_code_structure_matches_level(features: dict[str, dict[str, Any]]) -> None:
    for code, f in features.items():
        street, community, serial = code[12:15], code[15:18], code[18:20]
        level = f["properties"]["level"]
        if level == "district":
            assert (street, community, serial) == ("000", "000", "00")
        elif level == "street":
            assert street != "000" and (community, serial) == ("000", "00")
        elif level == "community":
            assert "000" not in (street, community) and serial == "00"
        else:
            assert "000" not in (street, community) and serial != "00"


def test_parent_tree(features: dict[str, dict[str, Any]]) -> None:
    for code, f in features.items():
        props = f["properties"]
        if props["level"] == "district":
            assert props["parent_code"] is None
            continue
        parent = features[props["parent_code"]]["properties"]
        assert parent["level"] == PARENT_LEVEL[props["level"]]
        # The child's code extends its parent's code.
        significant = {"district": 12, "street": 15, "community": 18}[parent["level"]]
        assert code[:significant] == parent["code"][:significant]


def test_branching(features: dict[str, dict[str, Any]]) -> None:
    (district,) = _codes(features, "district")
    streets = _children(features, district)
    assert sorted(len(_children(features, s)) for s in streets) == [2, 3]
    for community in _codes(features, "community"):
        assert 2 <= len(_children(features, community)) <= 4


def test_names_and_workers(features: dict[str, dict[str, Any]]) -> None:
    suffix = {"district": "区", "street": "街道", "community": "社区", "grid": "网格"}
    for f in features.values():
        props = f["properties"]
        assert CHINESE.match(props["name"]), props["name"]
        assert props["name"].endswith(suffix[props["level"]])
        if props["level"] == "grid":
            community = features[props["parent_code"]]["properties"]["name"]
            assert props["name"].startswith(community)
            assert CHINESE.match(props["worker"]) and 2 <= len(props["worker"]) <= 4
        else:
            assert "worker" not in props
    grid_names = [f["properties"]["name"] for f in features.values() if f["properties"]["level"] == "grid"]
    assert len(set(grid_names)) == len(grid_names)


def test_geometries_valid_polygons(geoms: dict[str, BaseGeometry]) -> None:
    for code, geom in geoms.items():
        assert geom.geom_type in ("Polygon", "MultiPolygon"), code
        assert geom.is_valid, code
        assert geom.area > 0, code


def test_extent_is_about_3km_in_eastern_china(
    geoms: dict[str, BaseGeometry], features: dict[str, dict[str, Any]]
) -> None:
    (district,) = _codes(features, "district")
    min_lon, min_lat, max_lon, max_lat = geoms[district].bounds
    assert 119.5 < min_lon < max_lon < 121.0 and 29.5 < min_lat < max_lat < 31.0
    width = _haversine_m((min_lon, (min_lat + max_lat) / 2), (max_lon, (min_lat + max_lat) / 2))
    height = _haversine_m((min_lon, min_lat), (min_lon, max_lat))
    assert 2_500 < width < 3_500 and 2_500 < height < 3_500


def test_coordinates_have_at_most_6_decimals(collection: dict[str, Any]) -> None:
    def walk(value: Any) -> None:
        if isinstance(value, float):
            assert round(value, 6) == value
        elif isinstance(value, list):
            for v in value:
                walk(v)

    for f in collection["features"]:
        walk(f["geometry"]["coordinates"])


@pytest.mark.parametrize("parent_level", ["community", "street", "district"])
def test_children_tile_parent(
    parent_level: str, features: dict[str, dict[str, Any]], geoms: dict[str, BaseGeometry]
) -> None:
    for parent in _codes(features, parent_level):
        children = [geoms[c] for c in _children(features, parent)]
        assert children
        for a, b in itertools.combinations(children, 2):
            assert a.intersection(b).area < AREA_EPS
        union = unary_union(children)
        assert union.symmetric_difference(geoms[parent]).area < AREA_EPS
        assert math.isclose(sum(c.area for c in children), geoms[parent].area, rel_tol=1e-9)


def test_grids_tile_district(features: dict[str, dict[str, Any]], geoms: dict[str, BaseGeometry]) -> None:
    (district,) = _codes(features, "district")
    grids = unary_union([geoms[c] for c in _codes(features, "grid")])
    assert grids.symmetric_difference(geoms[district]).area < AREA_EPS


def test_some_grids_are_irregular(
    features: dict[str, dict[str, Any]], geoms: dict[str, BaseGeometry]
) -> None:
    grids = [geoms[c] for c in _codes(features, "grid")]
    # Not all axis-aligned rectangles: most grids fill much less than their bbox.
    assert sum(g.area < 0.97 * g.envelope.area for g in grids) >= 7


def test_sample_points_one_per_grid(collection: dict[str, Any], features: dict[str, dict[str, Any]]) -> None:
    points = collection["gridcase_sample_points"]
    assert sorted(points) == sorted(_codes(features, "grid"))
    assert {c: tuple(p) for c, p in points.items()} == build_demo_district.SAMPLE_POINTS


def test_sample_point_in_exactly_its_own_grid(
    collection: dict[str, Any], features: dict[str, dict[str, Any]], geoms: dict[str, BaseGeometry]
) -> None:
    grid_codes = _codes(features, "grid")
    for code, (lon, lat) in collection["gridcase_sample_points"].items():
        point = Point(lon, lat)
        containing = [c for c in grid_codes if geoms[c].contains(point)]
        touching = [c for c in grid_codes if geoms[c].intersects(point)]
        assert containing == [code]
        assert touching == [code]
