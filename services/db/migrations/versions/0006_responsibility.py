"""the responsibility matrix (category x area), handling at grid or community first, anti-bounce

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25 12:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "responsibility_rules",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("category_code", sa.Text(), nullable=False),
        sa.Column("area_code", sa.Text(), nullable=False),
        sa.Column("department_code", sa.Text(), nullable=True),
        sa.Column("assist", postgresql.ARRAY(sa.Text()), nullable=True),
        sa.Column("level", sa.Text(), nullable=True),
        sa.Column("sign_limit", sa.Text(), nullable=True),
        sa.Column("handle_limit", sa.Text(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("updated_by", sa.Text(), nullable=True),
        sa.Column("updated_at", TS, server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["category_code"],
            ["categories.code"],
            name=op.f("fk_responsibility_rules_category_code_categories"),
        ),
        sa.ForeignKeyConstraint(
            ["area_code"], ["areas.code"], name=op.f("fk_responsibility_rules_area_code_areas")
        ),
        sa.ForeignKeyConstraint(
            ["department_code"],
            ["departments.code"],
            name=op.f("fk_responsibility_rules_department_code_departments"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_responsibility_rules")),
        sa.UniqueConstraint("category_code", "area_code", name="uq_responsibility_rules_category_area"),
    )
    # A deployment's own category may have no district-wide department: area rules name it.
    op.alter_column("categories", "department_code", nullable=True)
    # Who works the case now: 'grid' or 'community' first (小事不出网格), NULL = the lead department.
    op.add_column("cases", sa.Column("handler_level", sa.Text(), nullable=True))
    op.add_column("cases", sa.Column("handler_area_codes", postgresql.ARRAY(sa.Text()), nullable=True))
    # The limits the matrix gave at dispatch (the SLA clock starts from them).
    op.add_column("cases", sa.Column("sign_limit", sa.Text(), nullable=True))
    op.add_column("cases", sa.Column("handle_limit", sa.Text(), nullable=True))
    # Anti-bounce (踢皮球): returns and departments tried; the first department coordinates (首接负责).
    op.add_column("cases", sa.Column("return_count", sa.Integer(), server_default="0", nullable=False))
    op.add_column(
        "cases",
        sa.Column(
            "departments_tried", postgresql.ARRAY(sa.Text()), server_default=sa.text("'{}'"), nullable=False
        ),
    )
    op.add_column("cases", sa.Column("coordinator_department_code", sa.Text(), nullable=True))
    op.add_column("cases", sa.Column("bounced_at", TS, nullable=True))
    op.add_column("cases", sa.Column("bounce_reason", sa.Text(), nullable=True))
    op.create_index(
        "ix_cases_bounced", "cases", ["bounced_at"], postgresql_where=sa.text("bounced_at IS NOT NULL")
    )


def downgrade() -> None:
    op.drop_index("ix_cases_bounced", table_name="cases")
    for column in (
        "bounce_reason",
        "bounced_at",
        "coordinator_department_code",
        "departments_tried",
        "return_count",
        "handle_limit",
        "sign_limit",
        "handler_area_codes",
        "handler_level",
    ):
        op.drop_column("cases", column)
    op.alter_column("categories", "department_code", nullable=False)
    op.drop_table("responsibility_rules")
