"""The payment schema's tables as SQLAlchemy Core; migrations/versions creates them (keep the two in step)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

metadata = sa.MetaData()

payments = sa.Table(
    "payments",
    metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("idempotency_key", sa.String(200), nullable=False, unique=True),
    sa.Column("order_id", sa.String(64), nullable=False),
    sa.Column("customer_sub", sa.String(64), nullable=False),
    sa.Column("amount_minor", sa.BigInteger, nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("payment_method", sa.String(40), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("reason", sa.String(200)),
    sa.Column("provider_ref", sa.String(100)),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.CheckConstraint("amount_minor > 0", name="payments_amount_positive"),
)

payment_attempts = sa.Table(
    "payment_attempts",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("payment_id", sa.Uuid, sa.ForeignKey("payments.id", ondelete="CASCADE"), nullable=False),
    sa.Column("operation", sa.String(16), nullable=False),
    sa.Column("request", JSONB, nullable=False),
    sa.Column("outcome", sa.String(16), nullable=False),
    sa.Column("latency_ms", sa.Integer, nullable=False),
    sa.Column("provider_ref", sa.String(100)),
    sa.Column("error", sa.Text),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
)

provider_callbacks = sa.Table(
    "provider_callbacks",
    metadata,
    sa.Column("callback_id", sa.String(120), primary_key=True),
    sa.Column("payment_id", sa.Uuid, nullable=False),
    sa.Column("operation", sa.String(16), nullable=False),
    sa.Column("outcome", sa.String(16), nullable=False),
    sa.Column("received_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
)

# The simulated card provider's own ledger of holds (services/payment/adapters/simulated.py): it stands in for
# the card network's state, which outlives our payment service; it is in this database only because no card
# network runs here. Nothing of the orchestrator reads it.
provider_holds = sa.Table(
    "provider_holds",
    metadata,
    sa.Column("authorization_key", sa.String(200), primary_key=True),
    sa.Column("ref", sa.String(100), nullable=False),
    sa.Column("amount_minor", sa.BigInteger, nullable=False),
    sa.Column("payment_method", sa.String(40), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("moved_by", sa.String(200)),  # the idempotency key of the call that last moved it
)
