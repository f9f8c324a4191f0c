"""the likely-duplicate lookup: recent cases of one category that have a point

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-25 13:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_cases_category_created_located",
        "cases",
        ["category_code", "created_at"],
        postgresql_where=sa.text("lat IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_cases_category_created_located", table_name="cases")
