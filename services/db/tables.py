"""The case ledger's schema (SQLAlchemy Core). Alembic migrations are generated from it."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Double,
    ForeignKey,
    Identity,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    Sequence,
    Table,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
from sqlalchemy.types import UserDefinedType


class _Xid8(UserDefinedType[int]):
    """PostgreSQL's 64-bit transaction id."""

    cache_ok = True

    def get_col_spec(self, **kw: object) -> str:
        return "XID8"


XID8 = _Xid8()

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

TS = DateTime(timezone=True)

# --- reference data ---------------------------------------------------------------------------

areas = Table(
    "areas",
    metadata,
    Column("code", Text, primary_key=True),
    Column("name", Text, nullable=False),
    Column("level", Text, nullable=False),  # district | street | community | grid
    Column("parent_code", Text, ForeignKey("areas.code"), nullable=True),
    Column("geometry", JSONB, nullable=True),  # GeoJSON geometry, WGS-84
    Column("worker", Text, nullable=True),
    Column("updated_at", TS, nullable=False, server_default=func.now()),
)

departments = Table(
    "departments",
    metadata,
    Column("code", Text, primary_key=True),
    Column("name", Text, nullable=False),
    Column("name_en", Text, nullable=True),
    Column("level", Text, nullable=False),
    Column("office_hours", Text, nullable=True),  # NULL: GRIDCASE_OFFICE_HOURS
)

categories = Table(
    "categories",
    metadata,
    Column("code", Text, primary_key=True),
    Column("name", Text, nullable=False),
    Column("kind", Text, nullable=False),
    # NULL: no district-wide department; the responsibility matrix's area rules name one.
    Column("department_code", Text, ForeignKey("departments.code"), nullable=True),
    Column("assist", JSONB, nullable=False, server_default=text("'[]'::jsonb")),
    Column("level", Text, nullable=False),
    Column("urgency", Text, nullable=False),
    Column("sign_limit", Text, nullable=False),
    Column("handle_limit", Text, nullable=False),
    Column("must_report", Boolean, nullable=False, server_default=text("false")),
)

# The responsibility matrix (权责清单): a category in one area (grid, community, street or the
# district) → lead and assisting departments, handling level and time limits. The category's own
# columns are the fallback; the most specific area rule wins, and its empty fields fall back too.
responsibility_rules = Table(
    "responsibility_rules",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("category_code", Text, ForeignKey("categories.code"), nullable=False),
    Column("area_code", Text, ForeignKey("areas.code"), nullable=False),
    Column("department_code", Text, ForeignKey("departments.code"), nullable=True),
    Column("assist", ARRAY(Text), nullable=True),
    Column("level", Text, nullable=True),
    Column("sign_limit", Text, nullable=True),
    Column("handle_limit", Text, nullable=True),
    Column("note", Text, nullable=True),
    Column("updated_by", Text, nullable=True),
    Column("updated_at", TS, nullable=False, server_default=func.now()),
    UniqueConstraint("category_code", "area_code", name="uq_responsibility_rules_category_area"),
)

# One counter, bumped by a statement trigger on every change to the four tables above (migration
# 0007): services poll this row and reload their catalog only when it moved.
reference_version = Table(
    "reference_version",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("version", BigInteger, nullable=False, server_default="1"),
    CheckConstraint("id = 1", name="one_row"),
)

# --- the ledger -------------------------------------------------------------------------------

