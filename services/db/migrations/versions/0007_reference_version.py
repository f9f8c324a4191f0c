"""reference_version: one counter bumped by every change to the reference data, so services reload
their catalog (grid index, matrix) only when something changed

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-25 13:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("areas", "categories", "departments", "responsibility_rules")


def upgrade() -> None:
    op.create_table(
        "reference_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.BigInteger(), server_default="1", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reference_version")),
        sa.CheckConstraint("id = 1", name=op.f("ck_reference_version_one_row")),
    )
    op.execute("INSERT INTO reference_version (id, version) VALUES (1, 1)")
    op.execute(
        """
        CREATE FUNCTION gridcase_bump_reference_version() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            UPDATE reference_version SET version = version + 1 WHERE id = 1;
            RETURN NULL;
        END $$
        """
    )
    for table in TABLES:
        op.execute(
            f"CREATE TRIGGER bump_reference_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION gridcase_bump_reference_version()"
        )


def downgrade() -> None:
    for table in TABLES:
        op.execute(f"DROP TRIGGER bump_reference_version ON {table}")
    op.execute("DROP FUNCTION gridcase_bump_reference_version()")
    op.drop_table("reference_version")
