"""routing that reads: model suggestions and version on cases, operators' corrections as examples

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25 11:15:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("cases", sa.Column("category_source", sa.Text(), nullable=True))
    op.add_column("cases", sa.Column("classifier_version", sa.Text(), nullable=True))
    op.add_column(
        "cases", sa.Column("category_suggestions", postgresql.JSONB(astext_type=sa.Text()), nullable=True)
    )
    op.create_table(
        "classifier_examples",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("category", sa.Text(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("case_id", sa.UUID(), nullable=True),
        sa.Column("suggested", sa.Text(), nullable=True),
        sa.Column("created_by", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_classifier_examples")),
    )


def downgrade() -> None:
    op.drop_table("classifier_examples")
    op.drop_column("cases", "category_suggestions")
    op.drop_column("cases", "classifier_version")
    op.drop_column("cases", "category_source")
