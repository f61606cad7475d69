"""``python -m localcloud up`` (what ``nox -s up`` runs), driven as a user would, from outside."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import psutil
import pytest

from localcloud.backends import free_port

BACKING_SERVERS = ("pginstall/bin/postgres", "valkey-server", "moto.server")


class Descendants:
    """Every process a launched supervisor started, recorded while it runs.

    Only its own descendants count, so other stacks running on the machine (another terminal,
    another test session) can neither hide a leftover nor be mistaken for one.
    """

    def __init__(self, proc: subprocess.Popen[str]):
        self.root = psutil.Process(proc.pid)
        self.seen: dict[int, str] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        while not self._stop.is_set():
            self.record()
            time.sleep(0.05)

    def record(self) -> None:
        try:
            for child in self.root.children(recursive=True):
                if child.pid not in self.seen:
                    with contextlib.suppress(psutil.Error):
                        self.seen[child.pid] = " ".join(child.cmdline())
        except psutil.Error:
            pass

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def servers(self, names: tuple[str, ...] = (*BACKING_SERVERS, "uvicorn")) -> set[int]:
        return {pid for pid, cmd in self.seen.items() if any(n in cmd for n in names)}


def wait_gone(pids: set[int], timeout_s: float = 15) -> set[int]:
    """The pids still alive after waiting up to ``timeout_s`` (zombies count as gone)."""
    deadline = time.monotonic() + timeout_s
    alive = set(pids)
    while alive and time.monotonic() < deadline:
        alive = {p for p in alive if psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE}
        time.sleep(0.1)
    return alive


@contextmanager
def launched(env: dict[str, str] | None = None, *args: str) -> Iterator[tuple[subprocess.Popen[str], int, Descendants]]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "localcloud", "up", "--port", str(port), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, **(env or {})},
    )
    family = Descendants(proc)
    try:
        yield proc, port, family
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        family.stop()


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
    with launched() as (proc, port, family):
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
        assert all(s["status"] == "up" for s in health.json()["services"].values())
        family.record()
        assert len(family.servers(BACKING_SERVERS)) >= 3, "postgres, valkey and moto should be running"

        proc.send_signal(stop)
        out, _ = proc.communicate(timeout=60)
        assert proc.returncode == 0, out
        assert "stopped" in out
    assert wait_gone(set(family.seen)) == set()


def test_nothing_survives_even_a_sigkill_of_the_supervisor():
    with launched() as (proc, _port, family):
        read_until_ready(proc)
        family.record()
        proc.kill()
        proc.wait()
    assert family.servers(BACKING_SERVERS)
    assert wait_gone(set(family.seen)) == set()


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
    unreachable = f"redis://127.0.0.1:{free_port()}/0"  # nobody listens there
    with launched({"REDIS_URL": unreachable}) as (proc, _port, family):
        out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 1
    assert "REDIS_URL points at a server that does not answer" in out
    assert "Traceback" not in out
    assert family.servers(BACKING_SERVERS), "PostgreSQL had started before Valkey was found missing"
    assert wait_gone(set(family.seen)) == set()


def test_a_busy_front_door_port_is_reported_before_anything_starts():
    with launched() as (first, port, _family):
        read_until_ready(first)
        second = subprocess.run(
            [sys.executable, "-m", "localcloud", "up", "--port", str(port)], capture_output=True, text=True, timeout=30
        )
        assert second.returncode == 1
        assert f"127.0.0.1:{port} is already in use" in second.stdout
        first.send_signal(signal.SIGINT)
        first.communicate(timeout=60)


def test_given_urls_replace_the_embedded_servers(servers):
    env = {
        "DATABASE_URL": servers.postgres.url,
        "REDIS_URL": servers.valkey.url,
        "AWS_ENDPOINT_URL": servers.aws.url,
        "SHOP_STAGE": "given",
    }
    with launched(env) as (proc, port, family):
        lines = read_until_ready(proc)
        health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=10).json()
        family.record()
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=60)
    assert sum("(external:" in line for line in lines) == 3
    assert all(c["status"] == "up" for c in health["components"].values())
    assert family.servers(BACKING_SERVERS) == set(), "no PostgreSQL, Valkey or moto of its own should have been started"


def test_connections_accepted_on_a_handed_over_socket_do_not_wait_for_nagle():
    """uvicorn treats an inherited fd as AF_UNIX and never sets TCP_NODELAY: the listening socket must carry it.

    Without it every keep-alive response waited ~44 ms (Nagle against delayed ACKs).
    """
    import socket

    from localcloud.backends import listen

    server = listen("127.0.0.1", 0)
    client = socket.create_connection(server.getsockname()[:2])
    accepted, _ = server.accept()
    try:
        assert server.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
        assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
    finally:
        for s in (accepted, client, server):
            s.close()
