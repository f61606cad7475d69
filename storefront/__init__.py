"""The storefront: a single-page web shop served from the S3 static-site bucket (no build step)."""
