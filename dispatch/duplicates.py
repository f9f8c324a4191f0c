"""Likely duplicates (并案 candidates): a new report of the same category close to an open case, recently.

Found at routing, where the category (perhaps read from the text) and the point (WGS-84) are known.
The new case waits in triage, linked to the original, for an operator to merge (``mark_duplicate``) or
dispatch it on its own.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass

import asyncpg

from schemas.states import TERMINAL

_EARTH_M = 6_371_000.0
_TERMINAL_SQL = ", ".join(f"'{s.value}'" for s in sorted(TERMINAL))


@dataclass(frozen=True, slots=True)
class DuplicateRule:
    radius_m: float = 100.0
    window_hours: float = 24.0

    @property
    def enabled(self) -> bool:
        return self.radius_m > 0 and self.window_hours > 0


@dataclass(frozen=True, slots=True)
class Candidate:
    case_id: uuid.UUID
    case_no: str
    distance_m: float


async def find_likely_duplicate(
    conn: asyncpg.Connection,
    rule: DuplicateRule,
    *,
    case_id: uuid.UUID,
    category_code: str,
    lat: float,
    lon: float,
) -> Candidate | None:
    """The nearest open case of ``category_code`` within the rule's distance and time, older than this one."""
    if not rule.enabled:
        return None
    d_lat = math.degrees(rule.radius_m / _EARTH_M)
    d_lon = d_lat / max(math.cos(math.radians(lat)), 0.01)
    row = await conn.fetchrow(
        f"""
        SELECT id, case_no, distance_m FROM (
            SELECT id, case_no, created_at,
                   2 * {_EARTH_M} * asin(sqrt(
                       power(sin(radians(lat - $3) / 2), 2)
                       + cos(radians($3)) * cos(radians(lat)) * power(sin(radians(lon - $4) / 2), 2)
                   )) AS distance_m
              FROM cases
             WHERE category_code = $2 AND lat IS NOT NULL AND id <> $1
               AND created_at > clock_timestamp() - make_interval(secs => $5)
               AND created_at <= (SELECT created_at FROM cases WHERE id = $1)
               AND status NOT IN ({_TERMINAL_SQL}) AND likely_duplicate_of IS NULL
               AND lat BETWEEN $3 - $6 AND $3 + $6 AND lon BETWEEN $4 - $7 AND $4 + $7
        ) AS near
         WHERE distance_m <= $8
         ORDER BY distance_m, created_at
         LIMIT 1
        """,
        case_id,
        category_code,
        lat,
        lon,
        rule.window_hours * 3600.0,
        d_lat,
        d_lon,
        rule.radius_m,
    )
    if row is None:
        return None
    return Candidate(case_id=row["id"], case_no=row["case_no"], distance_m=float(row["distance_m"]))
