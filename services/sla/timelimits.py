"""Time limits as the category table writes them: ``30m``, ``2h``, ``4wh``, ``1wd`` (and ``s`` for drills).

m/h/s are calendar time. wh (working hours) and wd (working days) belong on the business calendar;
until that calendar exists they are counted as calendar hours and calendar days (24 h).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

_PATTERN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|wh|wd)\s*$")

UNIT_LABELS = {"s": "秒", "m": "分钟", "h": "小时", "wh": "工作小时", "wd": "工作日"}


class BadTimeLimit(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class TimeLimit:
    amount: float
    unit: str

    @classmethod
    def parse(cls, text: str) -> TimeLimit:
        m = _PATTERN.match(text or "")
        if not m:
            raise BadTimeLimit(f"time limit {text!r} is not like 30m, 2h, 4wh, 1wd")
        amount = float(m.group(1))
        if amount <= 0:
            raise BadTimeLimit(f"time limit {text!r} must be positive")
        return cls(amount=amount, unit=m.group(2))

    def calendar(self) -> timedelta:
        """The limit as calendar time (see module docstring for working units)."""
        seconds = {"s": 1, "m": 60, "h": 3600, "wh": 3600, "wd": 86400}[self.unit]
        return timedelta(seconds=self.amount * seconds)

    @property
    def label(self) -> str:
        amount = int(self.amount) if self.amount.is_integer() else self.amount
        return f"{amount}{UNIT_LABELS[self.unit]}"

    def __str__(self) -> str:
        amount = int(self.amount) if self.amount.is_integer() else self.amount
        return f"{amount}{self.unit}"
