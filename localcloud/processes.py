"""Child processes that cannot outlive the local cloud.

Every server runs in the foreground as a direct child, in its own process group (so a
Ctrl-C at the terminal reaches only the supervisor, which stops them in order), with a
parent-death signal (so even a SIGKILL of the supervisor takes them down). Daemonizing
wrappers such as ``pg_ctl start`` are avoided on purpose: a daemon is nobody's child.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

_PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(None, use_errno=True)


class StartError(RuntimeError):
    """A component did not come up; the message says which and why (with its log's tail)."""


def _die_with_parent(sig: int) -> Callable[[], None]:
    def preexec() -> None:  # runs in the child between fork and exec, after any setuid
        _libc.prctl(_PR_SET_PDEATHSIG, sig)

    return preexec


class Process(Protocol):
    """What of ``subprocess.Popen`` a ``Child`` uses: a spawned child's Popen, or a service forked from the
    zygote (``localcloud.zygote.Forked``, the supervisor's child as well)."""

    pid: int
    returncode: int | None

    def poll(self) -> int | None: ...

    def wait(self, timeout: float | None = None) -> int: ...


@dataclass
class Child:
    """A running child process, its log file, and how to stop it politely."""

    name: str
    popen: Process
    log: Path
    stop_signal: int = signal.SIGTERM
    _stopped: bool = field(default=False, repr=False)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def signal_stop(self) -> None:
        """Ask the child to stop (its stop signal to its group) without waiting; ``stop`` then waits."""
        if self.alive():
            _signal_group(self.popen.pid, self.stop_signal)

    def stop(self, timeout_s: float = 10.0) -> None:
        """Send the stop signal to the child's group, escalate to SIGKILL after the timeout, reap."""
        if self._stopped:
            return
        self._stopped = True
        if self.alive():
            _signal_group(self.popen.pid, self.stop_signal)
            try:
                self.popen.wait(timeout_s)
            except subprocess.TimeoutExpired:
                _signal_group(self.popen.pid, signal.SIGKILL)
                self.popen.wait(5)
        # A child may have left grandchildren in its group (uvicorn workers, postgres backends).
        _signal_group(self.popen.pid, signal.SIGKILL)

    def log_tail(self, lines: int = 15) -> str:
        try:
            text = self.log.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return "\n".join(text[-lines:])


def _signal_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


# Children must be spawned from the main thread: Linux delivers the parent-death signal
# when the *thread* that forked the child exits, not only when the process does.
def spawn(
    name: str,
    argv: Sequence[str],
    *,
    log_dir: Path,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    user: str | None = None,
    stop_signal: int = signal.SIGTERM,
    death_signal: int = signal.SIGKILL,
    pass_fds: Sequence[int] = (),
) -> Child:
    """Start ``argv`` as a child that logs to ``<log_dir>/<name>.log`` and dies with us."""
    if threading.current_thread() is not threading.main_thread():
        raise RuntimeError("spawn() must run on the main thread (parent-death signals are per thread)")
    log = log_dir / f"{name}.log"
    with open(log, "ab") as out:
        popen = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=dict(env) if env is not None else None,
            cwd=cwd,
            user=user,
            process_group=0,
            preexec_fn=_die_with_parent(death_signal),
            pass_fds=tuple(pass_fds),
        )
    return Child(name, popen, log, stop_signal)


def reap_adopted(keep: Collection[int]) -> list[int]:
    """Reap our exited children that are not in ``keep``; returns their pids.

    A supervisor that forks services from the zygote is a child subreaper (localcloud/zygote.py): the
    orphans of all its descendants become its children (a killed PostgreSQL's backends), and would stay
    zombies until it exits. ``keep`` holds the children someone waits on (the components' processes);
    call it from the thread that starts children, so that no ``Popen`` of another part is reaped under it.
    """
    reaped = []
    for task in Path(f"/proc/{os.getpid()}/task").iterdir():
        try:
            children = [int(pid) for pid in (task / "children").read_text().split()]
        except OSError:  # a thread gone meanwhile, or a kernel without .../children: the zombies stay
            continue
        for pid in children:
            if pid in keep or _state(pid) != "Z":
                continue
            with contextlib.suppress(ChildProcessError):
                if os.waitpid(pid, os.WNOHANG)[0] == pid:
                    reaped.append(pid)
    return reaped


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return "?"


def wait_until(
    child: Child,
    probe: Callable[[], object],
    *,
    timeout_s: float,
    what: str,
    interval_s: float = 0.05,
) -> None:
    """Call ``probe`` until it returns without raising; fail early if the child exits."""
    deadline = time.monotonic() + timeout_s
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        if not child.alive():
            raise StartError(
                f"{child.name} exited with code {child.popen.returncode} before {what}; "
                f"last lines of {child.log}:\n{child.log_tail()}"
            )
        try:
            probe()
            return
        except Exception as exc:  # noqa: BLE001 - any failure means 'not ready yet'
            last_error = exc
        time.sleep(interval_s)
    raise StartError(f"{child.name}: no {what} within {timeout_s:.0f} s (last error: {last_error}); log: {child.log}")
