"""Credentials come from Secrets Manager at start, never from code or env files.

The same boto3 call reads the secret from moto locally (boto3 honours ``AWS_ENDPOINT_URL``)
and from Secrets Manager in AWS, where the pod's identity grants ``GetSecretValue``.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import boto3


def read_secret(secret_id: str, region: str) -> dict[str, Any]:
    """The JSON value of a secret."""
    client = boto3.client("secretsmanager", region_name=region)
    return json.loads(client.get_secret_value(SecretId=secret_id)["SecretString"])


def database_url(secret: dict[str, Any], driver: str = "psycopg") -> str:
    """A SQLAlchemy URL from an RDS-style credentials secret."""
    user, password = quote(str(secret["username"]), safe=""), quote(str(secret["password"]), safe="")
    return f"postgresql+{driver}://{user}:{password}@{secret['host']}:{secret['port']}/{secret['dbname']}"
