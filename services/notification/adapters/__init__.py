"""The notification service's adapters: PostgreSQL (the record), SES (sending), Jinja2 (templates)."""
