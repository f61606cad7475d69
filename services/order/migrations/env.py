"""Alembic environment of the order service: runs on the connection services.common.db.migrate hands in."""

from alembic import context

from services.common.db import run_migrations_online

config = context.config
run_migrations_online(config.attributes["connection"], config.attributes["schema"])
