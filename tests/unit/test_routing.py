"""Routing by grid and category against the real reference data files (no database)."""

from __future__ import annotations

import pytest

from dispatch.routing import Route, Triage, TriageReason, route
from services.geo.grid_index import GridIndex
from services.reference.catalog import Area, Catalog, Category, Department
from services.reference.seed import demo_district, load_yaml
from tests.support import SAMPLE_POINTS


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    features = demo_district()["features"]
    cats = load_yaml("categories.yaml")["categories"]
    deps = load_yaml("departments.yaml")["departments"]
    return Catalog(
        categories={
            c["code"]: Category(
                c["code"],
                c["name"],
                c["kind"],
                c["department"],
                tuple(c.get("assist", [])),
                c["level"],
                c["urgency"],
                str(c["sign"]),
                str(c["handle"]),
                bool(c.get("must_report")),
            )
            for c in cats
        },
        departments={d["code"]: Department(d["code"], d["name"], d["level"]) for d in deps},
        areas={
            f["properties"]["code"]: Area(
                f["properties"]["code"],
                f["properties"]["name"],
                f["properties"]["level"],
                f["properties"].get("parent_code"),
                None,
            )
            for f in features
        },
        grids=GridIndex(
            (f["properties"]["code"], f["geometry"]) for f in features if f["properties"]["level"] == "grid"
        ),
    )


def test_every_category_routes_to_its_matrix_department(catalog: Catalog) -> None:
    grid = next(iter(SAMPLE_POINTS))
    for code, category in catalog.categories.items():
        decision = route(catalog, category_code=code, grid_code=grid, lon=None, lat=None)
        if code == "9999":
            assert isinstance(decision, Triage) and decision.reason is TriageReason.NEEDS_OPERATOR
        else:
            assert isinstance(decision, Route) and decision.department_code == category.department_code


def test_every_sample_point_finds_its_grid(catalog: Catalog) -> None:
    for grid, (lon, lat) in SAMPLE_POINTS.items():
        decision = route(catalog, category_code="0101", grid_code=None, lon=lon, lat=lat)
        assert isinstance(decision, Route) and decision.grid_code == grid and decision.routed_by == "location"


def test_a_grid_code_of_a_community_is_not_a_grid(catalog: Catalog) -> None:
    community = next(a.code for a in catalog.areas.values() if a.level == "community")
    decision = route(catalog, category_code="0101", grid_code=community, lon=None, lat=None)
    assert isinstance(decision, Triage) and decision.reason is TriageReason.UNKNOWN_GRID


def test_triage_reasons_have_chinese_labels() -> None:
    for reason in TriageReason:
        assert Triage(reason).label
