"""Checkouts, their step log, and the outbox.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

from services.common.outbox import create_outbox_table

revision = "0001"
down_revision = None


def upgrade() -> None:
    op.create_table(
        "checkouts",
        sa.Column("checkout_id", sa.String(64), primary_key=True),
        sa.Column("customer_sub", sa.String(128), nullable=False),
        sa.Column("idempotency_key", sa.String(200), nullable=False),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("state", JSONB, nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.UniqueConstraint("customer_sub", "idempotency_key", name="checkouts_key"),
    )
    op.create_index(
        "checkouts_unfinished",
        "checkouts",
        ["updated_at"],
        postgresql_where=sa.text("status not in ('completed', 'failed')"),
    )
    op.create_table(
        "checkout_steps",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("checkout_id", sa.String(64), nullable=False, index=True),
        sa.Column("step", sa.String(40), nullable=False),
        sa.Column("outcome", sa.String(200), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )
    create_outbox_table(op)


def downgrade() -> None:
    op.drop_table("outbox")
    op.drop_table("checkout_steps")
    op.drop_table("checkouts")
