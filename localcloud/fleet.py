"""The microservices under ``nox -s up``: N uvicorn processes each, as each is one Deployment on EKS.

The processes are forked from the zygote (localcloud/zygote.py: one interpreter that imported every app)
unless ``SHOP_PREFORK=off`` or the zygote cannot, then spawned: the same command line either way.

A service runs locally as soon as its package has an ``app`` module with a
``create_app()`` factory; its seed (``services.<name>.seed``, if any) runs once all are ready.
A service with more than one replica (``SHOP_REPLICAS=gateway=2,catalog=2``) sits behind the
balancer (localcloud/lb.py): callers get the balancer's address, each replica listens on its own.
"""

from __future__ import annotations

import socket
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path

from localcloud.backends import listen, listen_preferred
from localcloud.processes import Child, StartError, spawn
from localcloud.zygote import Zygote, ZygoteError
from reference import SERVICES
from reference.model import Service

HOST = "127.0.0.1"


def present() -> list[Service]:
    """The services of reference/ whose package exists in this checkout."""
    return [s for s in SERVICES if find_spec(f"services.{s.name}") and find_spec(f"services.{s.name}.app")]


def sockets(services: list[Service]) -> dict[str, socket.socket]:
    """A listening socket per service: on its port from reference/ when free, else on one the OS picks."""
    return {s.name: listen_preferred(HOST, s.port) for s in services}


