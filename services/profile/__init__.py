"""The user/profile service: sign-up and sign-in through Cognito, profiles and address books in PostgreSQL."""
