"""The pre-fork launcher against real processes: a zygote forks a uvicorn service on a socket, the service
answers, is this process' child in its own group, exits as a Popen would say, and nothing outlives the
supervisor (localcloud/zygote.py)."""

from __future__ import annotations

import ctypes
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from localcloud import backends, fleet
from localcloud.processes import Child
from localcloud.zygote import Forked, Zygote, ZygoteError

ROOT = Path(__file__).resolve().parents[2]
ENV = os.environ | {"PYTHONPATH": str(ROOT)}


def _until(check: Callable[[], Any], what: str, timeout_s: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if result := check():
                return result
        except OSError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"no {what} within {timeout_s:.0f} s")


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - loopback
        return response.status, json.loads(response.read())


def _gone(pid: int) -> bool:
    """Exited: no such process, or a zombie nobody reaped yet (its parent is not this test)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


@pytest.fixture(scope="module")
def zygote(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Zygote]:
    z = Zygote.start(["tests.zygote_support"], log_dir=tmp_path_factory.mktemp("zygote"), env=ENV)
    yield z
    z.close()
    ctypes.CDLL(None).prctl(36, 0, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER off again: pytest is nobody's reaper


def test_a_forked_service_answers_is_our_child_and_its_exit_is_seen(zygote: Zygote, tmp_path: Path):
    sock = backends.listen("127.0.0.1", 0)
    argv = fleet.uvicorn_argv("tests.zygote_support:create_app", sock)
    assert zygote.ready()["failed"] == {}

    child = zygote.fork("web", argv, log_dir=tmp_path, env=ENV | {"ZYGOTE_TEST": "1"}, pass_fds=[sock.fileno()])
    assert isinstance(child.popen, Forked)
    status, body = _until(lambda: _get(f"{fleet.url(sock)}/readyz"), "answer from the forked service")
    assert status == 200
    assert body == {"pid": child.pid, "ppid": os.getpid(), "pgid": child.pid, "env": "1"}, (
        "our child (re-parented), in its own group, with the environment asked for"
    )
    assert "-m uvicorn tests.zygote_support:create_app" in Path(f"/proc/{child.pid}/cmdline").read_text()
    assert "Uvicorn running on socket" in child.log_tail()

    os.kill(child.pid, signal.SIGKILL)
    assert child.popen.wait(10) == -signal.SIGKILL
    assert not child.alive()

    again = zygote.fork("web", argv, log_dir=tmp_path, env=ENV, pass_fds=[sock.fileno()])  # the same socket
    status, body = _until(lambda: _get(f"{fleet.url(sock)}/readyz"), "answer from the second fork")
    assert body["pid"] == again.pid != child.pid
    again.stop()
    # uvicorn shuts down, then raises the signal it caught again: the code a spawned one gives too
    assert again.popen.returncode == -signal.SIGTERM
    assert "Finished server process" in again.log_tail()
    sock.close()


def test_the_zygote_refuses_to_fork_what_would_share_a_thread(tmp_path: Path):
    z = Zygote.start(["tests.zygote_threaded"], log_dir=tmp_path, env=ENV)
    try:
        sock = backends.listen("127.0.0.1", 0)
        argv = fleet.uvicorn_argv("tests.zygote_support:create_app", sock)
        for _ in range(2):  # and at once the second time: the zygote stays, refusing (restarting it would not help)
            with pytest.raises(ZygoteError, match="threads"):
                z.fork("web", argv, log_dir=tmp_path, pass_fds=[sock.fileno()])
        assert z.child.alive()
        sock.close()
    finally:
        z.close()


def test_a_command_that_is_not_python_m_is_not_forked(zygote: Zygote, tmp_path: Path):
    with pytest.raises(ZygoteError, match="can be forked"):
        zygote.fork("x", ["/bin/sleep", "10"], log_dir=tmp_path)


def test_the_zygote_and_its_services_die_with_the_supervisor(tmp_path: Path):
    supervisor = subprocess.Popen(
        [sys.executable, "-m", "tests.zygote_support", str(tmp_path)],
        env=ENV,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert supervisor.stdout is not None
        pids = json.loads(supervisor.stdout.readline())
        assert _until(lambda: _get(f"{pids['url']}/readyz"), "answer")[0] == 200
        assert not _gone(pids["zygote"])
        assert not _gone(pids["service"])
    finally:
        supervisor.kill()
        supervisor.wait()
    _until(lambda: _gone(pids["zygote"]) and _gone(pids["service"]), "end of the zygote and the service")


def test_a_dead_zygote_is_restarted_and_one_closed_exits(zygote: Zygote, tmp_path: Path):
    zygote.ready()
    old = zygote.child
    os.kill(old.pid, signal.SIGKILL)
    old.popen.wait(10)
    with pytest.raises(ZygoteError):
        zygote.fork("web", [sys.executable, "-m", "uvicorn", "--help"], log_dir=tmp_path)
    fresh = zygote.restart()
    assert isinstance(fresh, Child)
    assert fresh.pid != old.pid
    assert zygote.alive()
    assert zygote.ready()["ready"] is True

    zygote.close()  # the supervisor closes the socket: the zygote exits on its own
    assert zygote.child.popen.returncode == 0
    assert not zygote.alive()
