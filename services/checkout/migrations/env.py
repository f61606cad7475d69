"""Alembic environment of the checkout service: runs on the connection services.common.db.migrate gives."""

from alembic import context

from services.common.db import run_migrations_online

run_migrations_online(context.config.attributes["connection"], context.config.attributes["schema"])
