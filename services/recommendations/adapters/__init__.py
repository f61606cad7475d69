"""The recommendations service's adapters: PostgreSQL (counts and rankings)."""
