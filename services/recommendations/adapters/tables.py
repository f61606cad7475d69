"""The recommendations schema's tables (the migrations create them; the adapter queries through them)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, DateTime, MetaData, String, Table, func

metadata = MetaData()

# Each pair is kept in both directions, so "what goes with X" is one index range scan (the migration's indexes).
co_purchases = Table(
    "co_purchases",
    metadata,
    Column("product_id", String(64), primary_key=True),
    Column("other_id", String(64), primary_key=True),
    Column("orders", BigInteger, nullable=False),
)

products = Table(
    "products",
    metadata,
    Column("product_id", String(64), primary_key=True),
    Column("name", String(200), nullable=False, server_default=""),
    Column("orders", BigInteger, nullable=False),
    Column("units", BigInteger, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)
