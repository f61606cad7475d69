"""The profile schema's tables (the migrations create them; the adapter queries through them)."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, DateTime, ForeignKey, MetaData, String, Table, Uuid, func

from services.profile.domain import MAX_LENGTH

metadata = MetaData()


def _text(name: str) -> Column:
    return Column(name, String(MAX_LENGTH[name]), nullable=False, server_default="")


profiles = Table(
    "profiles",
    metadata,
    Column("sub", String(64), primary_key=True),
    Column("email", String(320), nullable=False, server_default=""),
    _text("display_name"),
    _text("phone"),
    Column("marketing_opt_in", Boolean, nullable=False, server_default="false"),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

addresses = Table(
    "addresses",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("sub", String(64), ForeignKey("profiles.sub", ondelete="CASCADE"), nullable=False),
    _text("label"),
    _text("full_name"),
    _text("line1"),
    _text("line2"),
    _text("city"),
    _text("region"),
    _text("postal_code"),
    Column("country", String(2), nullable=False),
    _text("phone"),
    Column("is_default", Boolean, nullable=False, server_default="false"),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)
