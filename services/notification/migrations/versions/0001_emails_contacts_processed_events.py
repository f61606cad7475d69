"""E-mails sent or skipped, contacts learned from order events, processed event ids.

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
        "emails",
        sa.Column("event_id", sa.Uuid, primary_key=True),
        sa.Column("event_type", sa.String(64), nullable=False),
        sa.Column("order_id", sa.String(128), nullable=False),
        sa.Column("customer_sub", sa.String(128)),
        sa.Column("recipient", sa.String(320)),
        sa.Column("subject", sa.Text, nullable=False, server_default=""),
        sa.Column("text_body", sa.Text, nullable=False, server_default=""),
        sa.Column("html_body", sa.Text, nullable=False, server_default=""),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("skip_reason", sa.Text),
        sa.Column("ses_message_id", sa.String(128)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("sent_at", sa.DateTime(timezone=True)),
    )
    op.create_index("emails_by_customer", "emails", ["customer_sub", "created_at"])
    op.create_index("emails_by_order", "emails", ["order_id"])
    op.create_index("emails_by_time", "emails", ["created_at"])
    op.create_table(
        "contacts",
        sa.Column("order_id", sa.String(128), primary_key=True),
        sa.Column("customer_sub", sa.String(128), nullable=False),
        sa.Column("email", sa.String(320)),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )


def downgrade() -> None:
    op.drop_table("contacts")
    op.drop_table("emails")
    op.drop_table("processed_events")
