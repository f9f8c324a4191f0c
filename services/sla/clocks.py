"""SLA clocks per phase, pure: what each lifecycle event does to which clock (one table), and the clock
arithmetic on working time. Escalation's transactional code reads a clock row, applies these, writes it
back and sets timers; the console reads clocks to show due times, elapsed time and the light.

A clock counts ``limit_minutes`` (+ approved extensions) of working time (wh, wd) or calendar time
(s, m, h). It remembers the minutes ``used`` before its current running span, so a pause keeps what
was left and a resume continues from it; a restart begins again with the limit the rules give.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from schemas.events import EventType
from services.sla.calendar import WorkCalendar
from services.sla.timelimits import TimeLimit
from services.sla.worktime import (
    DEFAULT_OFFICE_HOURS,
    OfficeHours,
    add_working_minutes,
    limit_minutes,
    working_minutes_between,
)


class Phase(StrEnum):
    SIGN = "sign"  # 签收: dispatched → signed
    HANDLE = "handle"  # 处置: dispatched → resolved
    CHECK = "check"  # 核查: resolved → closed or reworked


PHASE_LABELS = {Phase.SIGN: "签收", Phase.HANDLE: "处置", Phase.CHECK: "核查"}


class Op(StrEnum):
    START = "start"  # begin with the phase's limit (a running clock begins again)
    RESUME = "resume"  # a paused clock continues with what it had left; none yet: start
    PAUSE = "pause"
    EXTEND = "extend"  # an approved extension moves the deadline
    RESTART = "restart"  # begin again with the limit the rules give (rework, reopen)
    FINISH = "finish"  # the phase's work is done
    STOP = "stop"  # the case left the phase without finishing it (voided, merged, returned)


S, H, C = Phase.SIGN, Phase.HANDLE, Phase.CHECK
E = EventType

# What each lifecycle event does to each phase's clock. Nothing else changes a clock.
CLOCK_RULES: dict[str, tuple[tuple[Phase, Op], ...]] = {
    E.DISPATCHED: ((S, Op.START), (H, Op.RESUME)),
    E.REDISPATCHED: ((S, Op.START), (H, Op.RESUME)),  # the new department signs anew; handling continues
    E.HANDED_OVER: ((S, Op.START), (H, Op.START)),  # the department's own limits, from now
    E.SIGNED: ((S, Op.FINISH),),
    E.RETURNED: ((S, Op.STOP), (H, Op.PAUSE)),  # back at the command centre: the clock waits
    E.SUSPENDED: ((H, Op.PAUSE),),
    E.SUSPENSION_APPROVED: ((H, Op.PAUSE),),
    E.RESUMED: ((H, Op.RESUME),),
    E.EXTENSION_APPROVED: ((H, Op.EXTEND),),
    E.RESOLVED: ((H, Op.FINISH), (C, Op.START)),
    E.REWORKED: ((C, Op.FINISH), (H, Op.RESTART)),
    E.REOPENED: ((H, Op.RESTART),),
    E.CLOSED: ((C, Op.FINISH), (H, Op.STOP), (S, Op.STOP)),
    E.REJECTED: ((S, Op.STOP), (H, Op.STOP), (C, Op.STOP)),
    E.MARKED_DUPLICATE: ((S, Op.STOP), (H, Op.STOP), (C, Op.STOP)),
}


@dataclass(frozen=True)
class TimeBase:
    """The calendar and office hours clocks count in (one per process; the calendar reloads rarely)."""

    calendar: WorkCalendar
    hours: OfficeHours = DEFAULT_OFFICE_HOURS

    def for_hours(self, office_hours: str | None) -> TimeBase:
        """The same calendar in a department's own office hours (None: the default)."""
        if not office_hours or office_hours == str(self.hours):
            return self
        return _with_hours(self, office_hours)

    def between(self, a: dt.datetime, b: dt.datetime, working: bool) -> float:
        if working:
            return working_minutes_between(a, b, self.calendar, self.hours).minutes
        return max((b - a).total_seconds() / 60.0, 0.0)

    def add(self, start: dt.datetime, minutes: float, working: bool) -> tuple[dt.datetime, bool]:
        """(due, provisional); the result in UTC."""
        if working:
            due, provisional = add_working_minutes(start, minutes, self.calendar, self.hours)
            return due.astimezone(dt.UTC), provisional
        return (start + dt.timedelta(minutes=max(minutes, 0.0))).astimezone(dt.UTC), False

    def limit(self, text: str) -> tuple[float, bool]:
        """(minutes, working) of a time limit like 2wh, 1wd, 30m."""
        tl = TimeLimit.parse(text)
        return limit_minutes(tl, self.hours), tl.unit in ("wh", "wd")


