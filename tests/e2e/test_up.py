"""``python -m localcloud up`` (what ``nox -s up`` runs), driven as a user would, from outside."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import psutil
import pytest
import stack_support

from localcloud.backends import refused_port

BACKING_SERVERS = ("pginstall/bin/postgres", "valkey-server", "moto.server")


class Descendants:
    """Every process a launched supervisor started, recorded while it runs.

    Only its own descendants count, so other stacks running on the machine (another terminal,
    another test session) can neither hide a leftover nor be mistaken for one. Each is kept as a
    ``psutil.Process``, which remembers its start time: a pid the kernel hands to a new process
    after ours died is not mistaken for ours.
    """

    def __init__(self, proc: subprocess.Popen[str]):
        self.root = psutil.Process(proc.pid)
        self.seen: dict[int, str] = {}
        self.processes: dict[int, psutil.Process] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        while not self._stop.is_set():
            self.record()
            time.sleep(0.05)

    def record(self) -> None:
        try:
            children = self.root.children(recursive=True)
        except psutil.Error:  # the supervisor itself is gone: nothing new can appear
            return
        for child in children:
            if child.pid in self.seen:
                continue
            try:
                command = " ".join(child.cmdline())
            except psutil.Error:  # it ended between the listing and this read: nothing to wait for
                continue
            self.seen[child.pid] = command
            self.processes[child.pid] = child

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def servers(self, names: tuple[str, ...] = (*BACKING_SERVERS, "uvicorn")) -> set[int]:
        return {pid for pid, cmd in self.seen.items() if any(n in cmd for n in names)}


def running(process: psutil.Process) -> bool:
    """Whether ``process`` still runs. One that ended (or became a zombie) at any point, even between two
    reads of it, is gone: every read that can find it missing answers False instead of raising."""
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:  # includes psutil.ZombieProcess
        return False


def wait_gone(family: Descendants, timeout_s: float = 15) -> set[int]:
    """The pids of ``family`` still running after waiting up to ``timeout_s`` (zombies count as gone)."""
    deadline = time.monotonic() + timeout_s
    alive = dict(family.processes)
    while alive and time.monotonic() < deadline:
        alive = {pid: p for pid, p in alive.items() if running(p)}
        if alive:
            time.sleep(0.1)
    return set(alive)


@contextmanager
def launched(env: dict[str, str] | None = None, *args: str) -> Iterator[tuple[subprocess.Popen[str], Descendants]]:
    """``up`` on a port the supervisor binds itself (``--port 0``): no other process can take it between a pick
    here and its bind there. The port is in the ``ready:`` line (``ready_port``)."""
    proc = stack_support.launch(env, *args)
    family = Descendants(proc)
    try:
        yield proc, family
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        family.stop()


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_up_reports_ready_serves_healthz_and_leaves_no_process_when_stopped(stop):
    with launched() as (proc, family):
        lines = stack_support.read_until_ready(proc)
        port = stack_support.ready_port(lines)
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
    assert wait_gone(family) == set()


def test_nothing_survives_even_a_sigkill_of_the_supervisor():
    with launched() as (proc, family):
        stack_support.read_until_ready(proc)
        family.record()
        proc.kill()
        proc.wait()
    assert family.servers(BACKING_SERVERS)
    assert wait_gone(family) == set()


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
    with refused_port() as port, launched({"REDIS_URL": f"redis://127.0.0.1:{port}/0"}) as (proc, family):
        out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 1
    assert "REDIS_URL points at a server that does not answer" in out
    assert "Traceback" not in out
    assert family.servers(BACKING_SERVERS), "PostgreSQL had started before Valkey was found missing"
    assert wait_gone(family) == set()


def test_a_busy_front_door_port_is_reported_before_anything_starts():
    with socket.create_server(("127.0.0.1", 0)) as holder:  # another program (or another stack) listens there
        port = holder.getsockname()[1]
        second = subprocess.run(
            [sys.executable, "-m", "localcloud", "up", "--port", str(port)], capture_output=True, text=True, timeout=30
        )
    assert second.returncode == 1
    assert f"127.0.0.1:{port} is already in use" in second.stdout
    assert "starting the local cloud" not in second.stdout, "nothing may start before the port is held"


def test_given_urls_replace_the_embedded_servers(servers):
    env = {
        "DATABASE_URL": servers.postgres.url,
        "REDIS_URL": servers.valkey.url,
        "AWS_ENDPOINT_URL": servers.aws.url,
        "SHOP_STAGE": "given",
    }
    with launched(env) as (proc, family):
        lines = stack_support.read_until_ready(proc)
        health = httpx.get(f"http://127.0.0.1:{stack_support.ready_port(lines)}/healthz", timeout=10).json()
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
