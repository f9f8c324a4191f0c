"""Escalation's transactional work, inside the caller's transaction:

- ``apply_lifecycle``: a case event starts, pauses, resumes, moves, restarts or ends the case's clocks
  (``CLOCK_RULES``) and sets their timers;
- ``fire_timer``: a timer that came due warns (yellow light), marks a phase overdue, or climbs one step
  of the escalation ladder (raising the case's level, issuing a supervision order), or marks a
  supervision order's reply late.

Timers name the clock version they were set for: a clock changed since turns an old timer into a no-op,
so changing a clock never needs to find and cancel its timers (and never waits on a scheduler's locks).
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from dataclasses import dataclass, replace
from typing import Any

import asyncpg
from prometheus_client import Counter

from escalation.ladder import EscalationPolicy, build_policy
from schemas.events import (
    DeadlineWarningPayload,
    EscalatedPayload,
    EventEnvelope,
    EventType,
    ExtensionApprovedPayload,
    SlaStartedPayload,
)
from schemas.identity import Actor
from schemas.levels import LEVEL_LABELS, Level
from services.ledger.service import LockedCase, lock_case, record_event
from services.reference.catalog import Catalog
from services.sla import clocks
from services.sla.clocks import CLOCK_COLUMNS, CLOCK_RULES, PHASE_LABELS, Clock, Op, Phase, TimeBase
from services.supervision import service as supervision

log = logging.getLogger(__name__)

ACTOR = Actor.system("escalation", "督办升级")
ESCALATIONS = Counter("gridcase_escalations_total", "Cases raised a level or marked overdue", ["to_level"])
TIMERS_FIRED = Counter("gridcase_timers_fired_total", "Timers fired", ["kind", "effect"])


@dataclass(frozen=True)
class Rules:
    """What escalation needs from the settings, read once."""

    tb: TimeBase
    warn_ratio: float = 0.8
    check_limit: str = "1wd"
    default_sign_limit: str = "2wh"
    default_handle_limit: str = "3wd"
    reply_limit: str = "1wd"


# --- lifecycle events → clocks ---------------------------------------------------------------


async def apply_lifecycle(
    conn: asyncpg.Connection, event: EventEnvelope, *, rules: Rules, catalog: Catalog
) -> None:
    ops = CLOCK_RULES.get(event.type)
    if not ops:
        return
    case = await lock_case(conn, event.case_id)
    for phase, op in ops:
        case = await _apply(conn, case, phase, op, event, rules=rules, catalog=catalog)


async def _apply(
    conn: asyncpg.Connection,
    case: LockedCase,
    phase: Phase,
    op: Op,
    event: EventEnvelope,
    *,
    rules: Rules,
    catalog: Catalog,
) -> LockedCase:
    at = event.occurred_at
    row = await conn.fetchrow(
        f"SELECT {CLOCK_COLUMNS} FROM case_clocks WHERE case_id = $1 AND phase = $2 FOR UPDATE",
        case.row["id"],
        phase.value,
    )
    old = clocks.from_row(row) if row is not None else None
    new: Clock | None
    fresh = op in (Op.START, Op.RESTART) or (
        op is Op.RESUME and (old is None or old.state in ("done", "stopped"))
    )
    if fresh:
        limit = _limit(phase, case.row, catalog, rules)
        policy = _policy(case.row, catalog, limit).snapshot() if phase is Phase.HANDLE else None
        what = "restarted" if old is not None else "started"
        hours = _office_hours(phase, case.row, catalog)
        new = clocks.start(
            rules.tb.for_hours(hours),
            phase,
            limit,
            at,
            policy=policy,
            previous=old,
            what=what,
            office_hours=hours,
        )
    elif old is None:
        return case
    else:
        tb = rules.tb.for_hours(old.office_hours)
        if op is Op.RESUME:
            new = clocks.resume(tb, old, at)
        elif op is Op.PAUSE:
            new = clocks.pause(tb, old, at)
        elif op is Op.EXTEND:
            moved = ExtensionApprovedPayload.model_validate(event.payload)
            new = clocks.extend(tb, old, moved.to_due_at, at)
        else:
            new = clocks.end(tb, old, at, "done" if op is Op.FINISH else "stopped")
    if old is not None and new.version == old.version:
        return case
    await _save(conn, case.row["id"], new)
    if new.running:
        await _set_timers(conn, case.row["id"], new, rules, at)
    if phase is not Phase.HANDLE:
        return case
    if fresh:
        # The handling deadline on the case row, and the timeline's "开始计时" with the policy snapshot.
        await record_event(
            conn,
            case=case,
            event_type=EventType.SLA_STARTED,
            actor=ACTOR,
            payload=SlaStartedPayload(due_at=new.due_at or at, policy=new.policy or {}).model_dump(
                mode="json"
            )
            | {"phase": phase.value, "limit": new.limit_text, "provisional": new.provisional},
            updates={"due_at": new.due_at},
        )
        return await lock_case(conn, case.row["id"])
    await conn.execute("UPDATE cases SET due_at = $2 WHERE id = $1", case.row["id"], new.due_at)
    return case


def _limit(phase: Phase, row: asyncpg.Record, catalog: Catalog, rules: Rules) -> str:
    """The phase's limit: what the matrix gave the case at dispatch, else the category's, else the default."""
    if phase is Phase.CHECK:
        return rules.check_limit
    category = catalog.categories.get(row["category_code"] or "")
    if phase is Phase.SIGN:
        return row["sign_limit"] or (category.sign_limit if category else None) or rules.default_sign_limit
    return row["handle_limit"] or (category.handle_limit if category else None) or rules.default_handle_limit


def _office_hours(phase: Phase, row: asyncpg.Record, catalog: Catalog) -> str | None:
    """The lead department's own hours while it works the case; the default otherwise."""
    if phase is Phase.CHECK or row["handler_level"] is not None:
        return None
    department = catalog.departments.get(row["department_code"] or "")
    return department.office_hours if department else None