@dataclass(frozen=True)
class Clock:
    phase: Phase
    state: str  # running | paused | done | stopped
    limit_text: str
    working: bool
    limit_minutes: float
    started_at: dt.datetime
    extended_minutes: float = 0.0
    used_minutes: float = 0.0
    span_started_at: dt.datetime | None = None
    paused_at: dt.datetime | None = None
    due_at: dt.datetime | None = None
    provisional: bool = False
    warned_at: dt.datetime | None = None
    overdue_at: dt.datetime | None = None
    ended_at: dt.datetime | None = None
    step: int = 0
    policy: dict[str, Any] | None = None
    history: list[dict[str, Any]] = field(default_factory=list)
    version: int = 1
    office_hours: str | None = None  # the working unit's hours (None: the default)

    @property
    def total_minutes(self) -> float:
        return self.limit_minutes + self.extended_minutes

    @property
    def running(self) -> bool:
        return self.state == "running"

    def elapsed(self, tb: TimeBase, now: dt.datetime) -> float:
        """Minutes of its kind used so far (pauses not counted)."""
        if self.running and self.span_started_at is not None:
            return self.used_minutes + tb.between(self.span_started_at, now, self.working)
        return self.used_minutes

    def ratio(self, tb: TimeBase, now: dt.datetime) -> float:
        return self.elapsed(tb, now) / self.total_minutes if self.total_minutes > 0 else 1.0

    def warn_at(self, tb: TimeBase, share: float) -> dt.datetime | None:
        """When the running clock reaches ``share`` of its limit (the yellow light), if still ahead."""
        if not self.running or self.warned_at is not None or self.span_started_at is None:
            return None
        left = share * self.total_minutes - self.used_minutes
        if left <= 0:
            return self.span_started_at
        return tb.add(self.span_started_at, left, self.working)[0]

    def _note(self, now: dt.datetime, what: str, **extra: Any) -> list[dict[str, Any]]:
        return [*self.history, {"at": now.isoformat(), "what": what, **extra}]


def start(
    tb: TimeBase,
    phase: Phase,
    limit_text: str,
    now: dt.datetime,
    *,
    policy: dict[str, Any] | None = None,
    previous: Clock | None = None,
    what: str = "started",
    office_hours: str | None = None,
) -> Clock:
    minutes, working = tb.limit(limit_text)
    due, provisional = tb.add(now, minutes, working)
    history = (
        previous._note(now, what, limit=limit_text)
        if previous
        else [{"at": now.isoformat(), "what": what, "limit": limit_text}]
    )
    return Clock(
        phase=phase,
        state="running",
        limit_text=limit_text,
        working=working,
        limit_minutes=minutes,
        started_at=now,
        span_started_at=now,
        due_at=due,
        provisional=provisional,
        policy=policy,
        history=history,
        version=(previous.version + 1) if previous else 1,
        office_hours=office_hours,
    )


def pause(tb: TimeBase, clock: Clock, now: dt.datetime) -> Clock:
    if not clock.running:
        return clock
    used = clock.elapsed(tb, now)
    return replace(
        clock,
        state="paused",
        used_minutes=used,
        span_started_at=None,
        paused_at=now,
        due_at=None,
        history=clock._note(now, "paused", used_minutes=round(used, 1)),
        version=clock.version + 1,
    )


def resume(tb: TimeBase, clock: Clock, now: dt.datetime) -> Clock:
    """A paused clock continues with the minutes it had left (none left: due at once)."""
    if clock.state != "paused":
        return clock
    due, provisional = tb.add(now, clock.total_minutes - clock.used_minutes, clock.working)
    return replace(
        clock,
        state="running",
        span_started_at=now,
        paused_at=None,
        due_at=due,
        provisional=provisional,
        history=clock._note(now, "resumed", left_minutes=round(clock.total_minutes - clock.used_minutes, 1)),
        version=clock.version + 1,
    )


def extend(tb: TimeBase, clock: Clock, new_due: dt.datetime, now: dt.datetime) -> Clock:
    """An approved extension: the deadline moves to ``new_due``; the limit grows by the time between."""
    if not clock.running or clock.due_at is None:
        return clock
    moved = (
        tb.between(clock.due_at, new_due, clock.working)
        if new_due > clock.due_at
        else -tb.between(new_due, clock.due_at, clock.working)
    )
    return replace(
        clock,
        extended_minutes=clock.extended_minutes + moved,
        due_at=new_due.astimezone(dt.UTC),
        overdue_at=None if new_due > now else clock.overdue_at,
        history=clock._note(now, "extended", to=new_due.isoformat(), minutes=round(moved, 1)),
        version=clock.version + 1,
    )


