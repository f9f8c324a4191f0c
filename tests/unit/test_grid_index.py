"""GridIndex.locate: inside, the border rule, and points just outside every grid."""

from __future__ import annotations

from typing import Any

import pytest
from shapely.geometry import box, mapping

from services.geo.grid_index import M_PER_DEG, GridIndex
from services.reference.seed import demo_district
from tests.support import SAMPLE_POINTS

LAT0 = 30.0
SIDE = 0.001  # degrees; two squares side by side, A west of B, sharing the line lon = 120.001


def _grids() -> list[tuple[str, dict[str, Any]]]:
    return [
        ("B0000000000000000002", mapping(box(120.001, LAT0, 120.002, LAT0 + SIDE))),
        ("A0000000000000000001", mapping(box(120.000, LAT0, 120.001, LAT0 + SIDE))),
    ]


@pytest.fixture
def index() -> GridIndex:
    return GridIndex(_grids())


def test_inside(index: GridIndex) -> None:
    assert index.locate(120.0005, LAT0 + 0.0005) == "A0000000000000000001"
    assert index.locate(120.0015, LAT0 + 0.0005) == "B0000000000000000002"


def test_shared_border_goes_to_the_smallest_code(index: GridIndex) -> None:
    assert index.locate(120.001, LAT0 + 0.0005) == "A0000000000000000001"
    reversed_order = GridIndex(list(reversed(_grids())))
    assert reversed_order.locate(120.001, LAT0 + 0.0005) == "A0000000000000000001"


def test_outer_boundary_counts_as_inside(index: GridIndex) -> None:
    assert index.locate(120.002, LAT0 + 0.0005) == "B0000000000000000002"


def test_just_outside_within_tolerance_goes_to_the_nearest_grid(index: GridIndex) -> None:
    metres = 20 / M_PER_DEG  # 20 m south of B
    assert index.locate(120.0015, LAT0 - metres) == "B0000000000000000002"
    # 20 m east of B (longitude degrees are shorter at 30°N)
    east = 20 / (M_PER_DEG * 0.8660254)
    assert index.locate(120.002 + east, LAT0 + 0.0005) == "B0000000000000000002"


def test_beyond_tolerance_is_none(index: GridIndex) -> None:
    assert index.locate(120.0015, LAT0 - 40 / M_PER_DEG) is None
    east = 40 / (M_PER_DEG * 0.8660254)
    assert index.locate(120.002 + east, LAT0 + 0.0005) is None


def test_tolerance_is_configurable() -> None:
    assert GridIndex(_grids(), tolerance_m=0).locate(120.0015, LAT0 - 1 / M_PER_DEG) is None
    assert GridIndex(_grids(), tolerance_m=100).locate(120.0015, LAT0 - 80 / M_PER_DEG) is not None


def test_just_outside_below_a_shared_corner_goes_to_the_smallest_code(index: GridIndex) -> None:
    assert index.locate(120.001, LAT0 - 10 / M_PER_DEG) == "A0000000000000000001"


def test_empty_index() -> None:
    assert GridIndex([]).locate(120.0, 30.0) is None
    assert len(GridIndex([("X", {})])) == 0


def test_demo_sample_points() -> None:
    features = demo_district()["features"]
    index = GridIndex(
        (f["properties"]["code"], f["geometry"]) for f in features if f["properties"]["level"] == "grid"
    )
    assert len(index) == 14
    for code, (lon, lat) in SAMPLE_POINTS.items():
        assert index.locate(lon, lat) == code
