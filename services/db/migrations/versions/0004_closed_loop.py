"""the closed loop worked by people: requests, assisting parts, photos, merged duplicates

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 10:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.add_column("cases", sa.Column("duplicate_of", sa.UUID(), nullable=True))
    op.create_index(
        "ix_cases_duplicate_of",
        "cases",
        ["duplicate_of"],
        postgresql_where=sa.text("duplicate_of IS NOT NULL"),
    )
    op.create_table(
        "case_requests",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("case_id", sa.UUID(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), server_default="pending", nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("requested_due_at", TS, nullable=True),
        sa.Column("requested_by", sa.Text(), nullable=False),
        sa.Column("requested_by_label", sa.Text(), nullable=True),
        sa.Column("requested_at", TS, nullable=False),
        sa.Column("request_event_id", sa.UUID(), nullable=False),
        sa.Column("answered_by", sa.Text(), nullable=True),
        sa.Column("answered_by_label", sa.Text(), nullable=True),
        sa.Column("answered_at", TS, nullable=True),
        sa.Column("answer_note", sa.Text(), nullable=True),
        sa.Column("answer_event_id", sa.UUID(), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_case_requests_case_id_cases")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_requests")),
    )
    op.create_index("ix_case_requests_case", "case_requests", ["case_id"])
    op.create_index(
        "uq_case_requests_pending",
        "case_requests",
        ["case_id", "kind"],
        unique=True,
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.create_index(
        "ix_case_requests_pending",
        "case_requests",
        ["requested_at"],
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.create_table(
        "case_assists",
        sa.Column("case_id", sa.UUID(), nullable=False),
        sa.Column("department_code", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), server_default="pending", nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("reported_by", sa.Text(), nullable=True),
        sa.Column("reported_by_label", sa.Text(), nullable=True),
        sa.Column("reported_at", TS, nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_case_assists_case_id_cases")),
        sa.PrimaryKeyConstraint("case_id", "department_code", name="pk_case_assists"),
    )
    op.create_table(
        "case_photos",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("case_id", sa.UUID(), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("content_type", sa.Text(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.Text(), nullable=False),
        sa.Column("uploaded_by", sa.Text(), nullable=False),
        sa.Column("uploaded_by_label", sa.Text(), nullable=True),
        sa.Column("created_at", TS, server_default=sa.text("now()"), nullable=False),
        sa.Column("kind", sa.Text(), nullable=True),
        sa.Column("event_id", sa.UUID(), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_case_photos_case_id_cases")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_photos")),
    )
    op.create_index("ix_case_photos_case", "case_photos", ["case_id"])


def downgrade() -> None:
    op.drop_table("case_photos")
    op.drop_table("case_assists")
    op.drop_table("case_requests")
    op.drop_index("ix_cases_duplicate_of", table_name="cases")
    op.drop_column("cases", "duplicate_of")
