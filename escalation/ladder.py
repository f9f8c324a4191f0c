"""Escalation policy: the ordered steps an overdue case climbs, per category and urgency, taken as a
snapshot when its handling clock starts (so a later edit does not change a running case).

Two ladders:
- a case worked at grid or community level climbs the area tree: at 100% of its limit the community
  (its leader is told), some working hours later the street with a supervision order (督办单), later
  again the district command centre's order;
- a case a department handles directly is supervised up its own chain: the street's order for a street
  unit, then the command centre's supervision order, then the district leaders' (领导督办).
Each step fires once; after the last one the case stays overdue under supervision (one overdue mark).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from schemas.levels import Level
from services.sla.timelimits import TimeLimit

# How long each later step waits after the previous one, by urgency (working hours for normal cases:
# nobody is raised to the street at night for a broken street light).
STEP_GAPS = {"emergency": "30m", "urgent": "2h", "normal": "4wh"}
COMMAND_CENTRE = "区网格化管理指挥中心"
DISTRICT_LEADERS = "区领导（领导督办）"


class OrderIssuer:
    """Who issues a supervision order at a step."""

    STREET = "street"
    COMMAND_CENTRE = "command_centre"
    DISTRICT = "district"  # the district's leaders


class Step(BaseModel):
    to_level: Level  # the case's escalation level after this step
    supervisor: str  # who supervises it from then on (a unit's name)
    order: str | None = None  # an OrderIssuer: this step issues a supervision order
    notify: str  # who is told, as people read it


class EscalationPolicy(BaseModel):
    category_code: str | None
    urgency: str
    start_level: Level
    handled_locally: bool  # worked at grid or community level first
    gap: str  # between steps
    steps: list[Step]

    def snapshot(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


def step_gap(urgency: str, handle_limit: str) -> str:
    """Drills with second limits (`2s`) climb as fast as their limit; otherwise by urgency."""
    if TimeLimit.parse(handle_limit).unit == "s":
        return handle_limit
    return STEP_GAPS.get(urgency, STEP_GAPS["normal"])


def build_policy(
    *,
    category_code: str | None,
    urgency: str,
    level: str | None,
    handled_locally: bool,
    handle_limit: str,
    names: dict[Level, str],
) -> EscalationPolicy:
    """``names``: the case's community, street and district names (from its grid's place in the tree)."""
    start = Level(level) if level in {lv.value for lv in Level} else Level.DISTRICT
    community = names.get(Level.COMMUNITY, "所在社区")
    street = names.get(Level.STREET, "所在街道")
    steps: list[Step] = []
    if handled_locally or start in (Level.GRID, Level.COMMUNITY):
        if start is Level.GRID:
            steps.append(Step(to_level=Level.COMMUNITY, supervisor=community, notify=f"{community}负责人"))
        steps.append(
            Step(to_level=Level.STREET, supervisor=street, order=OrderIssuer.STREET, notify=f"{street}负责人")
        )
        steps.append(
            Step(
                to_level=Level.DISTRICT,
                supervisor=COMMAND_CENTRE,
                order=OrderIssuer.COMMAND_CENTRE,
                notify=COMMAND_CENTRE,
            )
        )
    else:
        if start is Level.STREET:
            steps.append(
                Step(
                    to_level=Level.STREET,
                    supervisor=street,
                    order=OrderIssuer.STREET,
                    notify=f"{street}负责人",
                )
            )
        steps.append(
            Step(
                to_level=Level.DISTRICT,
                supervisor=COMMAND_CENTRE,
                order=OrderIssuer.COMMAND_CENTRE,
                notify=COMMAND_CENTRE,
            )
        )
        steps.append(
            Step(
                to_level=Level.DISTRICT,
                supervisor=DISTRICT_LEADERS,
                order=OrderIssuer.DISTRICT,
                notify="区领导",
            )
        )
    return EscalationPolicy(
        category_code=category_code,
        urgency=urgency,
        start_level=start,
        handled_locally=handled_locally,
        gap=step_gap(urgency, handle_limit),
        steps=steps,
    )
