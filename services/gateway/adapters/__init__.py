"""The gateway's adapters: Cognito JWKS, Redis (rate limits + cache), upstream HTTP."""
