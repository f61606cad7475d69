"""The payment service's adapters: PostgreSQL storage and the simulated card provider."""
