"""The notification schema's tables (the migrations create them; the adapters query through them)."""

from __future__ import annotations

from sqlalchemy import Column, DateTime, Index, MetaData, String, Table, Text, Uuid, func

metadata = MetaData()

emails = Table(
    "emails",
    metadata,
    Column("event_id", Uuid, primary_key=True),
    Column("event_type", String(64), nullable=False),
    Column("order_id", String(128), nullable=False),
    Column("customer_sub", String(128)),
    Column("recipient", String(320)),
    Column("subject", Text, nullable=False, server_default=""),
    Column("text_body", Text, nullable=False, server_default=""),
    Column("html_body", Text, nullable=False, server_default=""),
    Column("status", String(16), nullable=False),
    Column("skip_reason", Text),
    Column("ses_message_id", String(128)),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("sent_at", DateTime(timezone=True)),
    Index("emails_by_customer", "customer_sub", "created_at"),
    Index("emails_by_order", "order_id"),
    Index("emails_by_time", "created_at"),
)

contacts = Table(
    "contacts",
    metadata,
    Column("order_id", String(128), primary_key=True),
    Column("customer_sub", String(128), nullable=False),
    Column("email", String(320)),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)
