"""Whole local stacks for the e2e lane: ``python -m localcloud up`` started as a user starts it, read until ready.

Every e2e module that needs a stack goes through here, so there is one way to launch one (``--port 0``: the
supervisor binds the port itself, nothing can take it in between), one way to know it is ready (its
``ready:`` line), and one way to stop it (SIGTERM, as Ctrl-C would; the supervisor stops what it started).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from localcloud import state

REPO = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Stack:
    url: str  # the front door
    env: dict[str, str]  # what the stack wrote to its state file: endpoints, credentials, stage
    logs: Path | None  # the folder of every component's log
    lines: list[str]  # what the supervisor printed up to ``ready:``


def launch(env: dict[str, str] | None = None, *args: str) -> subprocess.Popen[str]:
    """``up --port 0``, ``env`` over ours less a developer's SHOP_PORT/SHOP_HOST; the caller reads and stops it."""
    given = {k: v for k, v in os.environ.items() if k not in ("SHOP_PORT", "SHOP_HOST")}
    return subprocess.Popen(
        [sys.executable, "-m", "localcloud", "up", "--port", "0", *args],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=given | (env or {}), cwd=REPO,
    )  # fmt: skip


def read_until_ready(proc: subprocess.Popen[str], timeout_s: float | None = None) -> list[str]:
    """The supervisor's lines up to ``ready:``. The supervisor bounds every step itself (and says which one
    failed); this budget only stops a hang, so it is wide: its own wait for the services (SHOP_READY_TIMEOUT,
    60 s by default) and three minutes for the rest, which a loaded 2-core box has needed."""
    timeout_s = timeout_s or float(os.environ.get("SHOP_READY_TIMEOUT", "60")) + 180
    lines: list[str] = []
    deadline = time.monotonic() + timeout_s
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line.rstrip("\n"))
        if line.startswith("ready: "):
            return lines
    pytest.fail("the local stack did not start (no 'ready:' line); its output:\n" + "\n".join(lines))


def ready_url(lines: list[str]) -> str:
    return lines[-1].split(" ", 1)[1].strip()


def ready_port(lines: list[str]) -> int:
    """The front door's port, from the last line ``ready: http://127.0.0.1:<port>``."""
    found = re.fullmatch(r"ready: http://127\.0\.0\.1:(\d+)", lines[-1])
    assert found, lines[-1]
    return int(found[1])


def logs_dir(lines: list[str]) -> Path | None:
    """The folder the supervisor named in ``starting the local cloud (...; logs in <dir>)``."""
    found = next((m for line in lines if (m := re.search(r"logs in (\S+?)\)", line))), None)
    return Path(found.group(1)) if found else None


def stop(proc: subprocess.Popen[str], timeout_s: float = 30) -> None:
    """SIGTERM, as a user's Ctrl-C would; SIGKILL if the orderly stop hangs."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@contextmanager
def running(prefix: str, env: dict[str, str] | None = None, *args: str) -> Iterator[Stack]:
    """A whole stack of a stage of its own (``<prefix><random>``: its own state file and resource names)."""
    stage = f"{prefix}{uuid.uuid4().hex[:6]}"
    proc = launch((env or {}) | {"SHOP_STAGE": stage}, *args)
    try:
        lines = read_until_ready(proc)
        yield Stack(ready_url(lines), state.read(stage) or {}, logs_dir(lines), lines)
    finally:
        stop(proc)
