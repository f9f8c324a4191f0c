"""Read side of the console: cases, their timelines and notifications, labelled for people."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import timedelta
from typing import Any

import asyncpg

from schemas.access import ACTION_PERMISSIONS, LOCAL_LABELS, CaseFacts, Permission, decide
from schemas.api import CHANNEL_LABELS, URGENCY_LABELS, Channel, Urgency
from schemas.events import EVENT_LABELS, EventType
from schemas.identity import Principal
from schemas.levels import LEVEL_LABELS, Level
from schemas.states import CLOCK_RUNNING, STATUS_LABELS, TERMINAL, CaseStatus, allowed_actions
from schemas.triage import TRIAGE_LABELS, TriageReason
from schemas.workflow import (
    BOUNCE_LABELS,
    PHOTO_KIND_LABELS,
    REQUEST_LABELS,
    CaseState,
    RequestKind,
    pending_kinds,
)
from schemas.workflow import available as workflow_available
from services.access.filters import case_condition, count_condition
from services.casework import repository as casework
from services.console.access import facts_of
from services.console.listing import DEFAULT_DUE_WITHIN_H, CaseFilters, Cursor
from services.privacy.masking import mask_address, mask_free_text, mask_id_number, mask_name, mask_phone
from services.privacy.redaction import redact_url
from services.reference.catalog import Catalog
from services.sla.clocks import CLOCK_COLUMNS, Phase, TimeBase
from services.sla.clocks import from_row as clock_from_row
from services.sla.clocks import view as clock_view
from services.supervision.service import orders_of as supervision_orders_of

_ACTOR_LABELS = {
    "system:dispatch": "系统·自动派遣",
    "system:escalation": "系统·督办升级",
    "system:notify": "系统·通知",
}
ORDER_STATUS_LABELS = {"open": "待回复", "replied": "已回复", "closed": "已办结"}
ATTACHMENT_LABELS = {"image": "图片", "voice": "语音", "video": "视频", "file": "文件"}
NOTIFICATION_STATUS_LABELS = {"pending": "待发送", "delivered": "已送达", "failed": "发送失败"}

_SUMMARY_COLUMNS = (
    "id, case_no, status, channel, description, category_code, grid_code, department_code, level, "
    "urgency, lat, lon, created_at, updated_at, dispatched_at, due_at, triage_reason, "
    "assist_department_codes, submitted_by, handler_level, handler_area_codes, coordinator_department_code, "
    "bounced_at, bounce_reason, return_count"
)
_CLOCK_RUNNING_SQL = ", ".join(f"'{s.value}'" for s in sorted(CLOCK_RUNNING))
_TERMINAL_SQL = ", ".join(f"'{s.value}'" for s in sorted(TERMINAL))
# A case still `reported` after this long was not picked up by dispatch: the console flags it.
STRANDED_AFTER = "2 minutes"


def _label(mapping: dict[Any, str], key: Any, enum: type[Any]) -> str | None:
    if key is None:
        return None
    try:
        return mapping[enum(key)]
    except (ValueError, KeyError):
        return str(key)


def actor_label(
    actor: str, catalog: Catalog | None = None, *, name: str | None = None, unit: str | None = None
) -> str:
    if actor in _ACTOR_LABELS:
        return _ACTOR_LABELS[actor]
    if name:
        return f"{name}（{unit}）" if unit else name
    kind, _, who = actor.partition(":")
    if kind == "channel":
        return f"来源·{_label(CHANNEL_LABELS, who, Channel)}"
    if kind == "operator":
        return f"操作员·{who}"
    if kind == "department":
        department = catalog.departments.get(who) if catalog else None
        return f"部门·{department.name if department else who}"
    return actor


def summary(row: asyncpg.Record, catalog: Catalog, now: Any, principal: Principal) -> dict[str, Any]:
    category = catalog.categories.get(row["category_code"] or "")
    department = catalog.departments.get(row["department_code"] or "")
    details = bool(decide(principal, Permission.CASE_READ_DETAILS, facts_of(row)))
    return {
        "case_id": str(row["id"]),
        "case_no": row["case_no"],
        "status": row["status"],
        "status_label": _label(STATUS_LABELS, row["status"], CaseStatus),
        "channel": row["channel"],
        "channel_label": _label(CHANNEL_LABELS, row["channel"], Channel),
        # Free text and exact points go only to those who handle the case; numbers in it stay masked.
        "description": mask_free_text(row["description"]) if details else None,
        "description_hidden": not details,
        "category_code": row["category_code"],
        "category_name": category.name if category else None,
        "grid_code": row["grid_code"],
        "grid_name": catalog.area_name(row["grid_code"]),
        "department_code": row["department_code"],
        "department_name": department.name if department else None,
        "level": row["level"],
        "level_label": _label(LEVEL_LABELS, row["level"], Level),
        "urgency": row["urgency"],
        "urgency_label": _label(URGENCY_LABELS, row["urgency"], Urgency),
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
        "dispatched_at": row["dispatched_at"],
        "due_at": row["due_at"],
        "overdue": bool(
            row["due_at"] and row["status"] in {s.value for s in CLOCK_RUNNING} and row["due_at"] < now
        ),
        "location": {"lat": row["lat"], "lon": row["lon"]} if details and row["lat"] is not None else None,
        "location_hidden": not details,
        # 小事不出网格: worked at the grid or community first, until they hand it over.
        "handler_level": row["handler_level"],
        "handler_area_codes": list(row["handler_area_codes"] or []),
        "handler_label": _handler_label(row, catalog, department.name if department else None),
        # 踢皮球 caught: raised to the street, the first department coordinates.
        "bounced": row["bounced_at"] is not None,
        "bounce_label": BOUNCE_LABELS.get(row["bounce_reason"] or "") if row["bounced_at"] else None,
        "return_count": row["return_count"],
        "coordinator_department_code": row["coordinator_department_code"],
        "coordinator_department_name": _department_name(catalog, row["coordinator_department_code"]),
        "triage_reason": row["triage_reason"] if row["status"] == "triage" else None,
        "triage_reason_label": _label(TRIAGE_LABELS, row["triage_reason"], TriageReason)
        if row["status"] == "triage"
        else None,
    }


def _department_name(catalog: Catalog, code: str | None) -> str | None:
    department = catalog.departments.get(code) if code else None
    return department.name if department else code


def _handler_label(row: asyncpg.Record, catalog: Catalog, department_name: str | None) -> str | None:
    if row["handler_level"] and row["handler_area_codes"]:
        stage = LOCAL_LABELS.get(row["handler_level"], row["handler_level"])
        return f"{catalog.area_name(row['handler_area_codes'][0])}（{stage}先行处置）"
    return department_name


async def list_cases(
    conn: asyncpg.Connection,
    catalog: Catalog,
    principal: Principal,
    *,
    limit: int,
    filters: CaseFilters | None = None,
    cursor: Cursor | None = None,
) -> dict[str, Any]:
    """One page of the cases ``principal`` may see (the policy as SQL) that match ``filters``,
    ORDER BY updated_at DESC, id DESC after ``cursor``, and the header counters of everything they
    may see (not only the filtered set), read from ``case_counts``, not by counting cases.

    One read-only snapshot for the page and the counters. Plans are made for the actual values
    (``force_custom_plan``): how selective a status, an area or a term is decides the plan, and a
    generic plan can't know.
    """
    f = filters or CaseFilters()
    if f.grid_codes is not None and principal.grid_codes is not None:
        # Asked for an area partly outside one's own: only the part inside (the planner would
        # otherwise take the two conditions as independent and walk everything to find nothing).
        f = replace(f, grid_codes=f.grid_codes & principal.grid_codes)
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        await conn.execute("SET LOCAL plan_cache_mode = force_custom_plan")
        now = await conn.fetchval("SELECT clock_timestamp()")
        rows = [] if f.grid_codes == frozenset() else await _page(conn, principal, f, now, cursor, limit + 1)
        counts, extra = await _counts(conn, principal, now)
    more = len(rows) > limit
    rows = rows[:limit]
    total = sum(counts.values())
    counts["overdue"] = extra["overdue"]
    counts["due_soon"] = extra["due_soon"]
    counts["bounced"] = extra["bounced"]
    pending = await _pending_requests(conn, [r["id"] for r in rows])
    return {
        "server_time": now,  # deadline lights use the server's clock, not the operator's PC
        "items": [
            summary(r, catalog, now, principal) | {"pending_requests": pending.get(r["id"], [])} for r in rows
        ],
        "counts": counts,
        # Reports that dispatch has not picked up for minutes: re-driven by dispatch, shown here too.
        "stranded": extra["stranded"],
        "total": total,
        "next_cursor": Cursor(rows[-1]["updated_at"], rows[-1]["id"]).encode() if more else None,
    }


_ORDER = "ORDER BY updated_at DESC, id DESC"
FIRST_WALK = 2_000  # rows read in page order before judging how rare the matches are
MAX_WALK = 100_000  # beyond this many rows, collecting the matches through their index is cheaper


async def _page(
    conn: asyncpg.Connection, principal: Principal, f: CaseFilters, now: Any, cursor: Cursor | None, n: int
) -> list[asyncpg.Record]:
    """Up to ``n`` rows in page order.

    Most filters (status, category, area, department, channel) and the roles' own conditions are
    left to the planner: it walks the (updated_at, id) index or a (column, updated_at) one and stops
    at ``n``. Some it misjudges against that order: a date range or a case-number range (one day's
    cases are close together in updated_at too, so a walk finds none for long when the day is not
    recent), a search term (its bigrams are not independent, so a common phrase looks rare) and the
    deadlines (overdue cases are old ones). For those: walk the newest rows, and from the share of
    matches found there either walk as far as that share says ``n`` needs (at most ``MAX_WALK``)
    or, when matches are rare, collect every match through its own index (case_no, created_at, the
    bigram index, the running clocks' index: as many rows as there are matches), sort, fetch ``n``.
    """

    def where(walk: bool) -> tuple[str, list[Any]]:
        params: list[Any] = []
        conds = [case_condition(principal, Permission.CASE_READ, params)]
        conds += _filter_conditions(principal, f, now, params, walk=walk)
        if cursor is not None and not walk:
            conds.append(_keyset(cursor, params))
        return " AND ".join(conds), params

    search = f.search
    awkward = (
        search is not None
        or f.created_from is not None
        or f.created_before is not None
        or f.overdue
        or f.due_within_h is not None
        or f.bounced
    )
    if not awkward:
        conds, params = where(walk=False)
        return await conn.fetch(
            f"SELECT {_SUMMARY_COLUMNS} FROM cases WHERE {conds} {_ORDER} LIMIT {n}", *params
        )
    if not (search is not None and search.by_case_no and search.case_no_from == search.case_no_to):
        walk = max(FIRST_WALK, 2 * n)
        while True:
            conds, params = where(walk=True)
            after = f"WHERE {_keyset(cursor, params)} " if cursor is not None else ""
            rows = await conn.fetch(
                f"SELECT {_SUMMARY_COLUMNS} FROM (SELECT {_SUMMARY_COLUMNS}, address FROM cases {after}"
                f"{_ORDER} LIMIT {walk}) AS newest WHERE {conds} {_ORDER} LIMIT {n}",
                *params,
            )
            if len(rows) == n or walk >= MAX_WALK or not rows:
                break
            needed = walk * n // len(rows) * 3 // 2  # the share found so far, with a margin
            if needed > MAX_WALK:
                break
            walk = needed
        if len(rows) == n:
            return rows
    # The matches' ids and order keys through their own index (OFFSET 0: don't walk the order),
    # sorted; then the n rows. For the deadlines the first step reads the running clocks' index only.
    conds, params = where(walk=False)
    return await conn.fetch(
        f"SELECT {_SUMMARY_COLUMNS} FROM cases WHERE id = ANY(ARRAY("
        f"SELECT id FROM (SELECT id, updated_at FROM cases WHERE {conds} OFFSET 0) AS matches {_ORDER} LIMIT {n}"
        f")) {_ORDER}",
        *params,
    )


def _keyset(cursor: Cursor, params: list[Any]) -> str:
    params += [cursor.updated_at, cursor.case_id]
    return f"(updated_at, id) < (${len(params) - 1}, ${len(params)})"


def _filter_conditions(
    principal: Principal, f: CaseFilters, now: Any, params: list[Any], *, walk: bool = False
) -> list[str]:
    def bind(value: Any) -> str:
        params.append(value)
        return f"${len(params)}"

    out: list[str] = []
    # One value as `=`, several as `= ANY`: an equality keeps a (column, updated_at) index in order.
    if len(f.statuses) == 1:
        out.append(f"status = {bind(f.statuses[0])}")
    elif f.statuses:
        out.append(f"status = ANY({bind(list(f.statuses))}::text[])")
    if f.due_within_h is not None:  # due soon, or (with overdue) overdue or due soon
        soon = now + timedelta(hours=f.due_within_h)
        since = "" if f.overdue else f"due_at >= {bind(now)} AND "
        out.append(f"status IN ({_CLOCK_RUNNING_SQL}) AND {since}due_at < {bind(soon)}")
    elif f.overdue:
        out.append(f"status IN ({_CLOCK_RUNNING_SQL}) AND due_at < {bind(now)}")
    if f.bounced:  # the partial index on bounced_at: as many rows as there are flagged cases
        out.append("bounced_at IS NOT NULL")
    if f.category_code is not None:
        out.append(f"category_code = {bind(f.category_code)}")
    if f.grid_codes is not None:
        grids = sorted(f.grid_codes)
        out.append(
            f"grid_code = {bind(grids[0])}" if len(grids) == 1 else f"grid_code = ANY({bind(grids)}::text[])"
        )
    if f.department_code is not None:
        out.append(f"department_code = {bind(f.department_code)}")
    if f.channel is not None:
        out.append(f"channel = {bind(f.channel)}")
    if f.created_from is not None:
        out.append(f"created_at >= {bind(f.created_from)}")
    if f.created_before is not None:
        out.append(f"created_at < {bind(f.created_before)}")
    search = f.search
    if search is not None and search.by_case_no:
        if search.case_no_from == search.case_no_to:
            out.append(f"case_no = {bind(search.case_no_from)}")
        else:
            out.append(f"case_no BETWEEN {bind(search.case_no_from)} AND {bind(search.case_no_to)}")
    elif search is not None:
        # Text matches only cases whose text this person may read (what is shown is masked by
        # summary()). Walking, the row's own text is checked; otherwise the bigram index finds the
        # candidates and strpos checks the exact substring. case_search.body is that same text.
        out.append(case_condition(principal, Permission.CASE_READ_DETAILS, params))
        q = bind(search.text)
        if walk:
            out.append(f"strpos(lower(description || E'\\n' || coalesce(address, '')), lower({q})) > 0")
        else:
            out.append(
                "id IN (SELECT s.case_id FROM case_search s WHERE "
                f"gridcase_bigrams(s.body) @> gridcase_bigrams({q}) AND strpos(lower(s.body), lower({q})) > 0)"
            )
    return out


async def _pending_requests(
    conn: asyncpg.Connection, case_ids: list[uuid.UUID]
) -> dict[uuid.UUID, list[dict[str, str]]]:
    """Requests waiting for the command centre's answer, per case of the page (the queues show them)."""
    if not case_ids:
        return {}
    out: dict[uuid.UUID, list[dict[str, str]]] = {}
    for r in await conn.fetch(
        "SELECT case_id, kind FROM case_requests WHERE status = 'pending' AND case_id = ANY($1::uuid[]) "
        "ORDER BY id",
        case_ids,
    ):
        out.setdefault(r["case_id"], []).append(
            {"kind": r["kind"], "kind_label": REQUEST_LABELS[RequestKind(r["kind"])]}
        )
    return out


async def _counts(
    conn: asyncpg.Connection, principal: Principal, now: Any
) -> tuple[dict[str, int], asyncpg.Record]:
    """Counts per status from the counter table (every status, zeros included); overdue and stranded
    from partial indexes, so they cost as much as there are overdue and stranded cases."""
    counts = dict.fromkeys((st.value for st in CaseStatus), 0)
    params: list[Any] = []
    rows_where = count_condition(principal, Permission.CASE_READ, params)
    if rows_where is None:
        # A feed's own cases, through the (submitted_by, updated_at) index.
        visible = case_condition(principal, Permission.CASE_READ, params)
        query = f"SELECT status, count(*) AS n FROM cases WHERE {visible} GROUP BY status"
    else:
        query = (
            "SELECT status, sum(n)::bigint AS n FROM ("
            "SELECT status, grid_code, department_code, assist, n FROM case_counts UNION ALL "
            "SELECT status, grid_code, department_code, assist, n FROM case_count_deltas"
            f") AS c WHERE {rows_where} GROUP BY status"
        )
    counts.update({r["status"]: r["n"] for r in await conn.fetch(query, *params)})
    params = [now]
    visible = case_condition(principal, Permission.CASE_READ, params)
    extra = await conn.fetchrow(
        f"SELECT (SELECT count(*) FROM cases WHERE {visible} AND status IN ({_CLOCK_RUNNING_SQL}) "
        "AND due_at < $1) AS overdue, "
        f"(SELECT count(*) FROM cases WHERE {visible} AND status IN ({_CLOCK_RUNNING_SQL}) "
        f"AND due_at >= $1 AND due_at < $1 + interval '{DEFAULT_DUE_WITHIN_H:g} hours') AS due_soon, "
        f"(SELECT count(*) FROM cases WHERE {visible} AND status = 'reported' "
        f"AND created_at < $1 - interval '{STRANDED_AFTER}') AS stranded, "
        f"(SELECT count(*) FROM cases WHERE {visible} AND bounced_at IS NOT NULL "
        f"AND status NOT IN ({_TERMINAL_SQL})) AS bounced",
        *params,
    )
    return counts, extra


def viewer(principal: Principal, facts: CaseFacts, status: str, state: CaseState) -> dict[str, Any]:
    """What this person may do with this case now: the policy, the state machine and the workflow."""
    return {
        "can_reveal": bool(decide(principal, Permission.CASE_REVEAL, facts)),
        "actions": [
            a.value
            for a in allowed_actions(CaseStatus(status))
            if decide(principal, ACTION_PERMISSIONS[a], facts)
            and workflow_available(a, state, department_code=principal.department_code)
        ],
    }


async def case_detail(
    conn: asyncpg.Connection,
    catalog: Catalog,
    principal: Principal,
    case_id: uuid.UUID,
    *,
    tb: TimeBase | None = None,
    warn_ratio: float = 0.8,
    red_ratio: float = 1.0,
) -> dict[str, Any] | None:
    row = await conn.fetchrow(
        f"SELECT {_SUMMARY_COLUMNS}, address, reporter_name, reporter_phone, reporter_id_number, external_id, "
        "category_suggestions, classifier_version, category_source, supervisor_label FROM cases WHERE id = $1",
        case_id,
    )
    if row is None:
        return None
    facts = facts_of(row)
    now = await conn.fetchval("SELECT clock_timestamp()")
    out = summary(row, catalog, now, principal)
    # Residents' personal data is masked for everyone; who may see it in clear asks for it (audited).
    out["address"] = mask_address(row["address"])
    out["reporter"] = (
        {
            "name": mask_name(row["reporter_name"]),
            "phone": mask_phone(row["reporter_phone"]),
            "id_number": mask_id_number(row["reporter_id_number"]),
        }
        if row["reporter_name"] or row["reporter_phone"] or row["reporter_id_number"]
        else None
    )
    out["external_id"] = row["external_id"]
    # What the model read from the text: at triage the operator picks from its top three.
    out["category_suggestions"] = [
        {
            "code": sug["code"],
            "name": catalog.categories[sug["code"]].name
            if sug["code"] in catalog.categories
            else sug["code"],
            "confidence": sug["confidence"],
        }
        for sug in (row["category_suggestions"] or [])
    ]
    out["category_source"] = row["category_source"]
    out["classifier_version"] = row["classifier_version"]
    out["triage_reason"] = row["triage_reason"]
    extras = await casework.case_extras(conn, case_id)
    names = {code: d.name for code, d in catalog.departments.items()}
    state = CaseState(
        pending=pending_kinds([r["kind"] for r in extras["requests"]]),
        assists_pending=tuple(r["department_code"] for r in extras["assists"] if r["status"] == "pending"),
        assists_all=tuple(r["department_code"] for r in extras["assists"]),
    )
    out["viewer"] = viewer(principal, facts, row["status"], state)
    internal = bool(decide(principal, Permission.CASE_READ_INTERNAL, facts))
    details = bool(decide(principal, Permission.CASE_READ_DETAILS, facts))
    out |= _extras_view(extras, names, internal=internal, details=details)
    events = await conn.fetch(
        "SELECT event_id, seq, type, occurred_at, actor, actor_name, actor_unit, status, payload "
        "FROM case_events WHERE case_id = $1 ORDER BY seq",
        case_id,
    )
    out["events"] = [
        {
            "event_id": str(e["event_id"]),
            "seq": e["seq"],
            "type": e["type"],
            "type_label": _label(EVENT_LABELS, e["type"], EventType),
            "occurred_at": e["occurred_at"],
            "status": e["status"],
        }
        | (
            {
                "actor": e["actor"],
                "actor_label": actor_label(e["actor"], catalog, name=e["actor_name"], unit=e["actor_unit"]),
                "payload": e["payload"],
            }
            if internal
            else {}
        )
        for e in events
    ]
    out["notifications"] = await _notifications(conn, case_id) if internal else []
    # Every clock explained: due time, elapsed working time, pauses and extensions, the light.
    clock_rows = await conn.fetch(f"SELECT {CLOCK_COLUMNS} FROM case_clocks WHERE case_id = $1", case_id)
    order = {p: i for i, p in enumerate(Phase)}
    out["clocks"] = (
        [
            clock_view(clock_from_row(r), tb, now, warn_ratio=warn_ratio, red_ratio=red_ratio)
            for r in clock_rows
        ]
        if tb is not None
        else []
    )
    out["clocks"].sort(key=lambda c: order[Phase(c["phase"])])
    out["supervisor_label"] = row["supervisor_label"]
    out["supervision_orders"] = [
        o
        | {
            "status_label": ORDER_STATUS_LABELS.get(o["status"], o["status"]),
            "overdue": o["overdue_at"] is not None,
        }
        for o in await supervision_orders_of(conn, case_id)
    ]
    return out


def _extras_view(
    extras: dict[str, Any], names: dict[str, str], *, internal: bool, details: bool
) -> dict[str, Any]:
    """Requests waiting for an answer, assisting parts, photos (only for who may see details), links."""
    return {
        "pending_requests": [
            {
                "request_id": r["id"],
                "kind": r["kind"],
                "kind_label": REQUEST_LABELS[RequestKind(r["kind"])],
                "reason": r["reason"] if internal else None,
                "requested_due_at": r["requested_due_at"],
                "requested_by_label": r["requested_by_label"] if internal else None,
                "requested_at": r["requested_at"],
            }
            for r in extras["requests"]
        ],
        "assists": [
            {
                "department_code": a["department_code"],
                "department_name": names.get(a["department_code"], a["department_code"]),
                "status": a["status"],
                "status_label": "已反馈" if a["status"] == "reported" else "待反馈",
                "note": a["note"] if internal else None,
                "reported_at": a["reported_at"],
            }
            for a in extras["assists"]
        ],
        "photos": [
            {
                "photo_id": str(p["id"]),
                "url": f"/api/v1/photos/{p['id']}",
                "kind": p["kind"],
                "kind_label": PHOTO_KIND_LABELS.get(p["kind"], p["kind"]),
                "event_id": str(p["event_id"]),
                "uploaded_by_label": p["uploaded_by_label"] if internal else None,
                "created_at": p["created_at"],
            }
            for p in extras["photos"]
        ]
        if details
        else [],
        "duplicate_of": (
            {"case_id": str(extras["duplicate_of"][0]), "case_no": extras["duplicate_of"][1]}
            if extras["duplicate_of"]
            else None
        ),
        "duplicates": [{"case_id": str(i), "case_no": n} for i, n in extras["duplicates"]],
        # A 并案 candidate found at routing: the operator merges it (mark_duplicate) or dispatches it.
        "likely_duplicate_of": (
            {"case_id": str(extras["likely_duplicate_of"][0]), "case_no": extras["likely_duplicate_of"][1]}
            if extras["likely_duplicate_of"]
            else None
        ),
        "intake_details": extras["intake_details"],  # channel details without personal data
        # Kept by reference (a WeChat image's address on WeChat's servers is not fetched from here).
        "attachments": [
            {
                "id": a["id"],
                "kind": a["kind"],
                "kind_label": ATTACHMENT_LABELS.get(a["kind"], a["kind"]),
                "channel": a["channel"],
                "created_at": a["created_at"],
            }
            for a in extras["attachments"]
        ]
        if details
        else [],
    }


async def _notifications(conn: asyncpg.Connection, case_id: uuid.UUID) -> list[dict[str, Any]]:
    notes = await conn.fetch(
        "SELECT id, channel, target, trigger_type, status, attempts, delivered_at, last_error, created_at "
        "FROM notifications WHERE case_id = $1 ORDER BY created_at",
        case_id,
    )
    return [
        {
            "notification_id": str(n["id"]),
            "channel": n["channel"],
            "channel_label": "Webhook推送" if n["channel"] == "webhook" else n["channel"],
            "target": redact_url(n["target"]),
            "trigger_type": n["trigger_type"],
            "status": n["status"],
            "status_label": NOTIFICATION_STATUS_LABELS.get(n["status"], n["status"]),
            "attempts": n["attempts"],
            "delivered_at": n["delivered_at"],
            "last_error": n["last_error"],
        }
        for n in notes
    ]


async def reveal(conn: asyncpg.Connection, case_id: uuid.UUID) -> tuple[dict[str, Any], str | None]:
    """The resident's contact data in clear, and the case's grid (for the audit entry)."""
    row = await conn.fetchrow(
        "SELECT reporter_name, reporter_phone, reporter_id_number, address, description, grid_code "
        "FROM cases WHERE id = $1",
        case_id,
    )
    return (
        {
            "reporter": {
                "name": row["reporter_name"],
                "phone": row["reporter_phone"],
                "id_number": row["reporter_id_number"],
            },
            "address": row["address"],
            "description": row["description"],
        },
        row["grid_code"],
    )


async def grids_geojson(conn: asyncpg.Connection) -> dict[str, Any]:
    rows = await conn.fetch(
        "SELECT code, name, level, parent_code, worker, geometry FROM areas ORDER BY code"
    )
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "id": r["code"],
                "properties": {
                    "code": r["code"],
                    "name": r["name"],
                    "level": r["level"],
                    "level_label": _label(LEVEL_LABELS, r["level"], Level),
                    "parent_code": r["parent_code"],
                    "worker": r["worker"],
                },
                "geometry": r["geometry"],
            }
            for r in rows
        ],
    }
