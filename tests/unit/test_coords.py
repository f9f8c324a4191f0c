"""WGS-84 <-> GCJ-02 conversion (services.geo.coords)."""

import math
import random

import pytest

from services.geo.coords import gcj02_to_wgs84, out_of_china, to_wgs84, wgs84_to_gcj02

EARTH_RADIUS_M = 6_371_008.8
MAX_ERROR_M = 0.5


def haversine_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance in metres between two (lon, lat) points."""
    lon1, lat1 = map(math.radians, a)
    lon2, lat2 = map(math.radians, b)
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(h))


# (lon, lat) in mainland China, spread over the whole GCJ-02 area.
CHINA_POINTS = [
    pytest.param((120.15, 30.27), id="hangzhou"),
    pytest.param((116.397, 39.909), id="beijing"),
    pytest.param((121.4737, 31.2304), id="shanghai"),
    pytest.param((113.2644, 23.1291), id="guangzhou"),
    pytest.param((104.0665, 30.5723), id="chengdu"),
    pytest.param((87.6168, 43.8256), id="urumqi"),
    pytest.param((126.535, 45.8038), id="harbin"),
    pytest.param((91.1409, 29.6456), id="lhasa"),
    pytest.param((109.5119, 18.2528), id="sanya"),
]

OUTSIDE_POINTS = [
    pytest.param((139.6917, 35.6895), id="tokyo"),
    pytest.param((-0.1276, 51.5072), id="london"),
    pytest.param((-74.006, 40.7128), id="new-york"),
    pytest.param((151.2093, -33.8688), id="sydney"),
    pytest.param((37.6173, 55.7558), id="moscow"),
]


def test_haversine_helper() -> None:
    # One degree of latitude is about 111.2 km on the mean sphere.
    assert haversine_m((120.0, 30.0), (120.0, 31.0)) == pytest.approx(111_195, rel=1e-3)
    assert haversine_m((120.0, 30.0), (120.0, 30.0)) == 0.0


@pytest.mark.parametrize("wgs", CHINA_POINTS)
def test_wgs_gcj_wgs_round_trip(wgs: tuple[float, float]) -> None:
    gcj = wgs84_to_gcj02(*wgs)
    # GCJ-02 really is applied: the shift is tens to hundreds of metres.
    assert 20 < haversine_m(wgs, gcj) < 1_000
    back = gcj02_to_wgs84(*gcj)
    assert haversine_m(wgs, back) < MAX_ERROR_M


@pytest.mark.parametrize("gcj", CHINA_POINTS)
def test_gcj_wgs_gcj_round_trip(gcj: tuple[float, float]) -> None:
    wgs = gcj02_to_wgs84(*gcj)
    assert haversine_m(gcj, wgs) > 20
    assert haversine_m(gcj, wgs84_to_gcj02(*wgs)) < MAX_ERROR_M


def test_round_trip_random_points_in_china() -> None:
    rng = random.Random(20240601)
    worst = 0.0
    for _ in range(2_000):
        wgs = (rng.uniform(75.0, 134.0), rng.uniform(18.0, 53.0))
        worst = max(worst, haversine_m(wgs, gcj02_to_wgs84(*wgs84_to_gcj02(*wgs))))
    assert worst < MAX_ERROR_M


def test_inverse_beats_one_step_approximation() -> None:
    # The one-step inverse (gcj - (f(gcj) - gcj)) is metres off in places;
    # ours must stay far below the 0.5 m budget everywhere.
    wgs = (116.397, 39.909)
    assert haversine_m(wgs, gcj02_to_wgs84(*wgs84_to_gcj02(*wgs))) < 0.01


def test_forward_matches_reference_value() -> None:
    # Standard GCJ-02 algorithm (Krasovsky a = 6378245, ee = 0.006693421622965943).
    lon, lat = wgs84_to_gcj02(120.15, 30.27)
    assert lon == pytest.approx(120.1547086, abs=1e-6)
    assert lat == pytest.approx(30.2676797, abs=1e-6)


@pytest.mark.parametrize("point", OUTSIDE_POINTS)
def test_outside_china_passthrough(point: tuple[float, float]) -> None:
    assert out_of_china(*point)
    assert wgs84_to_gcj02(*point) == point
    assert gcj02_to_wgs84(*point) == point
    assert to_wgs84(point[0], point[1], "gcj02") == point


@pytest.mark.parametrize("point", CHINA_POINTS)
def test_inside_china(point: tuple[float, float]) -> None:
    assert not out_of_china(*point)


def test_to_wgs84_wgs84_passthrough() -> None:
    assert to_wgs84(120.15, 30.27, "wgs84") == (120.15, 30.27)


def test_to_wgs84_gcj02_converts() -> None:
    gcj = wgs84_to_gcj02(120.15, 30.27)
    assert haversine_m(to_wgs84(*gcj, "gcj02"), (120.15, 30.27)) < MAX_ERROR_M
    assert to_wgs84(*gcj, "gcj02") == gcj02_to_wgs84(*gcj)


def test_to_wgs84_crs_is_case_insensitive() -> None:
    gcj = wgs84_to_gcj02(120.15, 30.27)
    assert to_wgs84(*gcj, "GCJ02") == to_wgs84(*gcj, "gcj02")
    assert to_wgs84(120.15, 30.27, "WGS84") == (120.15, 30.27)


@pytest.mark.parametrize("crs", ["bd-09", "", "epsg:4326", "gcj-02", "wgs"])
def test_to_wgs84_bad_crs_raises(crs: str) -> None:
    with pytest.raises(ValueError, match="crs"):
        to_wgs84(120.15, 30.27, crs)


@pytest.mark.parametrize(
    ("lon", "lat"),
    [(math.nan, 30.0), (120.0, math.inf), (200.0, 30.0), (120.0, -91.0)],
)
def test_bad_coordinates_raise(lon: float, lat: float) -> None:
    with pytest.raises(ValueError):
        wgs84_to_gcj02(lon, lat)
    with pytest.raises(ValueError):
        gcj02_to_wgs84(lon, lat)
    with pytest.raises(ValueError):
        to_wgs84(lon, lat, "wgs84")


def test_bd09_round_trip_within_a_decimetre() -> None:
    from services.geo.coords import to_wgs84, wgs84_to_bd09

    for lon, lat in ((120.15, 30.28), (116.397, 39.909), (113.26, 23.13)):
        b_lon, b_lat = wgs84_to_bd09(lon, lat)
        assert abs(b_lon - lon) > 1e-3  # Baidu's points really are elsewhere
        back = to_wgs84(b_lon, b_lat, "bd09")
        assert abs(back[0] - lon) < 1e-6 and abs(back[1] - lat) < 1e-6
