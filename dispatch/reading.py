"""What dispatch reads from a report that names no category or place: the category from the text
(the shipped classifier), the grid from the address (the gazetteer), and urgency from the words.
Loaded once per process; the classifier reloads itself when its file changes."""

from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass

import asyncpg

from schemas.api import URGENCY_RANK
from services.classify.model import Decision, classify, classify_many
from services.classify.urgency import detect_urgency
from services.geo.addresses import AddressIndex
from services.reference.catalog import Catalog
from services.reference.seed import load_yaml

# An address matched below this score (a road without a door number, a compound spanning grids)
# is not trusted to pick a grid: the case goes to triage instead.
ADDRESS_MIN_SCORE = 0.8


@dataclass(frozen=True, slots=True)
class Reading:
    category_code: str | None  # the model's, when confident; None otherwise
    model: Decision | None  # when the text was read
    grid_code: str | None  # from the address, when it matched
    address_matched: str | None
    urgency: str
    urgency_reason: str | None


@functools.cache
def _address_index(area_names: tuple[str, ...]) -> AddressIndex:
    return AddressIndex(load_yaml("demo_addresses.yaml"), area_names=area_names)


async def read_texts(conn: asyncpg.Connection, case_ids: list[uuid.UUID]) -> dict[uuid.UUID, Decision]:
    """The model's reading of the reports among ``case_ids`` that name no category, in one pass."""
    if not case_ids:
        return {}
    rows = await conn.fetch(
        "SELECT id, description FROM cases WHERE id = ANY($1::uuid[]) AND status = 'reported' "
        "AND category_code IS NULL AND description <> ''",
        case_ids,
    )
    rows = [r for r in rows if r["description"].strip()]
    return dict(zip((r["id"] for r in rows), classify_many([r["description"] for r in rows]), strict=True))


def read_report(
    catalog: Catalog,
    *,
    description: str,
    category_code: str | None,
    grid_code: str | None,
    has_point: bool,
    address: str | None,
    urgency: str,
    model: Decision | None = None,
) -> Reading:
    """``model``: the text already read (with the rest of its batch); else it is read here."""
    predicted: str | None = None
    if category_code:
        model = None
    elif model is None and description.strip():
        model = classify(description)
    if model is not None:
        predicted = model.code if model.auto else None
    grid: str | None = None
    matched: str | None = None
    if not grid_code and not has_point and address:
        names = tuple(sorted(a.name for a in catalog.areas.values() if a.level != "grid"))
        hit = _address_index(names).match(address)
        if hit is not None and hit.score >= ADDRESS_MIN_SCORE and hit.grid_code in catalog.areas:
            grid, matched = hit.grid_code, hit.matched
    found = detect_urgency(description)
    level = urgency
    if found is not None and URGENCY_RANK[found.level] > URGENCY_RANK.get(urgency, 0):
        level = found.level
    return Reading(
        category_code=predicted,
        model=model,
        grid_code=grid,
        address_matched=matched,
        urgency=level,
        urgency_reason=found.reason if found is not None else None,
    )
