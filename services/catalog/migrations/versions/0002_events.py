"""Catalog events: the outbox, and a change version on products and inventory rows.

Every write to a product or its stock takes ``nextval('change_seq')`` as the row's new
``version`` while it holds the row lock, so versions of one row grow in commit order.
Events carry the version, and the search index keeps a part of a document only when a
newer version arrives: late or repeated events change nothing (issue: search service).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

from services.common.outbox import create_outbox_table

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

NEXT = sa.text("nextval('change_seq')")


def upgrade() -> None:
    create_outbox_table(op)
    op.execute("create sequence change_seq")
    op.add_column("products", sa.Column("version", sa.BigInteger, nullable=False, server_default=NEXT))
    op.add_column("inventory", sa.Column("version", sa.BigInteger, nullable=False, server_default=NEXT))


def downgrade() -> None:
    op.drop_column("inventory", "version")
    op.drop_column("products", "version")
    op.execute("drop sequence change_seq")
    op.drop_table("outbox")
