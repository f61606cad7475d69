"""Categories, products, inventory and reservations.

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

NOW = sa.text("now()")


def upgrade() -> None:
    op.create_table(
        "categories",
        sa.Column("slug", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
        sa.CheckConstraint("slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$'", name="categories_slug_format"),
    )
    op.create_table(
        "products",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("sku", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("description", sa.Text, nullable=False, server_default=""),
        sa.Column("price_minor", sa.BigInteger, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("attributes", JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
        sa.Column("category_slug", sa.String(64), nullable=False),
        sa.Column("image_key", sa.String(255)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
        sa.UniqueConstraint("sku", name="products_sku_key"),
        sa.ForeignKeyConstraint(
            ["category_slug"], ["categories.slug"], name="products_category_fkey", onupdate="CASCADE"
        ),
        sa.CheckConstraint("price_minor >= 0", name="products_price_not_negative"),
        sa.CheckConstraint("currency ~ '^[A-Z]{3}$'", name="products_currency_iso"),
    )
    # One index per listing order, global and per category; ``id`` makes each order total.
    for order in ("name", "price_minor", "created_at"):
        op.create_index(f"products_by_{order}", "products", [order, "id"])
        op.create_index(f"products_by_category_{order}", "products", ["category_slug", order, "id"])
    op.create_table(
        "inventory",
        sa.Column("product_id", sa.String(64), primary_key=True),
        sa.Column("on_hand", sa.Integer, nullable=False),
        sa.Column("reserved", sa.Integer, nullable=False, server_default="0"),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
        sa.ForeignKeyConstraint(["product_id"], ["products.id"], name="inventory_product_fkey", ondelete="CASCADE"),
        # The database itself refuses to oversell, whatever the code above it does.
        sa.CheckConstraint("reserved >= 0 and reserved <= on_hand", name="inventory_reserved_within_on_hand"),
    )
    op.create_table(
        "reservations",
        sa.Column("id", sa.String(100), primary_key=True),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
        sa.CheckConstraint("status in ('held', 'committed', 'released', 'expired')", name="reservations_status_known"),
    )
    op.create_index(
        "reservations_held_by_expiry", "reservations", ["expires_at"], postgresql_where=sa.text("status = 'held'")
    )
    op.create_table(
        "reservation_lines",
        sa.Column("reservation_id", sa.String(100), primary_key=True),
        sa.Column("product_id", sa.String(64), primary_key=True),
        sa.Column("quantity", sa.Integer, nullable=False),
        sa.ForeignKeyConstraint(
            ["reservation_id"], ["reservations.id"], name="reservation_lines_reservation_fkey", ondelete="CASCADE"
        ),
        sa.CheckConstraint("quantity > 0", name="reservation_lines_quantity_positive"),
    )


def downgrade() -> None:
    for table in ("reservation_lines", "reservations", "inventory", "products", "categories"):
        op.drop_table(table)
