"""The simulated card provider's holds, kept where a restart of the payment service does not lose them.

A real provider's holds live in the card network and outlive our service; the simulated provider kept them in
the payment process's memory, so a payment service killed between an authorization and its capture came back
to a provider that had never heard of the hold (found by the chaos experiment half-the-services-lost).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "provider_holds",
        sa.Column("authorization_key", sa.String(200), primary_key=True),
        sa.Column("ref", sa.String(100), nullable=False),
        sa.Column("amount_minor", sa.BigInteger, nullable=False),
        sa.Column("payment_method", sa.String(40), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("moved_by", sa.String(200)),
    )


def downgrade() -> None:
    op.drop_table("provider_holds")
