"""Starting the observability worker under ``nox -s up`` (kept light: the supervisor imports it at start)."""

from __future__ import annotations

import socket
import sys
from pathlib import Path

from localcloud.processes import Child, spawn

AGENT_FD = "SHOP_OBSERVABILITY_AGENT_FD"


def start(env: dict[str, str], log_dir: Path, sock: socket.socket | None = None) -> Child:
    """Bind the agent's UDP port, point every service started after this at it (``SHOP_METRICS_SINK`` in
    ``env``), and start the worker as a child of ``up`` logging to ``<log_dir>/observability.log``.

    ``sock``, kept open by the caller, is bound once and reused: a restarted worker listens on the same port."""
    own = sock is None
    sock = sock or socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    if sock.getsockname()[1] == 0:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        sock.bind(("127.0.0.1", 0))
    env["SHOP_METRICS_SINK"] = f"udp://127.0.0.1:{sock.getsockname()[1]}"
    argv = [sys.executable, "-m", "localcloud.observability.worker"]
    try:
        child = spawn("observability", argv, log_dir=log_dir, env=env | {AGENT_FD: str(sock.fileno())},
                      pass_fds=[sock.fileno()])  # fmt: skip
    finally:
        if own:
            sock.close()  # the worker holds its own copy
    return child
