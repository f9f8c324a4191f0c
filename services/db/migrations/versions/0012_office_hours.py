"""office hours per department (a clock counts in the hours of the unit working the case)

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-25 13:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # NULL: the deployment's default (GRIDCASE_OFFICE_HOURS). E.g. "08:00-12:00,14:00-18:00" in summer.
    op.add_column("departments", sa.Column("office_hours", sa.Text(), nullable=True))
    op.add_column("case_clocks", sa.Column("office_hours", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("case_clocks", "office_hours")
    op.drop_column("departments", "office_hours")
