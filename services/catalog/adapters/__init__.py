"""One module per backend the catalog talks to: PostgreSQL, Redis, S3."""
