"""Profiles and address books.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _text(name: str, length: int) -> sa.Column:
    return sa.Column(name, sa.String(length), nullable=False, server_default="")


def _stamps() -> list[sa.Column]:
    return [
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    ]


def upgrade() -> None:
    op.create_table(
        "profiles",
        sa.Column("sub", sa.String(64), primary_key=True),
        _text("email", 320),
        _text("display_name", 80),
        _text("phone", 16),
        sa.Column("marketing_opt_in", sa.Boolean, nullable=False, server_default=sa.false()),
        *_stamps(),
    )
    op.create_table(
        "addresses",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("sub", sa.String(64), sa.ForeignKey("profiles.sub", ondelete="CASCADE"), nullable=False),
        _text("label", 40),
        _text("full_name", 100),
        _text("line1", 100),
        _text("line2", 100),
        _text("city", 60),
        _text("region", 60),
        _text("postal_code", 10),
        sa.Column("country", sa.String(2), nullable=False),
        _text("phone", 16),
        sa.Column("is_default", sa.Boolean, nullable=False, server_default=sa.false()),
        *_stamps(),
    )
    op.create_index("addresses_by_user", "addresses", ["sub", "created_at"])
    # At most one default address per user.
    op.create_index("addresses_one_default", "addresses", ["sub"], unique=True, postgresql_where=sa.text("is_default"))


def downgrade() -> None:
    op.drop_table("addresses")
    op.drop_table("profiles")