def end(tb: TimeBase, clock: Clock, now: dt.datetime, state: str) -> Clock:
    """``done`` (finished its phase) or ``stopped`` (left it)."""
    if clock.state in ("done", "stopped"):
        return clock
    used = clock.elapsed(tb, now)
    return replace(
        clock,
        state=state,
        used_minutes=used,
        span_started_at=None,
        ended_at=now,
        history=clock._note(now, state, used_minutes=round(used, 1)),
        version=clock.version + 1,
    )


def light(ratio: float, *, yellow: float, red: float = 1.0) -> str:
    """green below ``yellow`` of the limit, yellow from it, red past ``red``."""
    if ratio >= red:
        return "red"
    return "yellow" if ratio >= yellow else "green"


LIGHT_LABELS = {"green": "正常", "yellow": "临期", "red": "超时"}


def time_base(calendar_path: str | None, office_hours: str) -> TimeBase:
    """The calendar (library, shipped overrides, and the deployment's file if there is one) and hours."""
    from pathlib import Path

    return TimeBase(
        calendar=WorkCalendar.load(Path(calendar_path) if calendar_path else None),
        hours=OfficeHours.parse(office_hours),
    )


CLOCK_COLUMNS = (
    "phase, state, limit_text, working, limit_minutes, extended_minutes, used_minutes, started_at, "
    "span_started_at, paused_at, due_at, provisional, warned_at, overdue_at, ended_at, step, policy, history, version, "
    "office_hours"
)


def from_row(row: Any) -> Clock:
    return Clock(
        phase=Phase(row["phase"]),
        state=row["state"],
        limit_text=row["limit_text"],
        working=row["working"],
        limit_minutes=row["limit_minutes"],
        started_at=row["started_at"],
        extended_minutes=row["extended_minutes"],
        used_minutes=row["used_minutes"],
        span_started_at=row["span_started_at"],
        paused_at=row["paused_at"],
        due_at=row["due_at"],
        provisional=row["provisional"],
        warned_at=row["warned_at"],
        overdue_at=row["overdue_at"],
        ended_at=row["ended_at"],
        step=row["step"],
        policy=row["policy"],
        history=list(row["history"] or []),
        version=row["version"],
        office_hours=row["office_hours"],
    )


def view(
    clock: Clock, tb: TimeBase, now: dt.datetime, *, warn_ratio: float, red_ratio: float = 1.0
) -> dict[str, Any]:
    """A clock as the API shows it: due time, elapsed, pauses and extensions, the light."""
    tb = tb.for_hours(clock.office_hours)
    ratio = clock.ratio(tb, now)
    pauses = [h for h in clock.history if h.get("what") == "paused"]
    extensions = [h for h in clock.history if h.get("what") == "extended"]
    return {
        "phase": clock.phase.value,
        "phase_label": PHASE_LABELS[clock.phase],
        "state": clock.state,
        "state_label": STATE_LABELS.get(clock.state, clock.state),
        "limit": clock.limit_text,
        "working_time": clock.working,
        "office_hours": str(tb.hours) if clock.working else None,
        "limit_minutes": round(clock.limit_minutes, 1),
        "extended_minutes": round(clock.extended_minutes, 1),
        "elapsed_minutes": round(clock.elapsed(tb, now), 1),
        "elapsed_ratio": round(ratio, 3),
        "light": light(ratio, yellow=warn_ratio, red=red_ratio)
        if clock.state in ("running", "paused")
        else None,
        "started_at": clock.started_at,
        "due_at": clock.due_at,
        "provisional": clock.provisional,
        "warned_at": clock.warned_at,
        "overdue_at": clock.overdue_at,
        "ended_at": clock.ended_at,
        "pauses": len(pauses),
        "extensions": len(extensions),
        "history": clock.history,
    }


STATE_LABELS = {"running": "计时中", "paused": "已暂停", "done": "已完成", "stopped": "已停止"}


@functools.lru_cache(maxsize=64)
def _with_hours(base: TimeBase, office_hours: str) -> TimeBase:
    return TimeBase(calendar=base.calendar, hours=OfficeHours.parse(office_hours))
