"""The profile service's adapters: Cognito (identity) and PostgreSQL (profiles, addresses)."""
