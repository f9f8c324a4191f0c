"""the console at scale: keyset list indexes, status counters, text search, gap-free live feed

- ``cases``: ``(updated_at, id)`` replaces ``(updated_at)`` (keyset pages: ORDER BY updated_at DESC,
  id DESC); ``created_at`` for date filters; partial indexes bounded by the running clocks (overdue,
  due soon; covering, so counts read no table rows) and by the cases still ``reported`` (stranded);
  ``(submitted_by, updated_at)`` now carries ``status`` (a feed's counters).
- ``case_counts`` + ``case_count_deltas``: cases per (status, grid, department, lead/assist). Triggers
  on ``cases`` append one delta row per side of a change (never update a shared row: a consumer's
  batch transaction would otherwise hold a hot counter row and stall every intake behind it); the
  console folds the deltas into ``case_counts`` every second (``gridcase_compact_case_counts()``).
- ``case_search``: description and address per case, written once by a trigger at intake (not on
  every status change), with a GIN index on its character bigrams (``gridcase_bigrams``): works for
  two-character Chinese terms and needs no extension (pg_trgm is not in the embedded build).
- ``outbox.txid``: the writing transaction's id (xid8), so the live feed can tell which rows became
  visible since its last read, whatever their id order.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies (a migration must not change when the code does): schemas.states.CLOCK_RUNNING, and
# the status of a case not yet routed. A test checks the index predicates still match the code.
RUNNING = "status IN ('dispatched', 'signed', 'returned')"
REPORTED = "status = 'reported'"
RUNNING_INCLUDE = [
    "updated_at",
    "id",
    "grid_code",
    "department_code",
    "assist_department_codes",
    "submitted_by",
]

COUNTS_FUNCTION = """
CREATE FUNCTION gridcase_case_counts_delta() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- One row per side of the change; '' stands for "no grid" / "no department" (key columns).
    IF TG_OP = 'UPDATE' THEN
        INSERT INTO case_count_deltas (status, grid_code, department_code, assist, n) VALUES
            (OLD.status, coalesce(OLD.grid_code, ''), coalesce(OLD.department_code, ''), false, -1),
            (NEW.status, coalesce(NEW.grid_code, ''), coalesce(NEW.department_code, ''), false, 1);
    ELSIF TG_OP = 'INSERT' THEN
        INSERT INTO case_count_deltas (status, grid_code, department_code, assist, n)
        VALUES (NEW.status, coalesce(NEW.grid_code, ''), coalesce(NEW.department_code, ''), false, 1);
    ELSE
        INSERT INTO case_count_deltas (status, grid_code, department_code, assist, n)
        VALUES (OLD.status, coalesce(OLD.grid_code, ''), coalesce(OLD.department_code, ''), false, -1);
    END IF;
    -- Assisting departments (协办): one row each, never the lead department again.
    IF TG_OP <> 'INSERT' AND cardinality(OLD.assist_department_codes) > 0 THEN
        INSERT INTO case_count_deltas (status, grid_code, department_code, assist, n)
        SELECT OLD.status, coalesce(OLD.grid_code, ''), a, true, -1
        FROM (SELECT DISTINCT a FROM unnest(OLD.assist_department_codes) AS a) AS s
        WHERE a IS NOT NULL AND a IS DISTINCT FROM OLD.department_code;
    END IF;
    IF TG_OP <> 'DELETE' AND cardinality(NEW.assist_department_codes) > 0 THEN
        INSERT INTO case_count_deltas (status, grid_code, department_code, assist, n)
        SELECT NEW.status, coalesce(NEW.grid_code, ''), a, true, 1
        FROM (SELECT DISTINCT a FROM unnest(NEW.assist_department_codes) AS a) AS s
        WHERE a IS NOT NULL AND a IS DISTINCT FROM NEW.department_code;
    END IF;
    RETURN NULL;
END;
$$
"""

COUNTS_TRUNCATE_FUNCTION = """
CREATE FUNCTION gridcase_case_counts_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    TRUNCATE case_counts, case_count_deltas;
    RETURN NULL;
