"""``python -m localcloud up`` (what ``nox -s up`` runs), driven as a user would, from outside."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import psutil
import pytest

from localcloud.backends import free_port

BACKING_SERVERS = ("pginstall/bin/postgres", "valkey-server", "moto.server")
SERVER_NAMES = (*BACKING_SERVERS, "uvicorn")


def server_pids(names: tuple[str, ...] = SERVER_NAMES) -> set[int]:
    """Every process on the machine that looks like one of the stack's servers."""
    pids = set()
    for proc in psutil.process_iter(["pid", "name", "cmdline"]):
        text = " ".join(proc.info["cmdline"] or [proc.info["name"] or ""])
        if any(name in text for name in names):
            pids.add(proc.info["pid"])
    return pids


def wait_gone(pids: set[int], timeout_s: float = 15) -> set[int]:
    """The pids still alive after waiting up to ``timeout_s`` (zombies count as gone)."""
    deadline = time.monotonic() + timeout_s
    alive = set(pids)
    while alive and time.monotonic() < deadline:
        alive = {p for p in alive if psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE}
        time.sleep(0.1)
    return alive


@contextmanager
def launched(env: dict[str, str] | None = None, *args: str) -> Iterator[tuple[subprocess.Popen[str], int]]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "localcloud", "up", "--port", str(port), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, **(env or {})},
    )
    try:
        yield proc, port
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def read_until_ready(proc: subprocess.Popen[str], timeout_s: float = 60) -> list[str]:
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
    pytest.fail("no 'ready:' line; output was:\n" + "\n".join(lines))


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_up_reports_ready_serves_healthz_and_leaves_no_process_when_stopped(stop):
    before = server_pids()
    with launched() as (proc, port):
        lines = read_until_ready(proc)
        assert lines[-1] == f"ready: http://127.0.0.1:{port}"
        assert any(line.startswith("up in ") for line in lines)

        health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=10)
        assert health.status_code == 200
        components = health.json()["components"]
        assert {name: c["status"] for name, c in components.items()} == {
            "postgres": "up",
            "valkey": "up",
            "aws": "up",
        }
        started = server_pids() - before
        assert len(started) >= 4, "postgres, valkey, moto and the front door should be running"

        proc.send_signal(stop)
        out, _ = proc.communicate(timeout=30)
        assert proc.returncode == 0, out
        assert "stopped" in out
    assert wait_gone(started) == set()


def test_nothing_survives_even_a_sigkill_of_the_supervisor():
    before = server_pids()
    with launched() as (proc, _port):
        read_until_ready(proc)
        started = server_pids() - before
        proc.kill()
        proc.wait()
    assert started
    assert wait_gone(started) == set()


def test_a_malformed_setting_fails_fast_naming_it_without_a_traceback():
    done = subprocess.run(
        [sys.executable, "-m", "localcloud", "up"],
        capture_output=True,
        text=True,
        env={**os.environ, "DATABASE_URL": "nonsense"},
        timeout=30,
    )
    assert done.returncode == 2
    assert "DATABASE_URL" in done.stderr
    assert "Traceback" not in done.stderr + done.stdout


def test_a_component_that_fails_to_start_stops_those_already_started(servers):
    before = server_pids()
    unreachable = f"redis://127.0.0.1:{free_port()}/0"  # nobody listens there
    with launched({"REDIS_URL": unreachable}) as (proc, _port):
        out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 1
    assert "REDIS_URL points at a server that does not answer" in out
    assert "Traceback" not in out
    assert wait_gone(server_pids() - before) == set()


def test_a_busy_front_door_port_is_reported_before_anything_starts():
    with launched() as (first, port):
        read_until_ready(first)
        second = subprocess.run(
            [sys.executable, "-m", "localcloud", "up", "--port", str(port)], capture_output=True, text=True, timeout=30
        )
        assert second.returncode == 1
        assert f"127.0.0.1:{port} is already in use" in second.stdout
        first.send_signal(signal.SIGINT)
        first.communicate(timeout=30)


def test_given_urls_replace_the_embedded_servers(servers):
    env = {
        "DATABASE_URL": servers.postgres.url,
        "REDIS_URL": servers.valkey.url,
        "AWS_ENDPOINT_URL": servers.aws.url,
        "SHOP_STAGE": "given",
    }
    before = server_pids(BACKING_SERVERS)
    with launched(env) as (proc, port):
        lines = read_until_ready(proc)
        started = server_pids(BACKING_SERVERS) - before
        health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=10).json()
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=30)
    assert sum("(external:" in line for line in lines) == 3
    assert all(c["status"] == "up" for c in health["components"].values())
    assert started == set(), "no PostgreSQL, Valkey or moto of its own should have been started"
