"""What the server fixtures of conftest.py do, as plain functions, for fixtures and helpers of a wider scope.

conftest.py's ``aws``, ``provisioned``, ``pg_url`` and ``serve_app`` are built on these; a support module
that runs a whole shop for a module of tests (tests/contract_support.py) uses the same ones.
"""

from __future__ import annotations

import asyncio
import copy
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import psycopg
import pytest
import redis
import uvicorn

from localcloud import backends, health, moto_server
from localcloud.provision import Outputs, Provisioner


def use_emulator(servers: Any, env: pytest.MonkeyPatch) -> str:
    """Point boto3 at the emulator (endpoint, region, dummy credentials in the environment) with a fresh state.

    moto is reset when it is ours; else the caller gets a stage name of its own. Returns the stage, also put in
    ``SHOP_STAGE``. Code under test then creates its clients exactly as it does in production.
    """
    url = servers.aws.url.rstrip("/")
    for name, value in health.emulator_env(url, servers.region).items():
        env.setenv(name, value)
    env.delenv("AWS_SESSION_TOKEN", raising=False)
    env.delenv("AWS_PROFILE", raising=False)
    if servers.aws.kind == "external":
        stage = f"t{uuid.uuid4().hex[:8]}"
    else:
        httpx.post(f"{url}/moto-api/reset", timeout=10).raise_for_status()
        stage = "test"
    env.setenv("SHOP_STAGE", stage)
    return stage


_PROVISIONED: dict[str, Outputs] = {}  # snapshot name -> what provisioning returned when it was taken


def provision(servers: Any, stage: str) -> Outputs:
    """Every resource of the reference model in the emulator's (fresh) state for ``stage``.

    The first call provisions for real (112 API calls) and the emulator snapshots the result; later calls
    restore that snapshot, the same state in milliseconds (localcloud/moto_server.py). An emulator that is
    not our launcher (a container, a given URL) is provisioned every time.
    """
    url = servers.aws.url.rstrip("/")
    name = f"provisioned-{stage}"
    ours = servers.aws.kind == "embedded"
    if ours and name in _PROVISIONED and moto_server.restore_snapshot(url, name):
        return copy.deepcopy(_PROVISIONED[name])
    outputs = Provisioner(endpoint_url=url, region=servers.region, stage=stage, database_url=servers.postgres.url)
    provisioned = outputs.provision()
    if ours and moto_server.take_snapshot(url, name):
        _PROVISIONED[name] = copy.deepcopy(provisioned)
    return provisioned


@contextmanager
def new_database(postgres_url: str) -> Iterator[str]:
    """The URL of a new, empty database of its own on the server, dropped when the block ends."""
    admin = health.libpq_url(postgres_url)
    name = f"test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"create database {name}")
    try:
        base, _, query = admin.partition("?")
        yield f"{base.rsplit('/', 1)[0]}/{name}" + (f"?{query}" if query else "")
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f"drop database if exists {name} with (force)")


@contextmanager
def key_prefix(redis_url: str) -> Iterator[str]:
    """A Redis key prefix of the caller's own; every key under it is deleted when the block ends."""
    prefix = f"test:{uuid.uuid4().hex[:12]}:"
    try:
        yield prefix
    finally:
        client = redis.Redis.from_url(redis_url)
        try:
            keys = list(client.scan_iter(match=f"{prefix}*", count=500))
            if keys:
                client.delete(*keys)
        finally:
            client.close()


class Uvicorns:
    """ASGI apps, each under a real uvicorn on a port of its own, stopped together (last started, first)."""

    def __init__(self) -> None:
        self.running: list[tuple[uvicorn.Server, asyncio.Task[None]]] = []

    async def start(self, app: Any, sock: Any = None) -> str:
        """Serve ``app`` and return its URL once it accepts connections.

        The socket is bound here (or by the caller) and handed over: no other process can take the port
        between a pick and uvicorn's bind.
        """
        sock = sock or backends.listen("127.0.0.1", 0)
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", log_level="warning", lifespan="on"))
        task = asyncio.create_task(server.serve(sockets=[sock]))
        while not server.started:
            if task.done():
                task.result()  # raises why it could not start
                raise RuntimeError("uvicorn stopped before it started")
            await asyncio.sleep(0.01)
        self.running.append((server, task))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"

    async def stop(self) -> None:
        for server, _ in reversed(self.running):
            server.should_exit = True
        for _, task in reversed(self.running):
            await task