def url(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://{host}:{port}"


def url_env(service_urls: dict[str, str]) -> dict[str, str]:
    """``SHOP_SERVICE_<NAME>_URL`` for every service: how services find each other (cluster DNS on EKS)."""
    return {f"SHOP_SERVICE_{name.upper()}_URL": u for name, u in service_urls.items()}


def uvicorn_argv(app: str, sock: socket.socket) -> list[str]:
    """uvicorn serving ``app`` on an already-bound socket it inherits."""
    return [sys.executable, "-m", "uvicorn", app, "--factory", "--fd", str(sock.fileno()),
            "--no-access-log", "--timeout-graceful-shutdown", "5"]  # fmt: skip


@dataclass
class Replica:
    """One process of a service: its name (``catalog`` or ``catalog-2``), socket and URL."""

    service: Service
    name: str
    sock: socket.socket
    url: str


def replica_name(service: str, index: int, count: int) -> str:
    """``catalog`` when it runs alone, ``catalog-1`` ... ``catalog-N`` when there are N."""
    return service if count == 1 else f"{service}-{index}"


def replicas(
    services: list[Service], socks: dict[str, socket.socket], counts: dict[str, int], balanced: set[str]
) -> list[Replica]:
    """The processes to start: a balanced service's replicas each listen on a port of their own (the
    service's socket goes to the balancer); any other service's single replica takes the service's socket."""
    out = []
    for s in services:
        count = counts.get(s.name, 1)
        if s.name not in balanced:
            out.append(Replica(s, s.name, socks[s.name], url(socks[s.name])))
            continue
        for i in range(1, count + 1):
            sock = listen(HOST, 0)
            out.append(Replica(s, replica_name(s.name, i, count), sock, url(sock)))
    return out


# What the chassis imports when it builds a part (services/common/runtime.py imports them lazily, so that a
# spawned service pays only for its parts): in the zygote they are imported once for all.
CHASSIS_PARTS = (
    "services.common.db",  # SQLAlchemy, Alembic, Mako
    "services.common.http",
    "services.common.outbox",  # boto3
    "services.common.consumer",
    "services.common.sqs",
    "services.common.secrets",
    "redis.asyncio",
    "psycopg",
    "sqlalchemy.dialects.postgresql.psycopg",
    "alembic.runtime.migration",
    "alembic.runtime.environment",
    "alembic.script",
    "alembic.ddl.postgresql",
)


def preload_modules(services: list[Service]) -> list[str]:
    """What the zygote imports before it forks (localcloud/zygote.py): every app, the chassis' parts, the seeds
    and the front door; none of them makes a thread, a socket or a client at import (the zygote checks)."""
    apps = [f"services.{s.name}.app" for s in services]
    parts = [m for m in CHASSIS_PARTS if find_spec(m.split(".")[0])]
    others = [m for m in ("storefront.publish", "localcloud.frontdoor") if find_spec(m)]
    return apps + parts + seed_modules(services) + others


def launch(
    name: str,
    argv: list[str],
    env: dict[str, str],
    log_dir: Path,
    *,
    zygote: Zygote | None = None,
    say: Callable[[str], None] | None = None,
    pass_fds: tuple[int, ...] = (),
) -> Child:
    """``argv`` as a child (main thread only: see localcloud/processes.py): forked from the ``zygote`` when there
    is one that can, else spawned (``say`` tells why). The same command line, environment and log either way."""
    if zygote is not None:
        try:
            return zygote.fork(name, argv, log_dir=log_dir, env=env, pass_fds=pass_fds)
        except ZygoteError as exc:
            if say is not None:
                say(f"  prefork    {name} spawned instead: {exc}")
    return spawn(name, argv, log_dir=log_dir, env=env, pass_fds=pass_fds)


def start(
    replicas: list[Replica],
    env: dict[str, str],
    log_dir: Path,
    *,
    keep_sockets: bool = False,
    zygote: Zygote | None = None,
    say: Callable[[str], None] | None = None,
) -> list[Child]:
    """Start every replica at once, from the main thread; each gets its socket. With a ``zygote`` each is a fork
    of the interpreter that imported every app; without, a spawned interpreter (they import in parallel).

    With ``keep_sockets`` the caller keeps its copy of each socket open (and closes it when the stack
    stops), so a replica that dies can be started again on the very same socket (``start_one``): callers
    queue in its backlog meanwhile instead of being refused."""
    return [start_one(r, env, log_dir, keep_socket=keep_sockets, zygote=zygote, say=say) for r in replicas]


def start_one(
    replica: Replica,
    env: dict[str, str],
    log_dir: Path,
    *,
    keep_socket: bool = True,
    zygote: Zygote | None = None,
    say: Callable[[str], None] | None = None,
) -> Child:
    """Start one replica on its socket (main thread only: see localcloud/processes.py): forked from the
    ``zygote`` when there is one that can, else spawned (``say`` tells why)."""
    argv = uvicorn_argv(f"services.{replica.service.name}.app:create_app", replica.sock)
    child = launch(replica.name, argv, env, log_dir, zygote=zygote, say=say, pass_fds=(replica.sock.fileno(),))
    if not keep_socket:
        replica.sock.close()  # the child has its own copy
    return child


def wait_ready(children: list[Child], service_urls: dict[str, str], timeout_s: float) -> None:
    """Poll every replica's /readyz (``service_urls`` by child name) until all answer 200; fail naming
    the first that dies or lags."""
    waiting = {c.name: c for c in children}
    deadline = time.monotonic() + timeout_s
    while waiting:
        for name, child in list(waiting.items()):
            if not child.alive():
                raise StartError(
                    f"service {name} exited with code {child.popen.returncode}; last lines of {child.log}:\n"
                    f"{child.log_tail()}"
                )
            if _ready(f"{service_urls[name]}/readyz"):
                del waiting[name]
        # The last lap may have found every one ready after the deadline passed: that is a success.
        if waiting and time.monotonic() > deadline:
            raise StartError(f"not ready within {timeout_s:.0f} s: {', '.join(sorted(waiting))} (see their logs)")
        if waiting:
            time.sleep(0.1)


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - our own loopback URL
            return response.status == 200
    except OSError:
        return False


def seed_modules(services: list[Service]) -> list[str]:
    return [f"services.{s.name}.seed" for s in services if find_spec(f"services.{s.name}.seed")]


# Seeds that read what another seed writes: search's reindex reads the catalog's products.
AFTER = {"services.search.seed": "services.catalog.seed"}


def seed_waves(modules: list[str]) -> list[list[str]]:
    """The seeds in waves: each wave runs at once, after every seed it depends on has finished."""
    waves: list[list[str]] = []
    done: set[str] = set()
    pending = list(modules)
    while pending:
        wave = [m for m in pending if AFTER.get(m) not in pending or AFTER.get(m) in done]
        if not wave:
            raise StartError(f"seed dependencies go round in a circle: {pending}")
        waves.append(wave)
        done |= set(wave)
        pending = [m for m in pending if m not in done]
    return waves


def run_seeds(
    modules: list[str],
    env: dict[str, str],
    log_dir: Path,
    timeout_s: float = 120,
    *,
    zygote: Zygote | None = None,
    say: Callable[[str], None] | None = None,
) -> dict[str, str]:
    """Run seeds at once as children (so they die with us), forked from the ``zygote`` when given (as the
    services); each one's last output line is its summary."""
    children = {
        m: launch(_seed_name(m), [sys.executable, "-m", m], env, log_dir, zygote=zygote, say=say) for m in modules
    }
    deadline = time.monotonic() + timeout_s
    try:
        codes = {m: c.popen.wait(max(deadline - time.monotonic(), 0.1)) for m, c in children.items()}
    except BaseException:
        for child in children.values():
            child.stop()
        raise
    summaries = {}
    for module, child in children.items():
        lines = [line for line in child.log_tail(50).splitlines() if line.strip()]
        if codes[module] != 0:
            tail = "\n".join(lines[-15:])
            raise StartError(f"{module} failed with code {codes[module]}; last lines of {child.log}:\n{tail}")
        summaries[module] = lines[-1] if lines else "done"
    return summaries


def _seed_name(module: str) -> str:
    return module.split(".")[-2] + "-seed" if module.startswith("services.") else module.replace(".", "-")
