"""Alembic environment: ``services.common.db.migrate`` hands over the connection and the schema."""

from alembic import context

from services.common.db import run_migrations_online

run_migrations_online(context.config.attributes["connection"], context.config.attributes["schema"])
