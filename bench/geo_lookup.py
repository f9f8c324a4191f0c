"""Micro-benchmark: where a report is (issue 7): grid look-ups by point and by address.

Generates 10,000 synthetic grids (a 100 x 100 lattice of 0.001° squares, about 96 m x 111 m at
30°N; every ninth cell shares a zig-zag edge of 12 vertices with its east neighbour, so some grids
are irregular) and a gazetteer of the same scale (one compound per grid with 12 buildings, one road
per lattice row whose door numbers run across its 100 grids), then times, wall clock, one call at a
time as dispatch makes them:

1. 100,000 ``GridIndex.locate`` calls: 80 % random points inside, 10 % exactly on lattice lines
   (shared borders and corners), 10 % up to 60 m outside the lattice (half of them snap to the
   nearest grid within the 30 m tolerance, the rest are None);
2. 10,000 ``AddressIndex.match`` calls: compound + building (Arabic or Chinese numerals, with and
   without administrative prefixes, suffix variants) and road + door number.

Targets: each under 2 s.

    .venv/bin/python bench/geo_lookup.py [--seed 7]
"""

from __future__ import annotations

import argparse
import platform
import random
import time
from typing import Any

from services.geo.addresses import AddressIndex
from services.geo.grid_index import M_PER_DEG, GridIndex

N = 100
STEP = 0.001
LON0, LAT0 = 120.0, 30.0
# 100 distinct characters for generated names (pairs give 10,000 distinct compound names).
CHARS = (
    "安柏宝北碧滨博采彩长朝晨成城春翠大丹东枫福富港高光广桂海和河荷红虹鸿湖华淮汇佳嘉江金锦京景静"
    "菊开康兰蓝乐丽莲林临龙绿梅美明南宁鹏平浦琪祺青清秋泉瑞润山善尚盛世书曙顺松泰棠天田亭万文"
    "西溪霞祥欣新星兴秀雅阳怡益银樱永玉园月云泽振"
)[:N]
CN = "零一二三四五六七八九十"


def _cn(n: int) -> str:
    if n <= 10:
        return CN[n]
    if n < 20:
        return "十" + (CN[n - 10] if n > 10 else "")
    return CN[n // 10] + "十" + (CN[n % 10] if n % 10 else "")


def _zigzag(i: int, j: int) -> list[tuple[float, float]]:
    """The edge between column i and i+1 in row j, bottom to top."""
    x = LON0 + (i + 1) * STEP
    y0 = LAT0 + j * STEP
    if (i + j) % 9 or i == N - 1:
        return [(x, y0), (x, y0 + STEP)]
    k = 12
    return [(x + (0.2 * STEP if m % 2 else 0.0) * (0 < m < k), y0 + m * STEP / k) for m in range(k + 1)]


def grids() -> list[tuple[str, dict[str, Any]]]:
    out = []
    for i in range(N):
        for j in range(N):
            east = _zigzag(i, j)
            west = _zigzag(i - 1, j) if i else [(LON0, LAT0 + j * STEP), (LON0, LAT0 + (j + 1) * STEP)]
            ring = [*east, *reversed(west)]
            ring.append(ring[0])
            out.append((code(i, j), {"type": "Polygon", "coordinates": [[list(p) for p in ring]]}))
    return out


def code(i: int, j: int) -> str:
    return f"101001330199{i:04d}{j:04d}"


def gazetteer() -> dict[str, Any]:
    g: dict[str, Any] = {}
    for i in range(N):
        for j in range(N):
            g[code(i, j)] = {
                "compounds": [{"name": f"{CHARS[i]}{CHARS[j]}小区", "buildings": "1-12"}],
                "roads": [
                    {"name": f"{CHARS[j]}{CHARS[(j * 7) % N]}大道", "from": i * 10 + 1, "to": i * 10 + 10}
                ],
            }
    return {"grids": g}


def points(rng: random.Random, n: int) -> list[tuple[float, float]]:
    pts = []
    size = N * STEP
    for _ in range(n):
        r = rng.random()
        if r < 0.8:
            pts.append((LON0 + rng.random() * size, LAT0 + rng.random() * size))
        elif r < 0.9:  # on a lattice line (a shared border; sometimes a corner)
            k = rng.randrange(N + 1)
            t = rng.random() * size
            pts.append((LON0 + k * STEP, LAT0 + t) if rng.random() < 0.5 else (LON0 + t, LAT0 + k * STEP))
        else:  # south of the lattice, 0-60 m out
            pts.append((LON0 + rng.random() * size, LAT0 - rng.random() * 60 / M_PER_DEG))
    return pts


def addresses(rng: random.Random, n: int) -> list[tuple[str, str]]:
    out = []
    for _ in range(n):
        i, j = rng.randrange(N), rng.randrange(N)
        b = rng.randint(1, 12)
        kind = rng.randrange(4)
        if kind == 0:
            text = f"{CHARS[i]}{CHARS[j]}小区{b}幢"
        elif kind == 1:
            text = f"青禾区某某街道{CHARS[i]}{CHARS[j]}花园{_cn(b)}号楼2单元"
        elif kind == 2:
            text = f"{CHARS[i]}{CHARS[j]}苑{b}栋"
        else:
            text = f"{CHARS[j]}{CHARS[(j * 7) % N]}大道{i * 10 + rng.randint(1, 10)}号"
        out.append((text, code(i, j)))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--points", type=int, default=100_000)
    parser.add_argument("--addresses", type=int, default=10_000)
    args = parser.parse_args()
    rng = random.Random(args.seed)

    t = time.perf_counter()
    index = GridIndex(grids())
    build_grids = time.perf_counter() - t
    pts = points(rng, args.points)
    t = time.perf_counter()
    located = [index.locate(lon, lat) for lon, lat in pts]
    locate_s = time.perf_counter() - t
    misses = sum(1 for c in located if c is None)

    t = time.perf_counter()
    addr_index = AddressIndex(gazetteer(), area_names=["青禾区"])
    build_addr = time.perf_counter() - t
    queries = addresses(rng, args.addresses)
    t = time.perf_counter()
    matched = [addr_index.match(text) for text, _ in queries]
    match_s = time.perf_counter() - t
    right = sum(1 for m, (_, want) in zip(matched, queries, strict=True) if m and m.grid_code == want)

    print(f"machine: {platform.machine()} {platform.processor() or ''} python {platform.python_version()}")
    print(f"grids: {len(index):,} (index built in {build_grids:.2f} s)")
    print(
        f"locate: {len(pts):,} points in {locate_s:.3f} s ({locate_s / len(pts) * 1e6:.1f} µs each), "
        f"{misses:,} outside every grid beyond 30 m -> {'met' if locate_s < 2 else 'NOT met'} (< 2 s)"
    )
    print(f"gazetteer: {len(addr_index):,} entries (index built in {build_addr:.2f} s)")
    print(
        f"match: {len(queries):,} addresses in {match_s:.3f} s ({match_s / len(queries) * 1e6:.1f} µs each), "
        f"{right:,} to the right grid -> {'met' if match_s < 2 else 'NOT met'} (< 2 s)"
    )


if __name__ == "__main__":
    main()
