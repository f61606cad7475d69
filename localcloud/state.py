"""Where a running local stack can be found by other commands (``nox -s dlq``, load tests, reindex).

``nox -s up`` writes the resolved endpoints of its stage to ``<tmp>/cloudshop/<stage>.json``
with its own pid and start time, and removes the file when it stops; a file whose process is gone
is stale (a pid alone is not enough: after the stack died the kernel may give it to another process).
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import psutil

KEYS = (
    "DATABASE_URL", "REDIS_URL", "AWS_ENDPOINT_URL", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY", "SHOP_STAGE", "SHOP_OUTPUTS", "SHOP_USER_POOL_ID", "SHOP_USER_POOL_CLIENT_ID",
    "SHOP_COGNITO_ISSUER", "SHOP_COGNITO_JWKS_URL", "SHOP_FRONT_DOOR_URL", "SHOP_BALANCER_STATS_URL",
    "SHOP_BALANCER_ADMIN_SOCKET", "SHOP_CONTROL_URL", "SHOP_FLAGS_FILE",
)  # fmt: skip


def path(stage: str) -> Path:
    return Path(tempfile.gettempdir()) / "cloudshop" / f"{stage}.json"


def write(stage: str, env: dict[str, str]) -> Path:
    target = path(stage)
    target.parent.mkdir(parents=True, exist_ok=True)
    values = {k: env[k] for k in KEYS if k in env} | {k: v for k, v in env.items() if k.startswith("SHOP_SERVICE_")}
    started = psutil.Process().create_time()
    target.write_text(json.dumps({"pid": os.getpid(), "started": started, "env": values}, indent=2))
    target.chmod(0o600)  # it holds the local database password
    return target


def read(stage: str) -> dict[str, str] | None:
    """The environment of the running stack of ``stage``, or None if none runs."""
    try:
        state = json.loads(path(stage).read_text())
    except (OSError, ValueError):
        return None
    return state["env"] if _running(state.get("pid", -1), state.get("started")) else None


def _running(pid: int, started: float | None) -> bool:
    """Whether the process that wrote the file still runs: that pid, started when the file says."""
    try:
        return psutil.Process(pid).create_time() == started or started is None
    except (psutil.NoSuchProcess, ValueError):  # gone (or a pid that never was) between listing and reading
        return False


def remove(stage: str) -> None:
    path(stage).unlink(missing_ok=True)


def use_running_stack(stage: str | None = None) -> bool:
    """Point this process at the running local stack (variables already set win); False if none runs."""
    env = read(stage or os.environ.get("SHOP_STAGE", "local"))
    if env is None:
        return False
    for key, value in env.items():
        os.environ.setdefault(key, value)
    return True
