"""The one place tests get their servers: a PostgreSQL URL, a Redis URL and an AWS endpoint.

Each comes from its setting when given (DATABASE_URL, REDIS_URL, AWS_ENDPOINT_URL),
else from testcontainers when a Docker engine answers, else from the embedded servers
that ``nox -s up`` runs. The servers live for the session; every test gets its own
database, its own key prefix and a fresh emulator state (or its own resource names
when the emulator is not ours to reset).
"""

from __future__ import annotations

import asyncio
import copy
import json
import tempfile
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AbstractContextManager, ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import redis
import uvicorn

from localcloud import backends, containers, health, moto_server
from localcloud.backends import Endpoint
from localcloud.provision import Outputs, Provisioner
from localcloud.provision import database_secret as database_secret_value
from localcloud.settings import load_settings

REPO = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Servers:
    postgres: Endpoint
    valkey: Endpoint
    aws: Endpoint
    region: str


@pytest.fixture(scope="session")
def servers() -> Iterator[Servers]:
    """The three backing servers, started once per test session (see the module docstring for which)."""
    settings = load_settings()
    docker = _memo(containers.docker_available)

    def pick(
        name: str,
        given: object,
        setting: str,
        probe: Callable[[str], str],
        container: Callable[[], AbstractContextManager[Endpoint]],
        embedded: Callable[[], AbstractContextManager[Endpoint]],
    ) -> Endpoint:
        source = containers.choose_source(str(given) if given else None, docker)
        if source == "external":
            url = str(given)
            return backends.external(name, setting, url, lambda: probe(url))
        return stack.enter_context(container() if source == "container" else embedded())

    region = settings.aws_region
    with ExitStack() as stack:
        # Not pytest's tmp_path: pytest deletes all but its 3 newest base dirs, even ones a
        # concurrently running session (another terminal, CI of a sibling) still serves from.
        run_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="shop-tests-")))
        log_dir = run_dir / "logs"
        log_dir.mkdir()
        yield Servers(
            postgres=pick("postgres", settings.database_url, "DATABASE_URL", health.probe_postgres,
                          containers.postgres, lambda: backends.embedded_postgres(run_dir, log_dir)),
            valkey=pick("valkey", settings.redis_url, "REDIS_URL", health.probe_redis,
                        containers.valkey, lambda: backends.embedded_valkey(run_dir, log_dir)),
            aws=pick("aws", settings.aws_endpoint_url, "AWS_ENDPOINT_URL", lambda u: health.probe_aws(u, region),
                     containers.moto, lambda: backends.embedded_moto(region, log_dir)),
            region=region,
        )  # fmt: skip


def _memo(fn: Callable[[], bool]) -> Callable[[], bool]:
    cache: list[bool] = []

    def call() -> bool:
        if not cache:
            cache.append(fn())
        return cache[0]

    return call


# --------------------------------------------------------------------------- PostgreSQL


@pytest.fixture
def pg_url(servers: Servers) -> Iterator[str]:
    """A URL of a new, empty database of its own, dropped after the test."""
    admin = health.libpq_url(servers.postgres.url)
    name = f"test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"create database {name}")
    try:
        yield _with_database(admin, name)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f"drop database if exists {name} with (force)")


def _with_database(url: str, name: str) -> str:
    base, _, query = url.partition("?")
    base = base.rsplit("/", 1)[0]
    return f"{base}/{name}" + (f"?{query}" if query else "")


# --------------------------------------------------------------------------- Redis


@dataclass(frozen=True)
class RedisSpace:
    """A Redis server and the key prefix this test owns."""

    url: str
    prefix: str

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url, decode_responses=True)


@pytest.fixture
def redis_space(servers: Servers) -> Iterator[RedisSpace]:
    """A key prefix of this test's own; every key under it is deleted afterwards."""
    space = RedisSpace(servers.valkey.url, f"test:{uuid.uuid4().hex[:12]}:")
    yield space
    client = space.client()
    try:
        keys = list(client.scan_iter(match=f"{space.prefix}*", count=500))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


# --------------------------------------------------------------------------- AWS


