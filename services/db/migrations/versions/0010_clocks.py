"""clocks per phase (sign, handle, check) on working time, durable timers, supervision orders

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-25 13:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)
JSONB = postgresql.JSONB(astext_type=sa.Text())


def upgrade() -> None:
    op.create_table(
        "case_clocks",
        sa.Column("case_id", sa.UUID(), nullable=False),
        sa.Column("phase", sa.Text(), nullable=False),  # sign | handle | check
        sa.Column("state", sa.Text(), nullable=False),  # running | paused | done | stopped
        sa.Column("limit_text", sa.Text(), nullable=False),  # 2wh, 1wd, 30m …
        sa.Column("working", sa.Boolean(), nullable=False),  # counted in working time
        sa.Column("limit_minutes", sa.Float(), nullable=False),
        sa.Column("extended_minutes", sa.Float(), server_default="0", nullable=False),
        sa.Column("used_minutes", sa.Float(), server_default="0", nullable=False),  # before the running span
        sa.Column("started_at", TS, nullable=False),
        sa.Column("span_started_at", TS, nullable=True),  # the running span's start
        sa.Column("paused_at", TS, nullable=True),
        sa.Column("due_at", TS, nullable=True),
        sa.Column("provisional", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("warned_at", TS, nullable=True),
        sa.Column("overdue_at", TS, nullable=True),
        sa.Column("ended_at", TS, nullable=True),
        sa.Column("step", sa.Integer(), server_default="0", nullable=False),  # next escalation step
        sa.Column("policy", JSONB, nullable=True),  # escalation steps, snapshotted when the clock starts
        sa.Column("history", JSONB, server_default=sa.text("'[]'::jsonb"), nullable=False),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.Column("updated_at", TS, server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_case_clocks_case_id_cases")),
        sa.PrimaryKeyConstraint("case_id", "phase", name=op.f("pk_case_clocks")),
    )
    # Durable timers: claimed with FOR UPDATE SKIP LOCKED by any escalation instance. A timer names
    # the clock version it was set for: a clock that changed since makes it a no-op when it fires.
    op.create_table(
        "timers",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("case_id", sa.UUID(), nullable=False),
        sa.Column("phase", sa.Text(), nullable=False),  # a clock's phase, or 'order'
        sa.Column("kind", sa.Text(), nullable=False),  # warn | due | step | order_due
        sa.Column("ref", sa.BigInteger(), nullable=True),  # the escalation step, or the order id
        sa.Column("clock_version", sa.Integer(), nullable=True),
        sa.Column("due_at", TS, nullable=False),
        sa.Column("fired_at", TS, nullable=True),
        sa.Column("created_at", TS, server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_timers")),
    )
    op.create_index(
        "ix_timers_pending_due", "timers", ["due_at"], postgresql_where=sa.text("fired_at IS NULL")
    )
    op.create_index("ix_timers_case", "timers", ["case_id"])
    op.create_table(
        "supervision_orders",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("case_id", sa.UUID(), nullable=False),
        sa.Column(
            "issuer_level", sa.Text(), nullable=False
        ),  # community | street | command_centre | district
        sa.Column("issuer_label", sa.Text(), nullable=False),  # 梅溪街道 / 区网格化管理指挥中心 / 区领导
        sa.Column("issued_by", sa.Text(), nullable=False),  # user:… or system:escalation
        sa.Column("issued_by_label", sa.Text(), nullable=True),
        sa.Column("department_code", sa.Text(), nullable=True),  # who must answer
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("reply_due_at", TS, nullable=False),
        sa.Column("status", sa.Text(), server_default="open", nullable=False),  # open | replied | closed
        sa.Column("reply", sa.Text(), nullable=True),
        sa.Column("replied_by", sa.Text(), nullable=True),
        sa.Column("replied_by_label", sa.Text(), nullable=True),
        sa.Column("replied_at", TS, nullable=True),
        sa.Column("overdue_at", TS, nullable=True),
        sa.Column("created_at", TS, server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_supervision_orders_case_id_cases")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_supervision_orders")),
    )
    op.create_index("ix_supervision_orders_case", "supervision_orders", ["case_id"])
    op.create_index(
        "ix_supervision_orders_open_due",
        "supervision_orders",
        ["reply_due_at"],
        postgresql_where=sa.text("status = 'open'"),
    )
    # Who supervises the case now (the escalation level's unit), shown on the case.
    op.add_column("cases", sa.Column("supervisor_label", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("cases", "supervisor_label")
    op.drop_index("ix_supervision_orders_open_due", table_name="supervision_orders")
    op.drop_index("ix_supervision_orders_case", table_name="supervision_orders")
    op.drop_table("supervision_orders")
    op.drop_index("ix_timers_case", table_name="timers")
    op.drop_index("ix_timers_pending_due", table_name="timers")
    op.drop_table("timers")
    op.drop_table("case_clocks")