def _policy(row: asyncpg.Record, catalog: Catalog, handle_limit: str) -> EscalationPolicy:
    names: dict[Level, str] = {}
    node = catalog.areas.get(row["grid_code"] or "")
    while node is not None:
        if node.level in {lv.value for lv in Level}:
            names[Level(node.level)] = node.name
        node = catalog.areas.get(node.parent_code) if node.parent_code else None
    return build_policy(
        category_code=row["category_code"],
        urgency=row["urgency"],
        level=row["level"],
        handled_locally=row["handler_level"] is not None,
        handle_limit=handle_limit,
        names=names,
    )


async def _save(conn: asyncpg.Connection, case_id: uuid.UUID, c: Clock) -> None:
    await conn.execute(
        "INSERT INTO case_clocks (case_id, phase, state, limit_text, working, limit_minutes, extended_minutes, "
        "used_minutes, started_at, span_started_at, paused_at, due_at, provisional, warned_at, overdue_at, ended_at, "
        "step, policy, history, version, office_hours, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, "
        "$11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, clock_timestamp()) ON CONFLICT (case_id, phase) DO UPDATE SET "
        "state = EXCLUDED.state, limit_text = EXCLUDED.limit_text, working = EXCLUDED.working, "
        "limit_minutes = EXCLUDED.limit_minutes, extended_minutes = EXCLUDED.extended_minutes, "
        "used_minutes = EXCLUDED.used_minutes, started_at = EXCLUDED.started_at, "
        "span_started_at = EXCLUDED.span_started_at, paused_at = EXCLUDED.paused_at, due_at = EXCLUDED.due_at, "
        "provisional = EXCLUDED.provisional, warned_at = EXCLUDED.warned_at, overdue_at = EXCLUDED.overdue_at, "
        "ended_at = EXCLUDED.ended_at, step = EXCLUDED.step, policy = EXCLUDED.policy, history = EXCLUDED.history, "
        "version = EXCLUDED.version, office_hours = EXCLUDED.office_hours, updated_at = clock_timestamp()",
        case_id,
        c.phase.value,
        c.state,
        c.limit_text,
        c.working,
        c.limit_minutes,
        c.extended_minutes,
        c.used_minutes,
        c.started_at,
        c.span_started_at,
        c.paused_at,
        c.due_at,
        c.provisional,
        c.warned_at,
        c.overdue_at,
        c.ended_at,
        c.step,
        c.policy,
        c.history,
        c.version,
        c.office_hours,
    )