# Every inbound payload is stored before it is parsed, so nothing a channel sent is ever lost.
raw_inbound = Table(
    "raw_inbound",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("received_at", TS, nullable=False, server_default=func.now()),
    Column("channel", Text, nullable=True),
    Column("content_type", Text, nullable=True),
    Column("body", LargeBinary, nullable=False),
    # received | accepted | duplicate (same key again) | supplemented (added to a case) | replied |
    # rejected (its fault: the error says why) | failed (ours: replayable with `gridcase intake replay`)
    Column("outcome", Text, nullable=False, server_default="received"),
    Column("error", JSONB, nullable=True),
    Column("case_id", UUID(as_uuid=True), nullable=True),
    Column("submitted_by", Text, nullable=True),  # the signed-in identity (or verified feed) that sent it
    Column("headers", JSONB, nullable=True),  # the ones that matter, secrets redacted
    Column("path", Text, nullable=True),
    Column("remote_addr", Text, nullable=True),
    Column("replayed_at", TS, nullable=True),
    Index("ix_raw_inbound_received_at", "received_at"),
    Index("ix_raw_inbound_failed", "id", postgresql_where=text("outcome IN ('failed', 'received')")),
)

# A channel's message key (WeChat MsgId …): a retry finds its row and gets the same answer.
channel_messages = Table(
    "channel_messages",
    metadata,
    Column("channel", Text, nullable=False),
    Column("message_key", Text, nullable=False),
    Column("raw_id", BigInteger, nullable=True),
    Column("case_id", UUID(as_uuid=True), nullable=True),
    Column("reply", Text, nullable=True),
    Column("created_at", TS, nullable=False, server_default=func.now()),
    PrimaryKeyConstraint("channel", "message_key"),
    Index("ix_channel_messages_created_at", "created_at"),
)

channel_nonces = Table(
    "channel_nonces",
    metadata,
    Column("channel", Text, nullable=False),
    Column("nonce", Text, nullable=False),
    Column("seen_at", TS, nullable=False, server_default=func.now()),
    PrimaryKeyConstraint("channel", "nonce"),
)

# One resident's messages within the window make one case.
channel_sessions = Table(
    "channel_sessions",
    metadata,
    Column("channel", Text, nullable=False),
    Column("resident_ref", Text, nullable=False),
    Column("case_id", UUID(as_uuid=True), nullable=False),
    Column("opened_at", TS, nullable=False, server_default=func.now()),
    Column("last_message_at", TS, nullable=False, server_default=func.now()),
    PrimaryKeyConstraint("channel", "resident_ref"),
)

case_no_seq = Sequence("case_no_seq", metadata=metadata)

