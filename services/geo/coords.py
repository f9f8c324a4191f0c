"""Conversion between WGS-84 and GCJ-02 coordinates.

Grid polygons are stored in WGS-84. Chinese web maps (高德/腾讯) and WeChat
location messages report GCJ-02 ("火星坐标"), which is WGS-84 shifted by an
obfuscation function of up to a few hundred metres. Call ``to_wgs84`` on every
incoming point before a grid look-up.

The forward function (WGS-84 -> GCJ-02) comes from the ``coordtransform``
package (import name ``coordTransform``); the rest of Gridcase imports only
this module. GCJ-02 has no closed-form inverse: the package's own
``gcj02_to_wgs84`` is the one-step approximation, off by up to a couple of
metres, so ``gcj02_to_wgs84`` here inverts the forward function by fixed-point
iteration instead, to well below a millimetre.

Outside mainland China (the package's rectangle: lon 73.66..135.05,
lat 3.86..53.55, exclusive) GCJ-02 equals WGS-84 and both directions return
the input unchanged.
"""

import math
from typing import Final

import coordTransform as _ct

__all__ = [
    "SUPPORTED_CRS",
    "bd09_to_wgs84",
    "gcj02_to_wgs84",
    "out_of_china",
    "to_wgs84",
    "wgs84_to_bd09",
    "wgs84_to_gcj02",
]

#: Names accepted by ``to_wgs84`` (matched case-insensitively).
SUPPORTED_CRS: Final = ("wgs84", "gcj02", "bd09")

# Stop when the forward image of the estimate is this close to the GCJ-02 input
# (degrees, about 1e-5 m), or after this many steps. The shift changes by only
# a few millimetres per metre, so each step gains 2-3 orders of magnitude and
# 3-4 steps are usually enough.
_INVERSE_TOLERANCE_DEG: Final = 1e-10
_INVERSE_MAX_STEPS: Final = 30


def _check_lonlat(lon: float, lat: float) -> tuple[float, float]:
    lon_f, lat_f = float(lon), float(lat)
    if not (math.isfinite(lon_f) and math.isfinite(lat_f)):
        raise ValueError(f"coordinates must be finite, got lon={lon!r}, lat={lat!r}")
    if not (-180.0 <= lon_f <= 180.0 and -90.0 <= lat_f <= 90.0):
        raise ValueError(f"coordinates out of range: lon={lon_f}, lat={lat_f}")
    return lon_f, lat_f


def out_of_china(lon: float, lat: float) -> bool:
    """True where GCJ-02 is not applied (GCJ-02 == WGS-84 there)."""
    return bool(_ct.out_of_china(float(lon), float(lat)))


def _forward(lon: float, lat: float) -> tuple[float, float]:
    result = _ct.wgs84_to_gcj02(lon, lat)
    return float(result[0]), float(result[1])


def wgs84_to_gcj02(lon: float, lat: float) -> tuple[float, float]:
    """WGS-84 (lon, lat) -> GCJ-02 (lon, lat). Raises ValueError on bad input."""
    lon_f, lat_f = _check_lonlat(lon, lat)
    if out_of_china(lon_f, lat_f):
        return lon_f, lat_f
    return _forward(lon_f, lat_f)


def gcj02_to_wgs84(lon: float, lat: float) -> tuple[float, float]:
    """GCJ-02 (lon, lat) -> WGS-84 (lon, lat), accurate to well under 1 cm.

    Solves ``wgs84_to_gcj02(w) == (lon, lat)`` for ``w`` by fixed-point
    iteration ``w <- w - (forward(w) - gcj)``, starting from ``w = gcj``.
    """
    gcj_lon, gcj_lat = _check_lonlat(lon, lat)
    if out_of_china(gcj_lon, gcj_lat):
        return gcj_lon, gcj_lat
    w_lon, w_lat = gcj_lon, gcj_lat
    for _ in range(_INVERSE_MAX_STEPS):
        f_lon, f_lat = _forward(w_lon, w_lat)
        d_lon, d_lat = f_lon - gcj_lon, f_lat - gcj_lat
        w_lon -= d_lon
        w_lat -= d_lat
        if abs(d_lon) < _INVERSE_TOLERANCE_DEG and abs(d_lat) < _INVERSE_TOLERANCE_DEG:
            break
    return w_lon, w_lat


def bd09_to_wgs84(lon: float, lat: float) -> tuple[float, float]:
    """Baidu's BD-09 is GCJ-02 with a second shift: undo that (the package's inverse, within a
    decimetre), then GCJ-02 by iteration."""
    lon, lat = _check_lonlat(lon, lat)
    g_lon, g_lat = _ct.bd09_to_gcj02(lon, lat)
    return gcj02_to_wgs84(g_lon, g_lat)


def wgs84_to_bd09(lon: float, lat: float) -> tuple[float, float]:
    g_lon, g_lat = wgs84_to_gcj02(lon, lat)
    b_lon, b_lat = _ct.gcj02_to_bd09(g_lon, g_lat)
    return float(b_lon), float(b_lat)


def to_wgs84(lon: float, lat: float, crs: str) -> tuple[float, float]:
    """Normalise a point reported in ``crs`` ("wgs84", "gcj02" or "bd09") to WGS-84.

    ``crs`` is matched case-insensitively; anything else raises ValueError, as do
    non-finite or out-of-range coordinates.
    """
    key = crs.strip().lower() if isinstance(crs, str) else crs
    if key == "wgs84":
        return _check_lonlat(lon, lat)
    if key == "gcj02":
        return gcj02_to_wgs84(lon, lat)
    if key == "bd09":
        return bd09_to_wgs84(lon, lat)
    raise ValueError(f"unsupported crs {crs!r}; expected one of {', '.join(SUPPORTED_CRS)}")
