"""The ALB and the Kubernetes Services, locally: HAProxy (Debian's ``haproxy``) in front of replicas.

One HAProxy process serves every balanced service: a frontend on the service's address (the
socket the supervisor bound, handed over as ``fd@N`` so no port can be lost between choosing and
using it) and a backend of its replicas with least-request balancing (``leastconn``) and an HTTP
health check that follows each replica's ``/readyz`` (like the ALB's target group and a pod's
readiness probe: a replica that answers 503 leaves the pool within two seconds and comes back
after one good check). Its stats page gives per-replica counters (``stats()``).

HAProxy is a real load balancer from the registries (``apt-get install haproxy``); when it is
absent, ``binary()`` is None and the supervisor runs one replica per service without a balancer.
"""

from __future__ import annotations

import csv
import io
import shutil
import socket
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from localcloud.processes import Child, StartError, spawn

CHECK_INTERVAL_MS = 1000
FALL = 2  # failed checks before a replica leaves the pool
RISE = 1  # good checks before it comes back


@dataclass(frozen=True)
class Pool:
    """A balanced service: the socket callers connect to, and its replicas' ``host:port`` addresses."""

    name: str
    front: socket.socket
    replicas: tuple[tuple[str, str], ...]  # (replica name, host:port)


def binary() -> str | None:
    """The haproxy executable, if installed."""
    return shutil.which("haproxy")


def config(pools: Sequence[Pool], stats: socket.socket, admin: Path | None = None) -> str:
    """HAProxy's configuration for ``pools``, a stats page on ``stats`` (``/stats``, ``/stats;csv``) and,
    with ``admin``, its runtime API on that Unix socket (adding and removing replicas while it runs)."""
    lines = [
        "global",
        "    maxconn 8192",
        *([f"    stats socket {admin} mode 600 level admin"] if admin else []),
        "defaults",
        "    mode http",
        "    option http-keep-alive",
        "    option redispatch",  # a request whose replica went away is retried on another one
        "    retries 2",
        "    timeout connect 2s",
        "    timeout client 60s",
        "    timeout server 60s",  # above every service's own timeouts: the service answers first
        "    timeout http-keep-alive 30s",
        "frontend stats",
        f"    bind fd@{stats.fileno()}",
        "    stats enable",
        "    stats uri /stats",
        "    stats refresh 5s",
    ]
    for pool in pools:
        lines += [
            f"frontend {pool.name}",
            f"    bind fd@{pool.front.fileno()}",
            f"    default_backend {pool.name}",
            f"backend {pool.name}",
            "    balance leastconn",
            "    option httpchk GET /readyz",
            "    http-check expect status 200",
            f"    default-server inter {CHECK_INTERVAL_MS}ms fall {FALL} rise {RISE}",
        ]
        lines += [f"    server {name} {server_line(address)}" for name, address in pool.replicas]
    return "\n".join(lines) + "\n"


def start(
    pools: Sequence[Pool], stats: socket.socket, run_dir: Path, log_dir: Path, *, keep_sockets: bool = False
) -> Child:
    """HAProxy in the foreground (``-db``) as a child, serving every pool; the sockets are closed here unless
    ``keep_sockets`` (the supervisor keeps them to start HAProxy again on them if it dies)."""
    exe = binary()
    if exe is None:
        raise StartError("haproxy is not installed (apt-get install haproxy)")
    cfg = run_dir / "haproxy.cfg"
    cfg.write_text(config(pools, stats, admin_socket(run_dir)))
    fds = [stats.fileno(), *(p.front.fileno() for p in pools)]
    child = spawn("balancer", [exe, "-db", "-f", str(cfg)], log_dir=log_dir, pass_fds=fds)
    if keep_sockets:
        return child
    stats.close()
    for pool in pools:
        pool.front.close()  # HAProxy has its own copies
    return child


def admin_socket(run_dir: Path) -> Path:
    return run_dir / "haproxy.sock"


def server_line(address: str) -> str:
    """A replica's server options; servers added at run time do not inherit ``default-server``."""
    return f"{address} check inter {CHECK_INTERVAL_MS}ms fall {FALL} rise {RISE}"


def command(admin: Path | str, line: str, timeout_s: float = 5.0) -> str:
    """One command of HAProxy's runtime API (e.g. ``add server catalog/catalog-3 127.0.0.1:4003``); its answer."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout_s)
        sock.connect(str(admin))
        sock.sendall(line.encode() + b"\n")
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks).decode().strip()


def add_replica(admin: Path | str, pool: str, name: str, address: str) -> None:
    """Put a new replica in ``pool``: added in maintenance, health checks on, then enabled (it takes
    traffic once its /readyz passes a check)."""
    for line in (f"add server {pool}/{name} {server_line(address)}", f"enable health {pool}/{name}",
                 f"enable server {pool}/{name}"):  # fmt: skip
        answer = command(admin, line)
        if answer and not answer.startswith("New server registered"):
            raise StartError(f"haproxy refused {line!r}: {answer}")


def drain_replica(admin: Path | str, pool: str, name: str) -> None:
    """Take a replica out of rotation (maintenance: no new requests; those in flight finish)."""
    command(admin, f"disable server {pool}/{name}")


def remove_replica(admin: Path | str, pool: str, name: str) -> None:
    """Forget a drained replica whose process has stopped."""
    command(admin, f"del server {pool}/{name}")


def stats(url: str, timeout_s: float = 2.0) -> list[dict[str, str]]:
    """One row per replica (``svname`` not FRONTEND/BACKEND) from HAProxy's CSV stats: ``pxname`` (the
    service), ``svname`` (the replica), ``status`` (UP/DOWN), ``scur`` (requests in flight), ``stot``
    (sessions), ``hrsp_2xx``/``hrsp_5xx``, ``qcur`` (queued), ``check_status``."""
    with urllib.request.urlopen(f"{url}/stats;csv", timeout=timeout_s) as response:  # noqa: S310 - loopback
        text = response.read().decode()
    return parse_stats(text)


def parse_stats(text: str) -> list[dict[str, str]]:
    rows = csv.DictReader(io.StringIO(text.removeprefix("# ")))
    return [r for r in rows if r.get("svname") not in ("FRONTEND", "BACKEND") and r.get("pxname") != "stats"]


def wait_up(url: str, names: set[str], timeout_s: float, child: Child) -> None:
    """Until every replica in ``names`` is UP in the balancer (its /readyz passed a check)."""
    deadline = time.monotonic() + timeout_s
    down: set[str] = set(names)
    while time.monotonic() < deadline:
        if not child.alive():
            raise StartError(f"the balancer exited with code {child.popen.returncode}:\n{child.log_tail()}")
        try:
            down = {r["svname"] for r in stats(url) if r["svname"] in names and not r["status"].startswith("UP")}
            if not down and {r["svname"] for r in stats(url)} >= names:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise StartError(f"the balancer did not see {', '.join(sorted(down))} up within {timeout_s:.0f} s")