cases = Table(
    "cases",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("case_no", Text, nullable=False, unique=True),
    Column("channel", Text, nullable=False),
    Column("external_id", Text, nullable=True),
    Column("status", Text, nullable=False),
    Column("description", Text, nullable=False),
    Column("category_code", Text, nullable=True),
    Column("grid_code", Text, nullable=True),
    Column("department_code", Text, nullable=True),
    Column("level", Text, nullable=True),
    Column("urgency", Text, nullable=False, server_default="normal"),
    Column("lat", Double, nullable=True),  # WGS-84
    Column("lon", Double, nullable=True),
    Column("address", Text, nullable=True),
    Column("reporter_name", Text, nullable=True),
    Column("reporter_phone", Text, nullable=True),
    Column("reporter_id_number", Text, nullable=True),
    # The identity that submitted it (user:<name> / token:<id>): a feed reads back its own cases.
    Column("submitted_by", Text, nullable=True),
    Column("assist_department_codes", ARRAY(Text), nullable=False, server_default=text("'{}'")),
    Column("duplicate_of", UUID(as_uuid=True), nullable=True),  # merged (并案) into this original
    Column("category_source", Text, nullable=True),  # reporter | model | operator
    Column("classifier_version", Text, nullable=True),  # the model that read the text, when one did
    Column("category_suggestions", JSONB, nullable=True),  # [{code, confidence}] best first, at triage
    Column("triage_reason", Text, nullable=True),
    # Who works it now: 'grid' / 'community' first (小事不出网格), NULL = the lead department; the
    # handling area and its ancestors (whose accounts may act at that stage).
    Column("handler_level", Text, nullable=True),
    Column("handler_area_codes", ARRAY(Text), nullable=True),
    Column("sign_limit", Text, nullable=True),  # from the responsibility matrix at dispatch
    Column("handle_limit", Text, nullable=True),
    # Anti-bounce (踢皮球): returns so far, departments tried in order, the coordinating first one.
    Column("return_count", Integer, nullable=False, server_default="0"),
    Column("departments_tried", ARRAY(Text), nullable=False, server_default=text("'{}'")),
    Column("coordinator_department_code", Text, nullable=True),
    Column("bounced_at", TS, nullable=True),
    Column("bounce_reason", Text, nullable=True),
    Column("reporter_ref", Text, nullable=True),  # the resident as the channel knows them (openid)
    Column("intake_details", JSONB, nullable=True),  # channel details without personal data
    Column("likely_duplicate_of", UUID(as_uuid=True), nullable=True),  # 并案 candidate found at routing
    Column("supervisor_label", Text, nullable=True),  # who supervises it now (the escalation level's unit)
    Column("due_at", TS, nullable=True),
    Column("dispatched_at", TS, nullable=True),
    Column("last_seq", Integer, nullable=False, server_default="0"),
    Column("created_at", TS, nullable=False, server_default=func.now()),
    Column("updated_at", TS, nullable=False, server_default=func.now()),
    UniqueConstraint("channel", "external_id", name="uq_cases_channel_external_id"),
    Index("ix_cases_status_updated", "status", "updated_at"),
    # The console's keyset pages: ORDER BY updated_at DESC, id DESC (migration 0003).
    Index("ix_cases_updated_id", "updated_at", "id"),
    Index("ix_cases_created_at", "created_at"),
    # Bounded by the running clocks (overdue, due soon) and by the cases not yet routed (stranded).
    Index(
        "ix_cases_running_due",
        "due_at",
        postgresql_include=[
            "updated_at",
            "id",
            "grid_code",
            "department_code",
            "assist_department_codes",
            "submitted_by",
        ],
        postgresql_where=text("status IN ('dispatched', 'signed', 'returned')"),
    ),
    Index("ix_cases_reported_created", "created_at", postgresql_where=text("status = 'reported'")),
    Index("ix_cases_submitted_by", "submitted_by", "updated_at", postgresql_include=["status"]),
    Index("ix_cases_department_updated", "department_code", "updated_at"),
    Index("ix_cases_grid_updated", "grid_code", "updated_at"),
    Index("ix_cases_duplicate_of", "duplicate_of", postgresql_where=text("duplicate_of IS NOT NULL")),
    Index("ix_cases_bounced", "bounced_at", postgresql_where=text("bounced_at IS NOT NULL")),
    Index(
        "ix_cases_category_created_located",
        "category_code",
        "created_at",
        postgresql_where=text("lat IS NOT NULL"),
    ),
    Index(
        "ix_cases_reporter_ref",
        "reporter_ref",
        "created_at",
        postgresql_where=text("reporter_ref IS NOT NULL"),
    ),
)

# Cases per (status, grid, department, lead or assisting department): the console's counters sum
# these instead of counting cases. Triggers on `cases` append to `case_count_deltas` (never update a
# shared row); `gridcase_compact_case_counts()` folds them in (the console calls it every second).
# '' stands for no grid / no department. Functions and triggers: migration 0003.
case_counts = Table(
    "case_counts",
    metadata,
    Column("status", Text, nullable=False),
    Column("grid_code", Text, nullable=False),
    Column("department_code", Text, nullable=False),
    Column("assist", Boolean, nullable=False),
    Column("n", BigInteger, nullable=False),
    PrimaryKeyConstraint("status", "grid_code", "department_code", "assist", name="pk_case_counts"),
)

case_count_deltas = Table(
    "case_count_deltas",
    metadata,
    Column("status", Text, nullable=False),
    Column("grid_code", Text, nullable=False),
    Column("department_code", Text, nullable=False),
    Column("assist", Boolean, nullable=False),
    Column("n", Integer, nullable=False),
)

