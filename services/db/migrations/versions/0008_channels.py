"""every channel a district has: raw requests with headers and outcomes, message dedup and nonces, WeChat
sessions, attachments by reference, residents' references, likely duplicates, grid check-ins

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-25 12:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)
JSONB = postgresql.JSONB(astext_type=sa.Text())


def upgrade() -> None:
    # Raw requests: the headers that matter (secrets redacted), where from, and replays.
    op.add_column("raw_inbound", sa.Column("headers", JSONB, nullable=True))
    op.add_column("raw_inbound", sa.Column("path", sa.Text(), nullable=True))
    op.add_column("raw_inbound", sa.Column("remote_addr", sa.Text(), nullable=True))
    op.add_column("raw_inbound", sa.Column("replayed_at", TS, nullable=True))
    op.create_index("ix_raw_inbound_received_at", "raw_inbound", ["received_at"])
    op.create_index(
        "ix_raw_inbound_failed",
        "raw_inbound",
        ["id"],
        postgresql_where=sa.text("outcome IN ('failed', 'received')"),
    )
    # One row per channel message key (WeChat MsgId, FromUserName+CreateTime for events): a retry finds
    # it and gets the same answer.
    op.create_table(
        "channel_messages",
        sa.Column("channel", sa.Text(), nullable=False),
        sa.Column("message_key", sa.Text(), nullable=False),
        sa.Column("raw_id", sa.BigInteger(), nullable=True),
        sa.Column("case_id", sa.UUID(), nullable=True),
        sa.Column("reply", sa.Text(), nullable=True),
        sa.Column("created_at", TS, server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("channel", "message_key", name=op.f("pk_channel_messages")),
    )
    op.create_index("ix_channel_messages_created_at", "channel_messages", ["created_at"])
    # Nonces seen inside the accepted time window: a replayed request is refused.
    op.create_table(
        "channel_nonces",
        sa.Column("channel", sa.Text(), nullable=False),
        sa.Column("nonce", sa.Text(), nullable=False),
        sa.Column("seen_at", TS, server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("channel", "nonce", name=op.f("pk_channel_nonces")),
    )
    # One resident's messages within the window make one case.
    op.create_table(
        "channel_sessions",
        sa.Column("channel", sa.Text(), nullable=False),
        sa.Column("resident_ref", sa.Text(), nullable=False),
        sa.Column("case_id", sa.UUID(), nullable=False),
        sa.Column("opened_at", TS, server_default=sa.text("now()"), nullable=False),
        sa.Column("last_message_at", TS, server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("channel", "resident_ref", name=op.f("pk_channel_sessions")),
    )
    # What a channel sent that we keep by reference (a WeChat image's PicUrl and MediaId, a voice's MediaId).
    op.create_table(
        "case_attachments",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("case_id", sa.UUID(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),  # image | voice | video | file
        sa.Column("channel", sa.Text(), nullable=False),
        sa.Column("source_url", sa.Text(), nullable=True),
        sa.Column("media_id", sa.Text(), nullable=True),
        sa.Column("raw_id", sa.BigInteger(), nullable=True),
        sa.Column("created_at", TS, server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_case_attachments_case_id_cases")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_attachments")),
    )
    op.create_index("ix_case_attachments_case", "case_attachments", ["case_id"])
    # The resident as their channel knows them (WeChat openid; hashed for phones): their own cases.
    op.add_column("cases", sa.Column("reporter_ref", sa.Text(), nullable=True))
    op.create_index(
        "ix_cases_reporter_ref",
        "cases",
        ["reporter_ref", "created_at"],
        postgresql_where=sa.text("reporter_ref IS NOT NULL"),
    )
    # Channel details people need and that hold no personal data (callback wanted, GPS accuracy,
    # the superior's assignment …).
    op.add_column("cases", sa.Column("intake_details", JSONB, nullable=True))
    # A likely duplicate (并案 candidate) found at routing, for the operator to confirm or separate.
    op.add_column("cases", sa.Column("likely_duplicate_of", sa.UUID(), nullable=True))
    # 零上报: a grid worker's daily "nothing to report" for a grid.
    op.create_table(
        "grid_checkins",
        sa.Column("grid_code", sa.Text(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("worker", sa.Text(), nullable=False),
        sa.Column("worker_name", sa.Text(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_at", TS, server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(["grid_code"], ["areas.code"], name=op.f("fk_grid_checkins_grid_code_areas")),
        sa.PrimaryKeyConstraint("grid_code", "day", "worker", name=op.f("pk_grid_checkins")),
    )


def downgrade() -> None:
    op.drop_table("grid_checkins")
    op.drop_column("cases", "likely_duplicate_of")
    op.drop_column("cases", "intake_details")
    op.drop_index("ix_cases_reporter_ref", table_name="cases")
    op.drop_column("cases", "reporter_ref")
    op.drop_index("ix_case_attachments_case", table_name="case_attachments")
    op.drop_table("case_attachments")
    op.drop_table("channel_sessions")
    op.drop_table("channel_nonces")
    op.drop_index("ix_channel_messages_created_at", table_name="channel_messages")
    op.drop_table("channel_messages")
    op.drop_index("ix_raw_inbound_failed", table_name="raw_inbound")
    op.drop_index("ix_raw_inbound_received_at", table_name="raw_inbound")
    for column in ("replayed_at", "remote_addr", "path", "headers"):
        op.drop_column("raw_inbound", column)
