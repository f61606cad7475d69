"""The one place tests get their servers: a PostgreSQL URL, a Redis URL and an AWS endpoint.

Each comes from its setting when given (DATABASE_URL, REDIS_URL, AWS_ENDPOINT_URL),
else from testcontainers when a Docker engine answers, else from the embedded servers
that ``nox -s up`` runs. The servers live for the session; every test gets its own
database, its own key prefix and a fresh emulator state (or its own resource names
when the emulator is not ours to reset).
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AbstractContextManager, ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis
from server_support import Uvicorns, key_prefix, new_database, provision, use_emulator

from localcloud import backends, containers, health
from localcloud.backends import Endpoint
from localcloud.provision import Outputs
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
    with new_database(servers.postgres.url) as url:
        yield url


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
    with key_prefix(servers.valkey.url) as prefix:
        yield RedisSpace(servers.valkey.url, prefix)


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
    """Fresh emulator state, and the environment pointing at it (server_support.use_emulator)."""
    stage = use_emulator(servers, monkeypatch)
    return Aws(servers.aws.url.rstrip("/"), servers.region, stage)


@pytest.fixture
def provisioned(aws: Aws, servers: Servers) -> Outputs:
    """Every resource of the reference model, in this test's fresh AWS state (restored from a snapshot after the
    first time: server_support.provision)."""
    return provision(servers, aws.stage)


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
    uvicorns = Uvicorns()
    yield uvicorns.start
    await uvicorns.stop()


@pytest.fixture
def refused_port() -> Iterator[int]:
    """A loopback port nothing listens on, and nothing can start listening on, while the test runs."""
    with backends.refused_port() as port:
        yield port
