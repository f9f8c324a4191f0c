"""Escalation policy: the ladder a case climbs and how long each step waits.

A snapshot of the policy is stored with the clock when it starts (as Grafana OnCall does), so a
later change of a category's time limit does not move deadlines already running.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel

from schemas.levels import Level
from services.sla.timelimits import TimeLimit


class EscalationPolicy(BaseModel):
    category_code: str
    handle_limit: str  # first deadline, from dispatch
    step_limit: str  # each later level gets this long before it escalates again
    start_level: Level
    ladder: list[Level]

    def first_due(self, started_at: datetime) -> datetime:
        return started_at + TimeLimit.parse(self.handle_limit).calendar()

    def step(self) -> timedelta:
        return TimeLimit.parse(self.step_limit).calendar()

    def snapshot(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


def policy_for(*, category_code: str, handle_limit: str, level: str) -> EscalationPolicy:
    start = Level(level)
    ladder = list(Level)[list(Level).index(start) :]
    return EscalationPolicy(
        category_code=category_code,
        handle_limit=handle_limit,
        step_limit=handle_limit,
        start_level=start,
        ladder=ladder,
    )
