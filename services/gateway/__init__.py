"""The API gateway / BFF: verifies Cognito tokens, rate-limits, caches anonymous GETs, routes to the services."""