async def _timer(
    conn: asyncpg.Connection,
    case_id: uuid.UUID,
    c: Clock,
    kind: str,
    due: dt.datetime,
    ref: int | None = None,
) -> None:
    await conn.execute(
        "INSERT INTO timers (case_id, phase, kind, ref, clock_version, due_at) VALUES ($1, $2, $3, $4, $5, $6)",
        case_id,
        c.phase.value,
        kind,
        ref,
        c.version,
        due,
    )


async def _set_timers(
    conn: asyncpg.Connection, case_id: uuid.UUID, c: Clock, rules: Rules, now: dt.datetime
) -> None:
    warn = c.warn_at(rules.tb, rules.warn_ratio)
    if warn is not None:
        await _timer(conn, case_id, c, "warn", warn)
    if c.step == 0 and c.due_at is not None:
        await _timer(conn, case_id, c, "due", c.due_at, 0)
    elif c.policy is not None:  # resumed in the middle of its ladder: the next step waits a gap again
        await _timer(conn, case_id, c, "due", _after_gap(rules, c, now), c.step)


def _after_gap(rules: Rules, c: Clock, now: dt.datetime) -> dt.datetime:
    gap = EscalationPolicy.model_validate(c.policy).gap
    tb = rules.tb.for_hours(c.office_hours)
    minutes, working = tb.limit(gap)
    return tb.add(now, minutes, working)[0]


# --- timers that came due ----------------------------------------------------------------------


async def fire_timer(
    conn: asyncpg.Connection, timer: asyncpg.Record, *, rules: Rules, catalog: Catalog
) -> str:
    """Do what the timer is for, if it still applies; returns what it did (for metrics and tests)."""
    case = await lock_case(conn, timer["case_id"])
    if timer["kind"] == "order_due":
        fired = await supervision.mark_overdue(conn, case=case, order_id=timer["ref"], actor=ACTOR)
        return "order_overdue" if fired else "noop"
    row = await conn.fetchrow(
        f"SELECT {CLOCK_COLUMNS} FROM case_clocks WHERE case_id = $1 AND phase = $2 FOR UPDATE",
        timer["case_id"],
        timer["phase"],
    )
    if row is None or row["version"] != timer["clock_version"] or row["state"] != "running":
        return "noop"  # the clock moved on (paused, finished, restarted) since this timer was set
    clock = clocks.from_row(row)
    if timer["kind"] == "warn":
        return await _warn(conn, case, clock, rules)
    if clock.phase is not Phase.HANDLE or clock.policy is None:
        return await _overdue(conn, case, clock)
    return await _climb(conn, case, clock, timer["ref"] or 0, rules=rules, catalog=catalog)


async def _warn(conn: asyncpg.Connection, case: LockedCase, clock: Clock, rules: Rules) -> str:
    if clock.warned_at is not None:
        return "noop"
    await _save(conn, case.row["id"], replace(clock, warned_at=case.now))
    await record_event(
        conn,
        case=case,
        event_type=EventType.DEADLINE_WARNING,
        actor=ACTOR,
        payload=DeadlineWarningPayload(
            phase=clock.phase.value,
            phase_label=PHASE_LABELS[clock.phase],
            due_at=clock.due_at or case.now,
            elapsed_ratio=round(clock.ratio(rules.tb.for_hours(clock.office_hours), case.now), 3),
            light="yellow",
        ).model_dump(mode="json"),
    )
    return "warned"


