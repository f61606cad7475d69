"""Orders, their lines and status history; the outbox and the consumer's processed events.

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB, UUID

from services.common.consumer import create_processed_events_table
from services.common.outbox import create_outbox_table

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

NOW = sa.text("now()")
STATUSES = "('pending', 'confirmed', 'paid', 'fulfilled', 'cancelled', 'refunded')"


def upgrade() -> None:
    op.create_table(
        "orders",
        sa.Column("order_id", sa.String(100), primary_key=True),
        sa.Column("customer_sub", sa.String(128), nullable=False),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("subtotal_minor", sa.BigInteger, nullable=False),
        sa.Column("shipping_minor", sa.BigInteger, nullable=False),
        sa.Column("total_minor", sa.BigInteger, nullable=False),
        sa.Column("shipping_address", JSONB, nullable=False),
        sa.Column("checkout_id", sa.String(100)),
        sa.Column("payment_id", sa.String(100)),
        sa.Column("cancel_reason", sa.String(500)),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
        sa.CheckConstraint(f"status in {STATUSES}", name="orders_status_known"),
        sa.CheckConstraint("currency ~ '^[A-Z]{3}$'", name="orders_currency_iso"),
        sa.CheckConstraint("subtotal_minor >= 0 and shipping_minor >= 0", name="orders_money_not_negative"),
        # The database itself refuses totals that do not add up, whatever the code above it does.
        sa.CheckConstraint("total_minor = subtotal_minor + shipping_minor", name="orders_total_adds_up"),
    )
    op.create_index("orders_by_customer", "orders", ["customer_sub", sa.text("created_at desc"), "order_id"])
    op.create_table(
        "order_lines",
        sa.Column("order_id", sa.String(100), primary_key=True),
        sa.Column("line_no", sa.Integer, primary_key=True),
        sa.Column("product_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("quantity", sa.Integer, nullable=False),
        sa.Column("unit_price_minor", sa.BigInteger, nullable=False),
        sa.ForeignKeyConstraint(["order_id"], ["orders.order_id"], name="order_lines_order_fkey", ondelete="CASCADE"),
        sa.CheckConstraint("quantity > 0", name="order_lines_quantity_positive"),
        sa.CheckConstraint("unit_price_minor >= 0", name="order_lines_price_not_negative"),
    )
    op.create_table(
        "order_status_history",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("order_id", sa.String(100), nullable=False),
        sa.Column("from_status", sa.String(16)),
        sa.Column("to_status", sa.String(16), nullable=False),
        sa.Column("event_id", UUID(as_uuid=True), nullable=False, unique=True),
        sa.Column("reason", sa.String(500)),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
        sa.ForeignKeyConstraint(["order_id"], ["orders.order_id"], name="history_order_fkey", ondelete="CASCADE"),
        # Each status is reached at most once: a repeated transition can never be recorded twice.
        sa.UniqueConstraint("order_id", "to_status", name="history_status_once"),
        sa.CheckConstraint(f"to_status in {STATUSES}", name="history_status_known"),
    )
    create_outbox_table(op)
    create_processed_events_table(op)


def downgrade() -> None:
    for table in ("processed_events", "outbox", "order_status_history", "order_lines", "orders"):
        op.drop_table(table)
