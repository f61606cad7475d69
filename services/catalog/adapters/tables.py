"""The catalog's tables as SQLAlchemy Core objects (unqualified: the connection's search_path is the schema).

The migrations in services/catalog/migrations create exactly these.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, DateTime, Integer, MetaData, String, Table, Text, func, text
from sqlalchemy.dialects.postgresql import JSONB

metadata = MetaData()
# A row's change version (migration 0002): taken under the row lock, so one row's versions grow in commit order.
NEXT_VERSION = text("nextval('change_seq')")

categories = Table(
    "categories",
    metadata,
    Column("slug", String(64), primary_key=True),
    Column("name", String(120), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

products = Table(
    "products",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("sku", String(64), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("description", Text, nullable=False, server_default=""),
    Column("price_minor", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("attributes", JSONB, nullable=False, server_default="{}"),
    Column("category_slug", String(64), nullable=False),
    Column("image_key", String(255)),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("version", BigInteger, nullable=False, server_default=NEXT_VERSION),
)

inventory = Table(
    "inventory",
    metadata,
    Column("product_id", String(64), primary_key=True),
    Column("on_hand", Integer, nullable=False),
    Column("reserved", Integer, nullable=False, server_default="0"),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("version", BigInteger, nullable=False, server_default=NEXT_VERSION),
)

reservations = Table(
    "reservations",
    metadata,
    Column("id", String(100), primary_key=True),
    Column("status", String(12), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

reservation_lines = Table(
    "reservation_lines",
    metadata,
    Column("reservation_id", String(100), primary_key=True),
    Column("product_id", String(64), primary_key=True),
    Column("quantity", Integer, nullable=False),
)