async def _overdue(conn: asyncpg.Connection, case: LockedCase, clock: Clock) -> str:
    """A phase without a ladder (sign, check), or a ladder already climbed: overdue, once."""
    if clock.overdue_at is not None:
        return "noop"
    await _save(conn, case.row["id"], replace(clock, overdue_at=case.now))
    level = case.row["level"]
    await record_event(
        conn,
        case=case,
        event_type=EventType.OVERDUE,
        actor=ACTOR,
        payload={
            "phase": clock.phase.value,
            "phase_label": PHASE_LABELS[clock.phase],
            "level": level,
            "level_label": LEVEL_LABELS[Level(level)] if level in {lv.value for lv in Level} else None,
            "overdue_since": (clock.due_at or case.now).isoformat(),
        },
    )
    ESCALATIONS.labels("overdue").inc()
    return "overdue"


async def _climb(
    conn: asyncpg.Connection, case: LockedCase, clock: Clock, step: int, *, rules: Rules, catalog: Catalog
) -> str:
    policy = EscalationPolicy.model_validate(clock.policy)
    if step != clock.step:
        return "noop"  # this step fired already (a second timer for it)
    overdue_at = clock.overdue_at or case.now
    if step >= len(policy.steps):
        # At the top: the case stays overdue under supervision, marked once.
        top = [*clock.history, {"at": case.now.isoformat(), "what": "exhausted"}]
        await _overdue(conn, case, replace(clock, step=step + 1, overdue_at=None, history=top))
        return "exhausted"
    rung = policy.steps[step]
    nxt = _after_gap(rules, clock, case.now)  # the next step, or after the last one the overdue mark
    moved = replace(clock, overdue_at=overdue_at, step=step + 1)
    await _save(conn, case.row["id"], moved)
    await _timer(conn, case.row["id"], moved, "due", nxt, step + 1)
    from_level = case.row["level"] or policy.start_level.value
    order_id = None
    event = await record_event(
        conn,
        case=case,
        event_type=EventType.ESCALATED,
        actor=ACTOR,
        payload=EscalatedPayload(
            from_level=from_level,
            from_level_label=LEVEL_LABELS[Level(from_level)],
            to_level=rung.to_level.value,
            to_level_label=rung.to_level.label,
            due_at=nxt,
            overdue_since=clock.due_at or case.now,
            step=step + 1,
            steps=len(policy.steps),
            supervisor=rung.supervisor,
            notify=rung.notify,
        ).model_dump(mode="json"),
        updates={"level": rung.to_level.value, "supervisor_label": rung.supervisor},
    )
    ESCALATIONS.labels(rung.to_level.value).inc()
    if rung.order is not None:
        case = await lock_case(conn, case.row["id"])
        department = catalog.departments.get(case.row["department_code"] or "")
        reply_minutes, reply_working = rules.tb.limit(_reply_limit(rules, policy))
        order_id, _ = await supervision.issue(
            conn,
            case=case,
            issuer_level=rung.order,
            issuer_label=rung.supervisor,
            actor=ACTOR,
            reason=f"案件超过办理时限未办结，由{rung.supervisor}督办，请尽快办理并回复",
            reply_due_at=rules.tb.add(case.now, reply_minutes, reply_working)[0],
            department_name=department.name if department else None,
        )
    log.info(
        "case %s escalated to step %d/%d (event %s, order %s)",
        case.row["id"],
        step + 1,
        len(policy.steps),
        event.event_id,
        order_id,
    )
    return "escalated"


def _reply_limit(rules: Rules, policy: EscalationPolicy) -> str:
    """Drills (second gaps) answer as fast as they climb."""
    return policy.gap if policy.gap.endswith("s") else rules.reply_limit


def describe(
    clock_rows: list[Any], tb: TimeBase, now: dt.datetime, warn_ratio: float
) -> list[dict[str, Any]]:
    return [clocks.view(clocks.from_row(r), tb, now, warn_ratio=warn_ratio) for r in clock_rows]
