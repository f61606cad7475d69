"""The outbox row keeps the trace context of the transaction that wrote it (issue 14: observability).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29
"""

from alembic import op

from services.common.outbox import add_trace_context_column, outbox

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    add_trace_context_column(op)


def downgrade() -> None:
    op.drop_column(outbox.name, "trace_context")
