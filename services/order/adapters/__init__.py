"""The order service's adapters: one module per real backend."""