@dataclass(frozen=True)
class Aws:
    """An AWS endpoint with a state of this test's own, and the stage name its resources use."""

    endpoint_url: str
    region: str
    stage: str

    def client(self, service: str) -> Any:
        return health.aws_client(service, endpoint_url=self.endpoint_url, region=self.region)


@pytest.fixture
def aws(servers: Servers, monkeypatch: pytest.MonkeyPatch) -> Aws:
    """Fresh emulator state: moto is reset when it is ours, else the test gets a unique stage name.

    The endpoint and dummy credentials are also put in the environment, where boto3 finds them
    by itself: code under test creates its clients exactly as it does in production.
    """
    url = servers.aws.url.rstrip("/")
    for name, value in {
        "AWS_ENDPOINT_URL": url,
        "AWS_REGION": servers.region,
        "AWS_DEFAULT_REGION": servers.region,
        "AWS_ACCESS_KEY_ID": health.EMULATOR_CREDENTIALS["aws_access_key_id"],
        "AWS_SECRET_ACCESS_KEY": health.EMULATOR_CREDENTIALS["aws_secret_access_key"],
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    if servers.aws.kind == "external":
        stage = f"t{uuid.uuid4().hex[:8]}"
    else:
        httpx.post(f"{url}/moto-api/reset", timeout=10).raise_for_status()
        stage = "test"
    monkeypatch.setenv("SHOP_STAGE", stage)
    return Aws(url, servers.region, stage)


_PROVISIONED: dict[str, Outputs] = {}  # snapshot name -> what provisioning returned when it was taken


@pytest.fixture
def provisioned(aws: Aws, servers: Servers) -> Outputs:
    """Every resource of the reference model, provisioned into this test's fresh AWS state.

    The first test provisions for real (112 API calls) and the emulator snapshots the result; later tests
    restore that snapshot, the same state in milliseconds (localcloud/moto_server.py). An emulator that is
    not our launcher (a container, a given URL) is provisioned every time.
    """
    name = f"provisioned-{aws.stage}"
    ours = servers.aws.kind == "embedded"
    if ours and name in _PROVISIONED and moto_server.restore_snapshot(aws.endpoint_url, name):
        return copy.deepcopy(_PROVISIONED[name])
    outputs = Provisioner(
        endpoint_url=aws.endpoint_url, region=aws.region, stage=aws.stage, database_url=servers.postgres.url
    ).provision()
    if ours and moto_server.take_snapshot(aws.endpoint_url, name):
        _PROVISIONED[name] = copy.deepcopy(outputs)
    return outputs


@pytest.fixture
def database_secret(provisioned: Outputs, aws: Aws, pg_url: str) -> str:
    """The stage's database secret, pointed at this test's own database; returns the secret's id.

    Services read their credentials from Secrets Manager at start, so tests give them a
    database through the same secret rather than through a side door.
    """
    secret_id = provisioned.secrets["database"]
    aws.client("secretsmanager").put_secret_value(
        SecretId=secret_id, SecretString=json.dumps(database_secret_value(pg_url))
    )
    return secret_id


# --------------------------------------------------------------------------- our own services


@pytest.fixture
async def serve_app() -> AsyncIterator[Callable[[Any], Awaitable[str]]]:
    """``url = await serve_app(app)``: run an ASGI app under a real uvicorn on a free port until the test ends.

    For tests where one service calls another over HTTP, as they do on EKS.
    """
    running: list[tuple[uvicorn.Server, asyncio.Task[None]]] = []

    async def start(app: Any) -> str:
        # Bound here and handed over: no other process can take the port between a pick and uvicorn's bind.
        sock = backends.listen("127.0.0.1", 0)
        port = sock.getsockname()[1]
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
        task = asyncio.create_task(server.serve(sockets=[sock]))
        while not server.started:
            if task.done():
                task.result()  # raises why it could not start
                raise RuntimeError("uvicorn stopped before it started")
            await asyncio.sleep(0.01)
        running.append((server, task))
        return f"http://127.0.0.1:{port}"

    yield start
    for server, task in reversed(running):
        server.should_exit = True
        await task
