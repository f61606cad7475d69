"""The same three servers from Docker images, through testcontainers, where a Docker engine answers.

Used by the test fixtures only (``nox -s up`` always runs the embedded servers). No Docker
engine runs on the machines this project is built on, so this path is written against
testcontainers' documented API but has not been run there; the fixtures fall back to the
embedded servers when ``docker_available()`` is false.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from localcloud.backends import Endpoint

POSTGRES_IMAGE = "postgres:17-alpine"
VALKEY_IMAGE = "valkey/valkey:8-alpine"
MOTO_IMAGE = "motoserver/moto:5.1.0"


def choose_source(given: str | None, docker: Callable[[], bool]) -> str:
    """Where a test server comes from: 'external' if its setting is given, else 'container' or 'embedded'."""
    if given:
        return "external"
    return "container" if docker() else "embedded"


def docker_available() -> bool:
    """True when a Docker engine answers a ping (testcontainers fails at construction otherwise)."""
    try:
        import docker

        client = docker.from_env(timeout=3)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:  # noqa: BLE001 - no SDK, no socket, no engine: all mean 'no Docker'
        return False


@contextmanager
def postgres() -> Iterator[Endpoint]:
    from testcontainers.community.postgres import PostgresContainer

    with PostgresContainer(POSTGRES_IMAGE, username="postgres", password="postgres", dbname="shop", driver=None) as pg:  # noqa: S106 - throwaway
        url = pg.get_connection_url()
        yield Endpoint("postgres", url, "container", POSTGRES_IMAGE)


@contextmanager
def valkey() -> Iterator[Endpoint]:
    from testcontainers.community.redis import RedisContainer

    with RedisContainer(VALKEY_IMAGE) as kv:
        url = f"redis://{kv.get_container_host_ip()}:{kv.get_exposed_port(6379)}/0"
        yield Endpoint("valkey", url, "container", VALKEY_IMAGE)


@contextmanager
def moto() -> Iterator[Endpoint]:
    from testcontainers.core.container import DockerContainer
    from testcontainers.core.wait_strategies import HttpWaitStrategy

    container = DockerContainer(MOTO_IMAGE).with_exposed_ports(5000)
    container.waiting_for(HttpWaitStrategy(5000, "/moto-api/"))
    with container:
        url = f"http://{container.get_container_host_ip()}:{container.get_exposed_port(5000)}"
        yield Endpoint("aws", url, "container", MOTO_IMAGE)
