"""The pre-fork launcher's parts that need no zygote: its request, what it forks, the descriptors a service
keeps, the Popen of a forked service, what the zygote checks before a fork, and the fleet's fall-back to
spawning (localcloud/zygote.py, localcloud/fleet.py)."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from localcloud import fleet, zygote
from localcloud.settings import SettingsError, load_settings
from localcloud.zygote import Forked, Request, ZygoteError, module_of, shared_state_problems
from reference import SERVICES


def _request(**changes: object) -> Request:
    fields: dict[str, object] = {
        "name": "catalog-2", "module": "uvicorn", "args": ("services.catalog.app:create_app", "--fd", "7"),
        "env": {"SHOP_STAGE": "local", "EMPTY": ""}, "log": "/tmp/x/catalog-2.log", "fds": (7,), "cwd": None,
        "reaper": 4242, "death_signal": int(signal.SIGKILL),
    }  # fmt: skip
    fields.update(changes)
    return Request(**fields)  # type: ignore[arg-type]


def test_a_request_goes_through_the_socket_unchanged():
    request = _request()
    assert Request.decode(request.encode()) == request
    with pytest.raises(ValueError, match="unknown request"):
        Request.decode(b'{"op": "exec"}')


def test_a_request_too_large_for_one_message_is_refused():
    with pytest.raises(ZygoteError, match="bytes"):
        _request(env={"BIG": "x" * zygote.MAX_MESSAGE}).encode()


def test_only_python_m_of_this_interpreter_is_forked():
    assert module_of([sys.executable, "-m", "uvicorn", "app:make", "--fd", "3"]) == (
        "uvicorn",
        ("app:make", "--fd", "3"),
    )
    for argv in (["/usr/sbin/haproxy", "-f", "x"], [sys.executable, "script.py"], ["/usr/bin/python2", "-m", "x"]):
        with pytest.raises(ZygoteError):
            module_of(argv)


def test_the_descriptors_sent_along_get_their_numbers_even_when_they_sit_on_each_others():
    one_r, one_w = os.pipe()
    two_r, two_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the swap: pipe one's write end to two_w's number, and the other way round
        code = 1
        try:
            zygote._place_fds([one_w, two_w], [two_w, one_w])
            os.write(two_w, b"one")
            os.write(one_w, b"two")
            closed = all(_closed(fd) for fd in (one_r, two_r))
            inheritable = os.get_inheritable(one_w) and os.get_inheritable(two_w)
            code = 0 if closed and inheritable else 3
        finally:
            os._exit(code)
    os.close(one_w)
    os.close(two_w)
    assert Forked(pid, ["test"]).wait(10) == 0, "the other descriptors closed, the placed ones inheritable"
    with os.fdopen(one_r, "rb") as one, os.fdopen(two_r, "rb") as two:
        assert (one.read(), two.read()) == (b"one", b"two")


def _closed(fd: int) -> bool:
    try:
        os.fstat(fd)
    except OSError:
        return True
    return False


def test_descriptors_cannot_go_to_stdio_or_twice_to_one_number():
    with pytest.raises(ValueError, match="cannot go to"):
        zygote._place_fds([5], [1])
    with pytest.raises(ValueError, match="cannot go to"):
        zygote._place_fds([5, 6], [9, 9])


def test_a_forked_process_reports_its_exit_as_popen_does():
    pid = os.fork()
    if pid == 0:
        os._exit(3)
    assert Forked(pid, ["x"]).wait(10) == 3

    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(write_end)
        os.read(read_end, 1)  # until the test is done with it
        os._exit(0)
    os.close(read_end)
    child = Forked(pid, ["x"])
    assert child.poll() is None
    with pytest.raises(subprocess.TimeoutExpired):
        child.wait(0.05)
    child.kill()
    assert child.wait(10) == -signal.SIGKILL
    child.kill()  # a second signal to an exited process is harmless
    os.close(write_end)


def test_what_a_fork_must_not_share_is_named():
    extra = os.open(os.devnull, os.O_RDONLY)
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait, name="sharing-test")
    thread.start()
    try:
        problems = "; ".join(shared_state_problems([]))
        assert "sharing-test" in problems
        named = re.compile(rf"(descriptors |, ){extra} \(")
        assert named.search(problems)
        assert "/dev/null" in problems
        assert not named.search("; ".join(shared_state_problems([extra])))
    finally:
        stop.set()
        thread.join()
        os.close(extra)


class _BrokenZygote:
    def fork(self, *args: object, **kwargs: object) -> object:
        raise ZygoteError("the zygote is not running (exit code -9)")


def test_the_fleet_spawns_a_replica_the_zygote_cannot_fork(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    spawned = []
    monkeypatch.setattr(fleet, "spawn", lambda name, argv, **kw: spawned.append((name, argv, kw)) or "child")
    said: list[str] = []
    sock = socket.socket()
    try:
        replica = fleet.Replica(SERVICES[0], SERVICES[0].name, sock, "http://127.0.0.1:1")
        child = fleet.start_one(replica, {}, tmp_path, zygote=_BrokenZygote(), say=said.append)  # type: ignore[arg-type]
        expected = fleet.uvicorn_argv(f"services.{SERVICES[0].name}.app:create_app", sock)
    finally:
        sock.close()
    assert child == "child"
    assert spawned[0][1] == expected
    assert said
    assert "spawned instead" in said[0]
    assert "exit code -9" in said[0]


def test_the_zygote_imports_every_app_and_the_chassis_parts():
    modules = fleet.preload_modules(SERVICES)
    assert [m for m in modules if m.endswith(".app")] == [f"services.{s.name}.app" for s in SERVICES]
    assert "services.common.db" in modules
    assert "localcloud.frontdoor" in modules
    assert set(fleet.seed_modules(SERVICES)) <= set(modules)


@pytest.mark.parametrize(("value", "on"), [("off", False), ("0", False), ("on", True), ("1", True)])
def test_shop_prefork_switches_it(monkeypatch: pytest.MonkeyPatch, value: str, on: bool):
    monkeypatch.setenv("SHOP_PREFORK", value)
    assert load_settings().prefork is on


def test_a_malformed_shop_prefork_is_named(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("SHOP_PREFORK", "sometimes")
    with pytest.raises(SettingsError, match=r"SHOP_PREFORK.*on or off"):
        load_settings()


ADOPTION = """
import ctypes, json, os, sys, time
from localcloud.processes import reap_adopted
ctypes.CDLL(None).prctl(36, 1, 0, 0, 0)  # a subreaper, as the supervisor
read_end, write_end = os.pipe()
middle = os.fork()
if middle == 0:
    orphan = os.fork()
    if orphan == 0:
        os._exit(0)
    os.write(write_end, str(orphan).encode())
    os._exit(0)
os.waitpid(middle, 0)
orphan = int(os.read(read_end, 32))
kept = os.fork()
if kept == 0:
    os._exit(0)
def state(pid):
    return open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0]
deadline = time.monotonic() + 30
while not (state(orphan) == "Z" and state(kept) == "Z") and time.monotonic() < deadline:
    time.sleep(0.01)
reaped = reap_adopted({kept})
print(json.dumps({"orphan": orphan, "reaped": reaped, "kept": state(kept)}))
os.waitpid(kept, 0)
"""


def test_an_adopted_orphan_is_reaped_and_a_kept_child_is_left_to_its_owner():
    done = subprocess.run(
        [sys.executable, "-c", ADOPTION],
        env=os.environ | {"PYTHONPATH": str(Path(__file__).resolve().parents[2])},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    result = json.loads(done.stdout)
    assert result["reaped"] == [result["orphan"]]
    assert result["kept"] == "Z", "a child in keep is someone's Popen: not reaped"
