"""The pattern every service shares: app factory, settings, errors, logs, identity, HTTP, secrets, database."""
