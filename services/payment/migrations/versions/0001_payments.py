"""Payments, their provider attempts, provider callbacks seen, and the outbox.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

from services.common.outbox import create_outbox_table

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _stamp(name: str) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now())


def upgrade() -> None:
    op.create_table(
        "payments",
        sa.Column("id", sa.Uuid, primary_key=True),
        # The saga's key: one payment per key, whatever the number of concurrent retries.
        sa.Column("idempotency_key", sa.String(200), nullable=False, unique=True),
        sa.Column("order_id", sa.String(64), nullable=False),
        sa.Column("customer_sub", sa.String(64), nullable=False),
        sa.Column("amount_minor", sa.BigInteger, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("payment_method", sa.String(40), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(200)),
        sa.Column("provider_ref", sa.String(100)),
        _stamp("created_at"),
        _stamp("updated_at"),
        sa.CheckConstraint("amount_minor > 0", name="payments_amount_positive"),
    )
    op.create_index("payments_by_order", "payments", ["order_id", "created_at"])
    op.create_index("payments_by_customer", "payments", ["customer_sub", "created_at"])
    op.create_table(
        "payment_attempts",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("payment_id", sa.Uuid, sa.ForeignKey("payments.id", ondelete="CASCADE"), nullable=False),
        sa.Column("operation", sa.String(16), nullable=False),
        sa.Column("request", JSONB, nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("latency_ms", sa.Integer, nullable=False),
        sa.Column("provider_ref", sa.String(100)),
        sa.Column("error", sa.Text),
        _stamp("created_at"),
    )
    op.create_index("payment_attempts_by_payment", "payment_attempts", ["payment_id", "id"])
    op.create_table(
        "provider_callbacks",
        sa.Column("callback_id", sa.String(120), primary_key=True),
        sa.Column("payment_id", sa.Uuid, nullable=False),
        sa.Column("operation", sa.String(16), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        _stamp("received_at"),
    )
    create_outbox_table(op)


def downgrade() -> None:
    for name in ("outbox", "provider_callbacks", "payment_attempts", "payments"):
        op.drop_table(name)