# Description and address of each case for text search, written by a trigger when the case is taken
# in (not on every status change); GIN index on gridcase_bigrams(body) (migration 0003).
case_search = Table(
    "case_search",
    metadata,
    Column("case_id", UUID(as_uuid=True), ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True),
    Column("body", Text, nullable=False),
)
Index("ix_case_search_bigrams", func.gridcase_bigrams(case_search.c.body), postgresql_using="gin")

case_events = Table(
    "case_events",
    metadata,
    Column("event_id", UUID(as_uuid=True), primary_key=True),
    Column("case_id", UUID(as_uuid=True), ForeignKey("cases.id"), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("type", Text, nullable=False),
    Column("occurred_at", TS, nullable=False),
    Column("actor", Text, nullable=False),
    Column("actor_name", Text, nullable=True),  # as people read it, at the time: 王敏
    Column("actor_unit", Text, nullable=True),  # 区网格化管理指挥中心
    Column("status", Text, nullable=False),
    Column("payload", JSONB, nullable=False),
    UniqueConstraint("case_id", "seq", name="uq_case_events_case_id_seq"),
)

outbox = Table(
    "outbox",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("event_id", UUID(as_uuid=True), nullable=False),
    Column("topic", Text, nullable=False),
    Column("key", Text, nullable=False),
    Column("value", LargeBinary, nullable=False),
    Column("headers", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("created_at", TS, nullable=False, server_default=func.now()),
    Column("published_at", TS, nullable=True),
    # The writing transaction (default pg_current_xact_id()): the live feed reads what became visible.
    Column("txid", XID8, nullable=True, server_default=text("pg_current_xact_id()")),
    Index("ix_outbox_unpublished", "id", postgresql_where=text("published_at IS NULL")),
    Index("ix_outbox_created_at", "created_at"),
    Index("ix_outbox_txid", "txid"),
)

processed_events = Table(
    "processed_events",
    metadata,
    Column("consumer", Text, nullable=False),
    Column("event_id", UUID(as_uuid=True), nullable=False),
    Column("processed_at", TS, nullable=False, server_default=func.now()),
    PrimaryKeyConstraint("consumer", "event_id", name="pk_processed_events"),
)

# Highest offset the relay saw per partition: an end offset below it means the broker lost data.
relay_offsets = Table(
    "relay_offsets",
    metadata,
    Column("topic", Text, nullable=False),
    Column("partition", Integer, nullable=False),
    Column("high_offset", BigInteger, nullable=False),
    Column("updated_at", TS, nullable=False, server_default=func.now()),
    PrimaryKeyConstraint("topic", "partition", name="pk_relay_offsets"),
)

dead_letters = Table(
    "dead_letters",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("consumer", Text, nullable=False),
    Column("topic", Text, nullable=False),
    Column("partition", Integer, nullable=True),
    Column("offset", BigInteger, nullable=True),
    Column("key", Text, nullable=True),
    Column("value", LargeBinary, nullable=False),
    Column("headers", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("reason", Text, nullable=False),
    Column("created_at", TS, nullable=False, server_default=func.now()),
    Column("replayed_at", TS, nullable=True),
)

# --- notify -----------------------------------------------------------------------------------

notifications = Table(
    "notifications",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("case_id", UUID(as_uuid=True), ForeignKey("cases.id"), nullable=False),
    Column("trigger_event_id", UUID(as_uuid=True), nullable=False),
    Column("trigger_type", Text, nullable=False),
    Column("channel", Text, nullable=False),  # webhook
    Column("target", Text, nullable=False),
    Column("body", JSONB, nullable=False),
    Column("status", Text, nullable=False, server_default="pending"),  # pending|delivered|failed
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", TS, nullable=False, server_default=func.now()),
    Column("last_error", Text, nullable=True),
    Column("created_at", TS, nullable=False, server_default=func.now()),
    Column("delivered_at", TS, nullable=True),
    UniqueConstraint("trigger_event_id", "channel", name="uq_notifications_trigger_channel"),
    Index("ix_notifications_due", "next_attempt_at", postgresql_where=text("status = 'pending'")),
    Index("ix_notifications_case", "case_id"),
)

# --- identity and access ----------------------------------------------------------------------

users = Table(
    "users",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("username", Text, nullable=False, unique=True),  # stored lower-case
    Column("display_name", Text, nullable=False),
    Column("password_hash", Text, nullable=False),  # argon2id
    Column("role", Text, nullable=False),
    Column("department_code", Text, ForeignKey("departments.code"), nullable=True),
    Column("area_codes", ARRAY(Text), nullable=False, server_default=text("'{}'")),
    Column("channel", Text, nullable=True),  # feed accounts: their one channel
    Column("disabled_at", TS, nullable=True),
    Column("failed_logins", Integer, nullable=False, server_default="0"),  # wrong passwords in a row
    Column("throttled_until", TS, nullable=True),
    Column("locked_until", TS, nullable=True),
    Column("password_changed_at", TS, nullable=False, server_default=func.now()),
    Column("last_login_at", TS, nullable=True),
    Column("created_at", TS, nullable=False, server_default=func.now()),
    Column("updated_at", TS, nullable=False, server_default=func.now()),
)

# A sign-in: the token is given to the client once and stored here only as its SHA-256.
sessions = Table(
    "sessions",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("user_id", UUID(as_uuid=True), ForeignKey("users.id"), nullable=False),
    Column("token_hash", Text, nullable=False, unique=True),
    Column("kind", Text, nullable=False),  # cookie (the console) | bearer (API clients)
    Column("csrf_token", Text, nullable=True),  # cookie sessions: sent back in X-CSRF-Token
    Column("created_at", TS, nullable=False, server_default=func.now()),
    Column("expires_at", TS, nullable=False),
    Column("revoked_at", TS, nullable=True),
    Column("client_ip", Text, nullable=True),
    Column("user_agent", Text, nullable=True),
    Index("ix_sessions_user", "user_id"),
    Index("ix_sessions_expires_at", "expires_at"),
)

# API tokens of feeds and department systems; shown once, stored as SHA-256.
api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("name", Text, nullable=False),
    Column("token_hash", Text, nullable=False, unique=True),
    Column("prefix", Text, nullable=False),  # the first characters, to recognise a token in a list
    Column("role", Text, nullable=False),
    Column("channel", Text, nullable=True),
    Column("department_code", Text, ForeignKey("departments.code"), nullable=True),
    Column("area_codes", ARRAY(Text), nullable=False, server_default=text("'{}'")),
    Column("created_by", Text, nullable=False),
    Column("created_at", TS, nullable=False, server_default=func.now()),
    Column("expires_at", TS, nullable=True),
    Column("revoked_at", TS, nullable=True),
)

# Who looked at residents' personal data, and every change to accounts, tokens and reference data.
audit_log = Table(
    "audit_log",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("at", TS, nullable=False, server_default=func.now()),
    Column("actor", Text, nullable=False),
    Column("actor_name", Text, nullable=True),
    Column("actor_role", Text, nullable=True),
    Column("action", Text, nullable=False),  # case.reveal | user.create | token.revoke | category.update …
    Column("case_id", UUID(as_uuid=True), nullable=True),
    Column("grid_code", Text, nullable=True),  # the case's grid then: leaders read their area's entries
    Column("target", Text, nullable=True),
    Column("reason", Text, nullable=True),
    Column("details", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("client_ip", Text, nullable=True),
    Index("ix_audit_log_at", "at"),
    Index("ix_audit_log_case", "case_id"),
)

# --- the closed loop worked by people ---------------------------------------------------------

# A department's request (extension, suspension) and the command centre's answer.
case_requests = Table(
    "case_requests",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("case_id", UUID(as_uuid=True), ForeignKey("cases.id"), nullable=False),
    Column("kind", Text, nullable=False),  # extension | suspension
    Column("status", Text, nullable=False, server_default="pending"),  # pending | approved | refused
    Column("reason", Text, nullable=False),
    Column("requested_due_at", TS, nullable=True),  # extension: the deadline asked for
    Column("requested_by", Text, nullable=False),
    Column("requested_by_label", Text, nullable=True),
    Column("requested_at", TS, nullable=False),
    Column("request_event_id", UUID(as_uuid=True), nullable=False),
    Column("answered_by", Text, nullable=True),
    Column("answered_by_label", Text, nullable=True),
    Column("answered_at", TS, nullable=True),
    Column("answer_note", Text, nullable=True),
    Column("answer_event_id", UUID(as_uuid=True), nullable=True),
    Index("ix_case_requests_case", "case_id"),
    # One open request of a kind per case: a second ask waits for the answer to the first.
    Index(
        "uq_case_requests_pending",
        "case_id",
        "kind",
        unique=True,
        postgresql_where=text("status = 'pending'"),
    ),
    Index("ix_case_requests_pending", "requested_at", postgresql_where=text("status = 'pending'")),
)

# Assisting departments (协办) and their part.
case_assists = Table(
    "case_assists",
    metadata,
    Column("case_id", UUID(as_uuid=True), ForeignKey("cases.id"), nullable=False),
    Column("department_code", Text, nullable=False),
    Column("status", Text, nullable=False, server_default="pending"),  # pending | reported
    Column("note", Text, nullable=True),
    Column("reported_by", Text, nullable=True),
    Column("reported_by_label", Text, nullable=True),
    Column("reported_at", TS, nullable=True),
    PrimaryKeyConstraint("case_id", "department_code", name="pk_case_assists"),
)

# Photos of a result or a check: uploaded first, attached by the action that names them.
case_photos = Table(
    "case_photos",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("case_id", UUID(as_uuid=True), ForeignKey("cases.id"), nullable=False),
    Column("path", Text, nullable=False),  # relative to GRIDCASE_MEDIA_DIR
    Column("content_type", Text, nullable=False),
    Column("size", Integer, nullable=False),
    Column("sha256", Text, nullable=False),
    Column("uploaded_by", Text, nullable=False),
    Column("uploaded_by_label", Text, nullable=True),
    Column("created_at", TS, nullable=False, server_default=func.now()),
    Column("kind", Text, nullable=True),  # handle | assist | check, once attached
    Column("event_id", UUID(as_uuid=True), nullable=True),  # the action that attached it
    Index("ix_case_photos_case", "case_id"),
)

# Labelled examples beyond the shipped set: operators' corrections at dispatch (`gridcase routing train`).
classifier_examples = Table(
    "classifier_examples",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("text", Text, nullable=False),
    Column("category", Text, nullable=False),
    Column("source", Text, nullable=False),  # operator_correction
    Column("case_id", UUID(as_uuid=True), nullable=True),
    Column("suggested", Text, nullable=True),  # what the model had said first
    Column("created_by", Text, nullable=True),
    Column("created_at", TS, nullable=False, server_default=func.now()),
)

# What a channel sent that is kept by reference (a WeChat image's PicUrl and MediaId).
case_attachments = Table(
    "case_attachments",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("case_id", UUID(as_uuid=True), ForeignKey("cases.id"), nullable=False),
    Column("kind", Text, nullable=False),  # image | voice | video | file
    Column("channel", Text, nullable=False),
    Column("source_url", Text, nullable=True),
    Column("media_id", Text, nullable=True),
    Column("raw_id", BigInteger, nullable=True),
    Column("created_at", TS, nullable=False, server_default=func.now()),
    Index("ix_case_attachments_case", "case_id"),
)

# 零上报: a grid worker's daily "nothing to report" for a grid.
grid_checkins = Table(
    "grid_checkins",
    metadata,
    Column("grid_code", Text, ForeignKey("areas.code"), nullable=False),
    Column("day", Date, nullable=False),
    Column("worker", Text, nullable=False),
    Column("worker_name", Text, nullable=True),
    Column("note", Text, nullable=True),
    Column("created_at", TS, nullable=False, server_default=func.now()),
    PrimaryKeyConstraint("grid_code", "day", "worker"),
)

# --- clocks, timers, supervision (issue 9) ---------------------------------------------------

# One clock per case and phase (sign, handle, check), in working or calendar minutes.
case_clocks = Table(
    "case_clocks",
    metadata,
    Column("case_id", UUID(as_uuid=True), ForeignKey("cases.id"), nullable=False),
    Column("phase", Text, nullable=False),
    Column("state", Text, nullable=False),  # running | paused | done | stopped
    Column("limit_text", Text, nullable=False),
    Column("working", Boolean, nullable=False),
    Column("limit_minutes", Double, nullable=False),
    Column("extended_minutes", Double, nullable=False, server_default="0"),
    Column("used_minutes", Double, nullable=False, server_default="0"),
    Column("started_at", TS, nullable=False),
    Column("span_started_at", TS, nullable=True),
    Column("paused_at", TS, nullable=True),
    Column("due_at", TS, nullable=True),
    Column("provisional", Boolean, nullable=False, server_default=text("false")),
    Column("warned_at", TS, nullable=True),
    Column("overdue_at", TS, nullable=True),
    Column("ended_at", TS, nullable=True),
    Column("step", Integer, nullable=False, server_default="0"),
    Column("policy", JSONB, nullable=True),
    Column("history", JSONB, nullable=False, server_default=text("'[]'::jsonb")),
    Column("version", Integer, nullable=False, server_default="1"),
    Column("updated_at", TS, nullable=False, server_default=func.now()),
    Column("office_hours", Text, nullable=True),  # the working unit's hours when it started; NULL: default
    PrimaryKeyConstraint("case_id", "phase"),
)

# Durable timers, claimed with FOR UPDATE SKIP LOCKED; a timer for an old clock version is a no-op.
timers = Table(
    "timers",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("case_id", UUID(as_uuid=True), nullable=False),
    Column("phase", Text, nullable=False),
    Column("kind", Text, nullable=False),  # warn | due | step | order_due
    Column("ref", BigInteger, nullable=True),
    Column("clock_version", Integer, nullable=True),
    Column("due_at", TS, nullable=False),
    Column("fired_at", TS, nullable=True),
    Column("created_at", TS, nullable=False, server_default=func.now()),
    Index("ix_timers_pending_due", "due_at", postgresql_where=text("fired_at IS NULL")),
    Index("ix_timers_case", "case_id"),
)

# 督办单: issued by escalation or by an operator or leader, answered by the department.
supervision_orders = Table(
    "supervision_orders",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("case_id", UUID(as_uuid=True), ForeignKey("cases.id"), nullable=False),
    Column("issuer_level", Text, nullable=False),
    Column("issuer_label", Text, nullable=False),
    Column("issued_by", Text, nullable=False),
    Column("issued_by_label", Text, nullable=True),
    Column("department_code", Text, nullable=True),
    Column("reason", Text, nullable=False),
    Column("reply_due_at", TS, nullable=False),
    Column("status", Text, nullable=False, server_default="open"),
    Column("reply", Text, nullable=True),
    Column("replied_by", Text, nullable=True),
    Column("replied_by_label", Text, nullable=True),
    Column("replied_at", TS, nullable=True),
    Column("overdue_at", TS, nullable=True),
    Column("created_at", TS, nullable=False, server_default=func.now()),
    Index("ix_supervision_orders_case", "case_id"),
    Index("ix_supervision_orders_open_due", "reply_due_at", postgresql_where=text("status = 'open'")),
)