END;
$$
"""

# Folds the deltas into case_counts; one caller at a time (the others return at once). Deletes only
# the deltas its snapshot sees, so rows committed meanwhile wait for the next call.
COMPACT_FUNCTION = """
CREATE FUNCTION gridcase_compact_case_counts() RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    moved bigint;
BEGIN
    IF NOT pg_try_advisory_xact_lock(hashtext('gridcase.case-counts')) THEN
        RETURN 0;
    END IF;
    WITH d AS (
        DELETE FROM case_count_deltas RETURNING status, grid_code, department_code, assist, n
    ), s AS (
        SELECT status, grid_code, department_code, assist, sum(n) AS n, count(*) AS k
        FROM d GROUP BY status, grid_code, department_code, assist
    ), u AS (
        INSERT INTO case_counts AS c (status, grid_code, department_code, assist, n)
        SELECT status, grid_code, department_code, assist, n FROM s
        ON CONFLICT (status, grid_code, department_code, assist) DO UPDATE SET n = c.n + EXCLUDED.n
    )
    SELECT coalesce(sum(k), 0) INTO moved FROM s;
    RETURN moved;
END;
$$
"""

# Lower-cased character bigrams of a text (GIN removes repeats). Two-character Chinese terms are
# the usual search, and trigram indexes can't serve a pattern under three characters.
BIGRAMS_FUNCTION = """
CREATE FUNCTION gridcase_bigrams(t text) RETURNS text[] LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
AS $$
DECLARE
    c text[] := string_to_array(lower(t), NULL);
    r text[] := '{}';
BEGIN
    FOR i IN 1 .. coalesce(cardinality(c), 0) - 1 LOOP
        r := r || (c[i] || c[i + 1]);
    END LOOP;
    RETURN r;
END;
$$
"""

SEARCH_FUNCTION = """
CREATE FUNCTION gridcase_case_search() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO case_search (case_id, body)
    VALUES (NEW.id, NEW.description || E'\\n' || coalesce(NEW.address, ''))
    ON CONFLICT (case_id) DO UPDATE SET body = EXCLUDED.body;
    RETURN NULL;
