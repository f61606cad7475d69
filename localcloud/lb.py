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


def config(pools: Sequence[Pool], stats: socket.socket) -> str:
    """HAProxy's configuration for ``pools`` and a stats page on ``stats`` (``/stats``, ``/stats;csv``)."""
    lines = [
        "global",
        "    maxconn 8192",
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
        lines += [f"    server {name} {address} check" for name, address in pool.replicas]
    return "\n".join(lines) + "\n"


def start(pools: Sequence[Pool], stats: socket.socket, run_dir: Path, log_dir: Path) -> Child:
    """HAProxy in the foreground (``-db``) as a child, serving every pool; the sockets are closed here."""
    exe = binary()
    if exe is None:
        raise StartError("haproxy is not installed (apt-get install haproxy)")
    cfg = run_dir / "haproxy.cfg"
    cfg.write_text(config(pools, stats))
    fds = [stats.fileno(), *(p.front.fileno() for p in pools)]
    child = spawn("balancer", [exe, "-db", "-f", str(cfg)], log_dir=log_dir, pass_fds=fds)
    stats.close()
    for pool in pools:
        pool.front.close()  # HAProxy has its own copies
    return child


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
