"""Grid registry check: each kind of problem on small hand-made GeoJSON; the demo district is clean."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from shapely.geometry import box, mapping
from typer.testing import CliRunner

from services.geo.registry import check
from services.reference.seed import demo_district

D = "10100133019900000000"
S = "10100133019900100000"
C = "10100133019900100100"
G1 = "10100133019900100101"
G2 = "10100133019900100102"
STEP = 0.001  # about 96 m x 111 m at 30°N


def _feature(code: str, name: str, level: str, parent: str | None, geometry: Any) -> dict[str, Any]:
    return {
        "type": "Feature",
        "properties": {"code": code, "name": name, "level": level, "parent_code": parent},
        "geometry": geometry,
    }


def _square(x0: float, x1: float) -> dict[str, Any]:
    return dict(mapping(box(120 + x0 * STEP, 30.0, 120 + x1 * STEP, 30.0 + STEP)))


def _collection(*extra: dict[str, Any], grids: tuple[dict[str, Any], ...] | None = None) -> dict[str, Any]:
    whole = _square(0, 2)
    base = [
        _feature(D, "青禾区", "district", None, whole),
        _feature(S, "梅溪街道", "street", D, whole),
        _feature(C, "柳塘社区", "community", S, whole),
    ]
    if grids is None:
        grids = (
            _feature(G1, "柳塘社区第一网格", "grid", C, _square(0, 1)),
            _feature(G2, "柳塘社区第二网格", "grid", C, _square(1, 2)),
        )
    return {"type": "FeatureCollection", "features": [*base, *grids, *extra]}


def _kinds(collection: dict[str, Any]) -> dict[str, str]:
    return {i.kind: i.severity for i in check(collection).issues}


def test_clean_small_tree() -> None:
    report = check(_collection())
    assert report.ok and not report.issues, report.format()


def test_demo_district_checks_clean() -> None:
    report = check(demo_district())
    assert report.ok and not report.issues, report.format()
    assert "14 grids" in report.format()


def test_overlap_is_an_error_with_codes_and_names() -> None:
    report = check(
        _collection(
            grids=(
                _feature(G1, "柳塘社区第一网格", "grid", C, _square(0, 1.2)),
                _feature(G2, "柳塘社区第二网格", "grid", C, _square(1, 2)),
            )
        )
    )
    (issue,) = report.issues
    assert (issue.severity, issue.kind, issue.codes) == ("error", "overlap", (G1, G2))
    assert "柳塘社区第一网格" in issue.message and "m²" in issue.message


def test_overlap_below_tolerance_is_ignored() -> None:
    sliver = 1e-7  # about 1 cm wide
    grids = (
        _feature(G1, "一", "grid", C, _square(0, 1 + sliver)),
        _feature(G2, "二", "grid", C, _square(1, 2)),
    )
    assert check(_collection(grids=grids)).ok


def test_gap_is_a_warning() -> None:
    grids = (
        _feature(G1, "一", "grid", C, _square(0, 0.8)),
        _feature(G2, "二", "grid", C, _square(1, 2)),
    )
    report = check(_collection(grids=grids))
    assert report.ok
    assert [(i.kind, i.codes) for i in report.warnings] == [("gap", (C,))]
    assert "柳塘社区" in report.warnings[0].message


def test_grid_outside_its_community_is_a_warning() -> None:
    grids = (
        _feature(G1, "一", "grid", C, _square(0, 1)),
        _feature(G2, "二", "grid", C, _square(1, 2.5)),
    )
    assert _kinds(_collection(grids=grids)) == {"outside_parent": "warning"}


def test_unknown_parent() -> None:
    stray = _feature(
        "10100133019900100201", "桂花苑社区第一网格", "grid", "10100133019900100200", _square(5, 6)
    )
    report = check(_collection(stray))
    assert {i.kind for i in report.errors} == {"unknown_parent"}
    # A parent already stored is fine.
    assert "unknown_parent" not in {
        i.kind for i in check(_collection(stray), known={"10100133019900100200": "community"}).errors
    }


def test_wrong_level_order() -> None:
    grid_under_street = _feature("10100133019900100001", "错层网格", "grid", S, _square(0, 1))
    assert _kinds(_collection(grid_under_street))["level_order"] == "error"
    community_under_district = _collection()
    community_under_district["features"][2]["properties"]["parent_code"] = D
    assert _kinds(community_under_district) == {"level_order": "error"}


def test_invalid_polygon() -> None:
    bowtie = {
        "type": "Polygon",
        "coordinates": [[[120, 30], [120.001, 30.001], [120.001, 30], [120, 30.001], [120, 30]]],
    }
    report = check(
        _collection(
            grids=(_feature(G1, "一", "grid", C, bowtie), _feature(G2, "二", "grid", C, _square(1, 2)))
        )
    )
    invalid = [i for i in report.errors if i.kind == "invalid_geometry"]
    assert invalid and "Self-intersection" in invalid[0].message


def test_grid_without_polygon() -> None:
    grids = (_feature(G1, "一", "grid", C, None), _feature(G2, "二", "grid", C, _square(1, 2)))
    assert _kinds(_collection(grids=grids))["invalid_geometry"] == "error"


def test_duplicate_code() -> None:
    dup = _feature(G2, "重复网格", "grid", C, _square(1, 2))
    report = check(_collection(dup))
    assert "duplicate_code" in {i.kind for i in report.errors}
    assert "重复网格" in next(i.message for i in report.errors if i.kind == "duplicate_code")


def test_bad_codes() -> None:
    short = _feature("1010013301990010010", "短码", "grid", C, _square(1, 2))
    letters = _feature("1010013301990010010X", "字母", "grid", C, _square(1, 2))
    report = check(_collection(grids=(_feature(G1, "一", "grid", C, _square(0, 1)), short, letters)))
    assert {i.codes[0] for i in report.errors if i.kind == "bad_code"} == {
        short["properties"]["code"],
        letters["properties"]["code"],
    }


def test_code_must_extend_the_parent_prefix() -> None:
    foreign = _feature("10100133019900200103", "别家网格", "grid", C, _square(1, 2))
    report = check(_collection(grids=(_feature(G1, "一", "grid", C, _square(0, 1)), foreign)))
    assert [i.kind for i in report.errors] == ["code_prefix"]
    community_code_as_grid = _feature("10100133019900100300", "零号网格", "grid", C, _square(1, 2))
    assert "code_prefix" in _kinds(
        _collection(grids=(_feature(G1, "一", "grid", C, _square(0, 1)), community_code_as_grid))
    )


def test_not_a_feature_collection() -> None:
    assert [i.kind for i in check({"type": "Feature"}).errors] == ["bad_file"]


def test_cli_check(tmp_path: Path) -> None:
    from services.cli import app

    good = tmp_path / "good.geojson"
    good.write_text(json.dumps(demo_district(), ensure_ascii=False), encoding="utf-8")
    result = CliRunner().invoke(app, ["grids", "check", str(good)])
    assert result.exit_code == 0, result.output
    assert "0 error(s), 0 warning(s)" in result.output

    bad = tmp_path / "bad.geojson"
    bad.write_text(
        json.dumps(_collection(_feature(G2, "重复网格", "grid", C, _square(1, 2))), ensure_ascii=False),
        encoding="utf-8",
    )
    result = CliRunner().invoke(app, ["grids", "check", str(bad)])
    assert result.exit_code == 1
    assert "duplicate_code" in result.output and G2 in result.output
