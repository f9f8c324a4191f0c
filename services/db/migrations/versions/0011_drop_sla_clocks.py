"""sla_clocks gave way to case_clocks and timers (0010): running clocks move over as handling clocks

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-25 13:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A clock running at upgrade keeps its deadline, counted in calendar time as before, with a timer.
    op.execute(
        """
        INSERT INTO case_clocks (case_id, phase, state, limit_text, working, limit_minutes, started_at,
                                 span_started_at, due_at, step, policy)
        SELECT case_id, 'handle', 'running', policy->>'handle_limit', false,
               extract(epoch FROM due_at - started_at) / 60, started_at, started_at, due_at, 0, NULL
          FROM sla_clocks WHERE state = 'running'
        ON CONFLICT DO NOTHING
        """
    )
    op.execute(
        "INSERT INTO timers (case_id, phase, kind, ref, clock_version, due_at) "
        "SELECT case_id, 'handle', 'due', 0, 1, due_at FROM sla_clocks WHERE state = 'running'"
    )
    op.drop_table("sla_clocks")


def downgrade() -> None:
    op.create_table(
        "sla_clocks",
        sa.Column("case_id", sa.UUID(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("step", sa.Integer(), server_default="0", nullable=False),
        sa.Column("policy", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("state", sa.Text(), server_default="running", nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_sla_clocks_case_id_cases")),
        sa.PrimaryKeyConstraint("case_id", name=op.f("pk_sla_clocks")),
    )
    op.create_index(
        "ix_sla_clocks_due", "sla_clocks", ["due_at"], postgresql_where=sa.text("state = 'running'")
    )