END;
$$
"""

CHANGED = (
    "OLD.status IS DISTINCT FROM NEW.status OR OLD.grid_code IS DISTINCT FROM NEW.grid_code "
    "OR OLD.department_code IS DISTINCT FROM NEW.department_code "
    "OR OLD.assist_department_codes IS DISTINCT FROM NEW.assist_department_codes"
)


def _count_key() -> list[sa.Column[object]]:
    return [
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("grid_code", sa.Text(), nullable=False),  # '' = none
        sa.Column("department_code", sa.Text(), nullable=False),  # '' = none
        sa.Column("assist", sa.Boolean(), nullable=False),  # false: lead department; true: assisting
    ]


def upgrade() -> None:
    # Nothing writes cases while they are counted and indexed (the transaction holds it to the end).
    op.execute("LOCK TABLE cases IN SHARE MODE")

    # --- list: keyset order, date filters, overdue / due soon / stranded ------------------------
    op.drop_index("ix_cases_updated_at", table_name="cases")
    op.create_index("ix_cases_updated_id", "cases", ["updated_at", "id"])
    op.create_index("ix_cases_created_at", "cases", ["created_at"])
    # Covering: overdue counts and the overdue page's order keys for any role need no table rows.
    op.create_index(
        "ix_cases_running_due",
        "cases",
        ["due_at"],
        postgresql_include=RUNNING_INCLUDE,
        postgresql_where=sa.text(RUNNING),
    )
    # A feed's counters count its own cases: from this index alone.
    op.drop_index("ix_cases_submitted_by", table_name="cases")
    op.create_index(
        "ix_cases_submitted_by", "cases", ["submitted_by", "updated_at"], postgresql_include=["status"]
    )
    op.create_index("ix_cases_reported_created", "cases", ["created_at"], postgresql_where=sa.text(REPORTED))

    # --- status counters -------------------------------------------------------------------------
    op.create_table(
        "case_counts",
        *_count_key(),
        sa.Column("n", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("status", "grid_code", "department_code", "assist", name="pk_case_counts"),
    )
    # Append-only, no index: the cheapest write a trigger can make.
    op.create_table("case_count_deltas", *_count_key(), sa.Column("n", sa.Integer(), nullable=False))
    op.execute(
        "INSERT INTO case_counts (status, grid_code, department_code, assist, n) "
        "SELECT status, coalesce(grid_code, ''), coalesce(department_code, ''), false, count(*) "
        "FROM cases GROUP BY 1, 2, 3 "
        "UNION ALL "
        "SELECT c.status, coalesce(c.grid_code, ''), a.code, true, count(*) FROM cases c "
        "CROSS JOIN LATERAL (SELECT DISTINCT x AS code FROM unnest(c.assist_department_codes) AS x "
        "WHERE x IS NOT NULL AND x IS DISTINCT FROM c.department_code) AS a GROUP BY 1, 2, 3"
    )
    op.execute(COUNTS_FUNCTION)
    op.execute(COUNTS_TRUNCATE_FUNCTION)
    op.execute(COMPACT_FUNCTION)
    op.execute(
        "CREATE TRIGGER cases_counts_insert AFTER INSERT ON cases "
        "FOR EACH ROW EXECUTE FUNCTION gridcase_case_counts_delta()"
    )
    op.execute(
        "CREATE TRIGGER cases_counts_update AFTER UPDATE OF status, grid_code, department_code, "
        f"assist_department_codes ON cases FOR EACH ROW WHEN ({CHANGED}) "
        "EXECUTE FUNCTION gridcase_case_counts_delta()"
    )
    op.execute(
        "CREATE TRIGGER cases_counts_delete AFTER DELETE ON cases "
        "FOR EACH ROW EXECUTE FUNCTION gridcase_case_counts_delta()"
    )
    op.execute(
        "CREATE TRIGGER cases_counts_truncate AFTER TRUNCATE ON cases "
        "FOR EACH STATEMENT EXECUTE FUNCTION gridcase_case_counts_truncate()"
    )

    # --- text search -----------------------------------------------------------------------------
    op.execute(BIGRAMS_FUNCTION)
    op.create_table(
        "case_search",
        sa.Column("case_id", sa.UUID(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),  # description, a newline, address
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_case_search_case_id_cases"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("case_id", name=op.f("pk_case_search")),
    )
    op.execute(
        "INSERT INTO case_search (case_id, body) "
        "SELECT id, description || E'\\n' || coalesce(address, '') FROM cases"
    )
    op.execute("CREATE INDEX ix_case_search_bigrams ON case_search USING gin (gridcase_bigrams(body))")
    op.execute(SEARCH_FUNCTION)
    op.execute(
        "CREATE TRIGGER cases_search_insert AFTER INSERT ON cases "
        "FOR EACH ROW EXECUTE FUNCTION gridcase_case_search()"
    )
    op.execute(
        "CREATE TRIGGER cases_search_update AFTER UPDATE OF description, address ON cases FOR EACH ROW "
        "WHEN (OLD.description IS DISTINCT FROM NEW.description OR OLD.address IS DISTINCT FROM NEW.address) "
        "EXECUTE FUNCTION gridcase_case_search()"
    )

    # --- live feed: which transaction wrote each outbox row ---------------------------------------
    # Added without a default first (no table rewrite; old rows stay NULL, the feed never reads them).
    op.execute("ALTER TABLE outbox ADD COLUMN txid xid8")
    op.execute("ALTER TABLE outbox ALTER COLUMN txid SET DEFAULT pg_current_xact_id()")
    op.create_index("ix_outbox_txid", "outbox", ["txid"])


def downgrade() -> None:
    op.drop_index("ix_outbox_txid", table_name="outbox")
    op.drop_column("outbox", "txid")
    op.execute("DROP TRIGGER IF EXISTS cases_search_update ON cases")
    op.execute("DROP TRIGGER IF EXISTS cases_search_insert ON cases")
    op.execute("DROP FUNCTION IF EXISTS gridcase_case_search()")
    op.drop_table("case_search")
    op.execute("DROP FUNCTION IF EXISTS gridcase_bigrams(text)")
    for trigger in ("truncate", "delete", "update", "insert"):
        op.execute(f"DROP TRIGGER IF EXISTS cases_counts_{trigger} ON cases")
    op.execute("DROP FUNCTION IF EXISTS gridcase_compact_case_counts()")
    op.execute("DROP FUNCTION IF EXISTS gridcase_case_counts_truncate()")
    op.execute("DROP FUNCTION IF EXISTS gridcase_case_counts_delta()")
    op.drop_table("case_count_deltas")
    op.drop_table("case_counts")
    op.drop_index("ix_cases_reported_created", table_name="cases", postgresql_where=sa.text(REPORTED))
    op.drop_index("ix_cases_running_due", table_name="cases", postgresql_where=sa.text(RUNNING))
    op.drop_index("ix_cases_created_at", table_name="cases")
    op.drop_index("ix_cases_submitted_by", table_name="cases")
    op.create_index("ix_cases_submitted_by", "cases", ["submitted_by", "updated_at"])
    op.drop_index("ix_cases_updated_id", table_name="cases")
    op.create_index("ix_cases_updated_at", "cases", ["updated_at"])
