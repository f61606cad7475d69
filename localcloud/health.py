"""Probes of the backing services: the same calls answer readiness at start and /healthz later."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

PROBE_TIMEOUT_S = 2.0

# Credentials for an emulator: never let a local run pick up real AWS credentials.
EMULATOR_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


def emulator_env(endpoint_url: str, region: str) -> dict[str, str]:
    """The environment in which boto3 reaches the emulator by itself: its endpoint, the region, dummy credentials.

    What every service process gets (``supervisor.child_env``), and tests and benches that call the services' code.
    """
    return {
        "AWS_ENDPOINT_URL": endpoint_url,
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "AWS_ACCESS_KEY_ID": EMULATOR_CREDENTIALS["aws_access_key_id"],
        "AWS_SECRET_ACCESS_KEY": EMULATOR_CREDENTIALS["aws_secret_access_key"],
    }


def libpq_url(url: str) -> str:
    """A SQLAlchemy-style URL (``postgresql+psycopg://``) in the form libpq accepts."""
    return re.sub(r"^postgres(ql)?\+\w+://", "postgresql://", url)


def aws_client(
    service: str, *, endpoint_url: str | None, region: str, timeout_s: float = 10.0, retries: int = 3
) -> Any:
    """A boto3 client; with an endpoint (the emulator) it uses dummy credentials, without one the default chain."""
    import boto3  # the clients' libraries are imported when first used: the supervisor starts the zygote first
    from botocore.config import Config

    credentials = EMULATOR_CREDENTIALS if endpoint_url else {}
    config = Config(
        connect_timeout=timeout_s,
        read_timeout=timeout_s,
        retries={"max_attempts": retries, "mode": "standard"},
    )
    return boto3.client(service, endpoint_url=endpoint_url, region_name=region, config=config, **credentials)


def probe_postgres(url: str) -> str:
    """Connect and ask the server's version."""
    import psycopg

    with psycopg.connect(libpq_url(url), connect_timeout=int(PROBE_TIMEOUT_S)) as conn:
        row = conn.execute("show server_version").fetchone()
    return f"PostgreSQL {row[0]}" if row else "PostgreSQL"


def probe_redis(url: str) -> str:
    """PING, then ask the server's name and version."""
    import redis

    client = redis.Redis.from_url(url, socket_timeout=PROBE_TIMEOUT_S, socket_connect_timeout=PROBE_TIMEOUT_S)
    try:
        client.ping()
        info = client.info("server")
    finally:
        client.close()
    if "valkey_version" in info:
        return f"Valkey {info['valkey_version']}"
    return f"Redis {info.get('redis_version', '?')}"


def probe_aws(endpoint_url: str | None, region: str) -> str:
    """Ask STS who we are: answered by moto and by AWS alike."""
    sts = aws_client("sts", endpoint_url=endpoint_url, region=region, timeout_s=PROBE_TIMEOUT_S, retries=1)
    account = sts.get_caller_identity()["Account"]
    return f"account {account} at {endpoint_url or 'AWS'}"


def check(probes: dict[str, Callable[[], str]]) -> dict[str, dict[str, Any]]:
    """Run every probe at once; each result is ``{"status": "up"|"down", "detail", "latency_ms"}``."""

    def run(probe: Callable[[], str]) -> dict[str, Any]:
        start = time.perf_counter()
        try:
            detail, status = probe(), "up"
        except Exception as exc:  # noqa: BLE001 - a failed probe is a 'down', not a crash
            detail, status = f"{type(exc).__name__}: {exc}".strip(), "down"
        return {"status": status, "detail": detail, "latency_ms": round((time.perf_counter() - start) * 1000, 1)}

    if not probes:
        return {}
    with ThreadPoolExecutor(max_workers=len(probes)) as pool:
        futures = {name: pool.submit(run, probe) for name, probe in probes.items()}
        return {name: f.result() for name, f in futures.items()}
