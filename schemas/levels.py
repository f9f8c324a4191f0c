"""The area tree levels a case climbs when it is not handled in time (小事不出网格…)."""

from __future__ import annotations

from enum import StrEnum


class Level(StrEnum):
    GRID = "grid"
    COMMUNITY = "community"
    STREET = "street"
    DISTRICT = "district"

    @property
    def label(self) -> str:
        return LEVEL_LABELS[self]

    def above(self) -> Level | None:
        """The next level up, or None at the top."""
        order = list(Level)
        i = order.index(self)
        return order[i + 1] if i + 1 < len(order) else None


LEVEL_LABELS: dict[Level, str] = {
    Level.GRID: "网格",
    Level.COMMUNITY: "社区",
    Level.STREET: "街道",
    Level.DISTRICT: "区",
}
