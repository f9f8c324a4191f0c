"""Point-in-polygon lookup of the grid a WGS-84 point lies in (shapely STRtree)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from shapely import STRtree
from shapely.geometry import Point, shape
from shapely.geometry.base import BaseGeometry


class GridIndex:
    def __init__(self, grids: Iterable[tuple[str, dict[str, Any]]]) -> None:
        """``grids``: (grid code, GeoJSON geometry in WGS-84)."""
        self._codes: list[str] = []
        geoms: list[BaseGeometry] = []
        for code, geometry in grids:
            if geometry:
                self._codes.append(code)
                geoms.append(shape(geometry))
        self._geoms = geoms
        self._tree = STRtree(geoms)

    def __len__(self) -> int:
        return len(self._codes)

    def locate(self, lon: float, lat: float) -> str | None:
        """The grid containing the point; on a shared border the lowest code wins, so it is stable."""
        point = Point(lon, lat)
        hits = sorted(self._codes[i] for i in self._tree.query(point, predicate="intersects"))
        return hits[0] if hits else None
