"""Co-purchase counts (both directions), product popularity, processed event ids.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

from services.common.consumer import create_processed_events_table

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_processed_events_table(op)
    op.create_table(
        "co_purchases",
        sa.Column("product_id", sa.String(64), primary_key=True),
        sa.Column("other_id", sa.String(64), primary_key=True),
        sa.Column("orders", sa.BigInteger, nullable=False),
    )
    op.create_index("co_purchases_ranked", "co_purchases", ["product_id", sa.text("orders desc"), "other_id"])
    op.create_table(
        "products",
        sa.Column("product_id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False, server_default=""),
        sa.Column("orders", sa.BigInteger, nullable=False),
        sa.Column("units", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )
    op.create_index("products_ranked", "products", [sa.text("orders desc"), sa.text("units desc"), "product_id"])


def downgrade() -> None:
    op.drop_table("products")
    op.drop_table("co_purchases")
    op.drop_table("processed_events")
