"""The payment orchestrator: authorizations, captures, voids and refunds over a provider port."""
