"""Pre-fork: one interpreter imports every service's app once, and the services are forked from it.

Ten interpreters importing one service each cost about 20 CPU-seconds of a start; one interpreter
importing all ten about 2.3 (docs/startup.md). The *zygote* is that interpreter: the supervisor spawns
it like any child (``localcloud.processes.spawn``: own process group, dies with the supervisor), it
imports the modules it is given, freezes them for the garbage collector (``gc.freeze``: fewer pages
copied on write), says it is ready, and then waits on a Unix socket for fork requests.

A request is what ``spawn`` would run: ``[python, "-m", module, *args]`` (the services' uvicorn
command line, localcloud/fleet.py ``uvicorn_argv``), its environment, its log file, and the file
descriptors it inherits (the listening socket) sent along with ``SCM_RIGHTS`` and given the same
numbers in the service as in the supervisor, as ``pass_fds`` does. The zygote forks twice: the
middle process exits at once, so the service is re-parented to the supervisor, which made itself a
*child subreaper* (``PR_SET_CHILD_SUBREAPER``): the supervisor waits on, signals and heals a forked
service exactly as a spawned one (``Forked`` is its ``Popen``). The service then

- waits until it is the supervisor's child, sets its parent-death signal (it fires when the *current*
  parent dies, so it is set only after the re-parenting) and checks the supervisor is still there;
- makes its own process group, points stdin at /dev/null and stdout/stderr at its log, keeps only
  the descriptors it was sent (at the requested numbers), and replaces ``os.environ`` by the request's;
- returns out of the zygote's loop and runs the module as ``python -m`` would (``runpy``), so it ends
  like any interpreter: ``atexit`` handlers, non-daemon threads joined, its exit code.

What must not be shared is checked before every fork: the zygote has one thread (no thread survives
a fork), no event loop, no socket but its control socket, no client of anything. The service apps
read their settings when the app is created (``create_app``, after the fork), not at import; the few
variables libraries read at import (``OTEL_PROPAGATORS``, ``PSYCOPG_IMPL``, locale) come from the
supervisor's environment, which is the base of every service's (``child_env``). ``random`` is
reseeded in every child by CPython itself (``os.register_at_fork``).

If the zygote is gone or answers an error, localcloud/fleet.py spawns the service instead.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import gc
import importlib
import json
import os
import runpy
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from localcloud.processes import Child, spawn

_PR_SET_PDEATHSIG = 1
_PR_SET_CHILD_SUBREAPER = 36
_libc = ctypes.CDLL(None, use_errno=True)
MAX_MESSAGE = 1 << 20  # a request: the environment is the largest part (a few KB)
MAX_FDS = 16
STATUS_LOST = 255  # the exit code reported when a service's status could not be read (it was not our child)
# A forked service that cannot become the supervisor's own exits before running anything, with one of these
# (its log, or the zygote's for the last one, says more):
EXIT_NOT_REPARENTED = 70  # the middle process did not exit within 10 s
EXIT_ORPHANED = 71  # re-parented to someone else: the supervisor is gone, or it is no subreaper
EXIT_SETUP_FAILED = 72  # its log, descriptors or environment could not be set up (traceback in the zygote's log)
# What uvicorn imports when it runs, beyond ``uvicorn.main``: imported in the zygote too.
UVICORN_RUNTIME = (
    "uvicorn.main",
    "uvicorn.loops.auto",
    "uvicorn.loops.uvloop",
    "uvicorn.protocols.http.auto",
    "uvicorn.protocols.http.httptools_impl",
    "uvicorn.protocols.http.h11_impl",
    "uvicorn.protocols.websockets.auto",
    "uvicorn.lifespan.on",
)


class ZygoteError(RuntimeError):
    """The zygote is gone, not ready, or refused a request; the caller spawns instead."""


# --- the request protocol (both sides) ---------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    """One fork request: ``python -m <module> <args>`` with this environment, log and descriptors."""

    name: str
    module: str
    args: tuple[str, ...]
    env: dict[str, str]
    log: str
    fds: tuple[int, ...]  # the numbers the descriptors sent along get in the service
    cwd: str | None
    reaper: int  # the supervisor's pid: the service's parent once re-parented
    death_signal: int

    def encode(self) -> bytes:
        data = json.dumps({"op": "fork", **{k: getattr(self, k) for k in self.__dataclass_fields__}}).encode()
        if len(data) > MAX_MESSAGE:
            raise ZygoteError(f"fork request for {self.name} is {len(data)} bytes (more than {MAX_MESSAGE})")
        return data

    @classmethod
    def decode(cls, data: bytes) -> Request:
        raw = json.loads(data)
        if raw.get("op") != "fork":
            raise ValueError(f"unknown request {raw.get('op')!r}")
        return cls(
            name=str(raw["name"]),
            module=str(raw["module"]),
            args=tuple(str(a) for a in raw["args"]),
            env={str(k): str(v) for k, v in raw["env"].items()},
            log=str(raw["log"]),
            fds=tuple(int(f) for f in raw["fds"]),
            cwd=raw.get("cwd"),
            reaper=int(raw["reaper"]),
            death_signal=int(raw["death_signal"]),
        )


def module_of(argv: Sequence[str]) -> tuple[str, tuple[str, ...]]:
    """``[python, "-m", module, *args]`` -> ``(module, args)``; anything else cannot be forked from the zygote
    (it would not run this interpreter's code), so it raises ZygoteError and is spawned instead."""
    if len(argv) < 3 or argv[1] != "-m" or os.path.realpath(argv[0]) != os.path.realpath(sys.executable):
        raise ZygoteError(f"only '{sys.executable} -m <module> ...' can be forked, not {list(argv)[:3]}")
    return argv[2], tuple(argv[3:])


# --- the supervisor's side ----------------------------------------------------------------------------


class Forked:
    """A forked service as the supervisor sees it: the part of ``subprocess.Popen`` that ``Child``, the
    healer and ``wait_until`` use. It is the supervisor's child (re-parented), so ``waitpid`` works."""

    def __init__(self, pid: int, args: Sequence[str]):
        self.pid = pid
        self.args = list(args)
        self.returncode: int | None = None
        self._lock = threading.Lock()  # the control API's thread polls too: one waitpid at a time, as Popen

    def poll(self) -> int | None:
        if self.returncode is not None or not self._lock.acquire(blocking=False):
            return self.returncode
        try:
            if self.returncode is None:
                try:
                    pid, status = os.waitpid(self.pid, os.WNOHANG)
                except ChildProcessError:  # not our child: the supervisor is no subreaper, or someone else reaped it
                    if not _exists(self.pid):
                        self.returncode = STATUS_LOST
                    return self.returncode
                if pid == self.pid:
                    self.returncode = os.waitstatus_to_exitcode(status)
        finally:
            self._lock.release()
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        delay = 0.0005
        while self.poll() is None:
            if deadline is not None and time.monotonic() >= deadline:
                raise subprocess.TimeoutExpired(self.args, timeout or 0)
            time.sleep(delay if deadline is None else min(delay, max(deadline - time.monotonic(), 0)))
            delay = min(delay * 2, 0.05)  # as Popen.wait with a timeout
        assert self.returncode is not None
        return self.returncode

    def send_signal(self, sig: int) -> None:
        if self.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, sig)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def __repr__(self) -> str:
        return f"<Forked pid={self.pid} returncode={self.returncode}>"


def _exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def become_subreaper() -> None:
    """Orphans of our descendants (the forked services) become our children, so we can wait on them."""
    if _libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise ZygoteError(f"prctl(PR_SET_CHILD_SUBREAPER) failed: {os.strerror(ctypes.get_errno())}")


class Zygote:
    """The supervisor's handle on its zygote: ``start`` it early (it imports while the backends start),
    ``fork`` services from it (the first call waits until it has imported), ``close`` it."""

    def __init__(
        self,
        child: Child,
        control: socket.socket,
        modules: Sequence[str],
        ready_timeout_s: float,
        env: Mapping[str, str] | None = None,
    ):
        self.child = child
        self.modules = list(modules)
        self.ready_timeout_s = ready_timeout_s
        self.env = env
        self._control = control
        self._ready: dict[str, object] | None = None
        self._failure: str | None = None  # why it cannot fork (then every fork says so at once)
        self.forks = 0

    @classmethod
    def start(
        cls,
        modules: Sequence[str],
        *,
        log_dir: Path,
        env: Mapping[str, str] | None = None,
        ready_timeout_s: float = 120.0,
        name: str = "zygote",
    ) -> Zygote:
        """Spawn a zygote importing ``modules`` (on the main thread, as ``spawn``); makes the caller a subreaper."""
        become_subreaper()
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            argv = [sys.executable, "-m", "localcloud.zygote", "--control", str(theirs.fileno()), *modules]
            child = spawn(name, argv, log_dir=log_dir, env=env, pass_fds=[theirs.fileno()])
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        return cls(child, ours, modules, ready_timeout_s, env)

    def restart(self) -> Child:
        """A new zygote in place of this one's process (the healer's respawn when it exited); returns it."""
        self._control.close()
        fresh = Zygote.start(
            self.modules, log_dir=self.child.log.parent, env=self.env, ready_timeout_s=self.ready_timeout_s,
            name=self.child.name,
        )  # fmt: skip
        self.child, self._control, self._ready, self._failure = fresh.child, fresh._control, None, None
        return self.child

    def alive(self) -> bool:
        return self._control.fileno() >= 0 and self.child.alive()

    def ready(self) -> dict[str, object]:
        """Wait for the zygote's "imported" message (what it imported, in how long, what failed)."""
        if self._failure is not None:
            raise ZygoteError(self._failure)
        if self._ready is None:
            message = self._receive(self.ready_timeout_s, "its imports")
            if not message.get("ready"):  # it stays, idle: restarting it would fail the same way
                self._failure = f"the zygote cannot fork: {message.get('error')}"
                raise ZygoteError(self._failure)
            self._ready = message
        return self._ready

    def _broken(self, reason: str) -> ZygoteError:
        """The conversation is lost (no answer in time, a closed socket): stop the zygote, whose exit the
        healer sees and restarts it; until then every fork fails at once with ``reason``."""
        self._failure = reason
        self._control.close()
        self.child.signal_stop()
        return ZygoteError(reason)

    def fork(
        self,
        name: str,
        argv: Sequence[str],
        *,
        log_dir: Path,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        stop_signal: int = signal.SIGTERM,
        death_signal: int = signal.SIGKILL,
        pass_fds: Sequence[int] = (),
    ) -> Child:
        """What ``spawn`` does for ``argv`` (same arguments), by a fork of the zygote; raises ZygoteError when
        the zygote cannot (the caller then spawns)."""
        if threading.current_thread() is not threading.main_thread():
            raise RuntimeError("fork() must run on the main thread, as spawn() (parent-death signals are per thread)")
        module, args = module_of(argv)
        if self._failure is not None:
            raise ZygoteError(self._failure)
        if not self.alive():
            raise ZygoteError(f"the zygote is not running (exit code {self.child.popen.returncode})")
        self.ready()
        log = log_dir / f"{name}.log"
        request = Request(
            name=name,
            module=module,
            args=args,
            env=dict(env if env is not None else os.environ),
            log=str(log),
            fds=tuple(pass_fds),
            cwd=str(cwd) if cwd else None,
            reaper=os.getpid(),
            death_signal=int(death_signal),
        )
        try:
            socket.send_fds(self._control, [request.encode()], list(pass_fds))
        except OSError as exc:
            raise self._broken(f"the zygote took no request ({exc})") from exc
        reply = self._receive(30.0, f"a fork of {name}")
        if not reply.get("ok"):
            raise ZygoteError(f"the zygote did not fork {name}: {reply.get('error')}")
        self.forks += 1
        return Child(name, Forked(int(reply["pid"]), argv), log, stop_signal)

    def _receive(self, timeout_s: float, what: str) -> dict[str, object]:
        self._control.settimeout(timeout_s)
        try:
            data = self._control.recv(MAX_MESSAGE)
        except TimeoutError as exc:
            raise self._broken(f"the zygote sent nothing within {timeout_s:.0f} s (waiting for {what})") from exc
        except OSError as exc:
            raise self._broken(f"the zygote's socket failed ({exc})") from exc
        if not data:
            raise self._broken(f"the zygote exited (waiting for {what}); its log: {self.child.log}")
        return json.loads(data)

    def close(self) -> None:
        """Close the control socket (the zygote exits on it) and stop the zygote; its forks are not touched."""
        self._control.close()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.child.popen.wait(2.0)  # it exits on its own once the socket is closed
        self.child.stop(timeout_s=5.0)


# --- the zygote's side --------------------------------------------------------------------------------


def preload(modules: Sequence[str]) -> dict[str, str]:
    """Import ``modules`` and what uvicorn imports at run time; returns those that failed, with why (a service
    whose app does not import fails the same way after the fork, in its own log)."""
    failed = {}
    for module in [*UVICORN_RUNTIME, *modules]:
        try:
            importlib.import_module(module)
        except Exception as exc:  # noqa: BLE001 - reported; the service shows the same error in its log
            failed[module] = f"{type(exc).__name__}: {exc}"
            traceback.print_exc()
    return failed


def shared_state_problems(allowed: Sequence[int]) -> list[str]:
    """What a fork would share that it must not: a thread besides this one, a descriptor besides stdio and
    ``allowed`` (the control socket, the descriptors a request sent along)."""
    problems = []
    if threading.active_count() != 1:
        problems.append(f"{threading.active_count()} threads ({', '.join(t.name for t in threading.enumerate())})")
    listed = {int(fd) for fd in os.listdir("/proc/self/fd")}  # the listing's own descriptor is closed by now
    stray = [fd for fd in sorted(listed - {0, 1, 2, *allowed}) if _is_open(fd)]
    if stray:
        problems.append("open descriptors " + ", ".join(f"{fd} ({_describe(fd)})" for fd in stray))
    return problems


def _is_open(fd: int) -> bool:
    try:
        os.fstat(fd)
    except OSError:
        return False
    return True


def _describe(fd: int) -> str:
    try:
        return os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return "?"


def serve(control: socket.socket) -> Request | None:
    """Answer fork requests until the supervisor closes the socket (returns None). In a forked service it
    returns that service's request, set up to run (the zygote's loop is left behind on the stack it unwinds)."""
    while True:
        try:
            data, fds, _flags, _addr = socket.recv_fds(control, MAX_MESSAGE, MAX_FDS)
        except InterruptedError:
            continue
        if not data:
            return None
        try:
            request = Request.decode(data)
            problems = shared_state_problems([control.fileno(), *fds])
            if problems:
                raise ZygoteError("nothing may be shared with a forked service: " + "; ".join(problems))
            pid = _fork_service(request, fds, control)
        except Exception as exc:  # noqa: BLE001 - told to the supervisor, which spawns instead
            for fd in fds:
                with contextlib.suppress(OSError):
                    os.close(fd)
            control.send(json.dumps({"ok": False, "error": f"{type(exc).__name__}: {exc}"}).encode())
            continue
        if isinstance(pid, Request):
            return pid  # we are the service
        for fd in fds:
            os.close(fd)
        control.send(json.dumps({"ok": True, "pid": pid}).encode())


def _fork_service(request: Request, fds: list[int], control: socket.socket) -> int | Request:
    """Fork twice; in the zygote return the service's pid, in the service its request (set up)."""
    if len(fds) != len(request.fds):
        raise ZygoteError(f"{len(fds)} descriptors came with the request, {len(request.fds)} announced")
    sys.stdout.flush()
    sys.stderr.flush()
    read_end, write_end = os.pipe()
    middle = os.fork()
    if middle == 0:  # the middle process: fork the service, tell the zygote its pid, exit (re-parenting it)
        try:
            os.close(read_end)
            me = os.getpid()
            service = os.fork()
        except BaseException:  # noqa: BLE001 - the zygote reads no pid and says the fork failed
            os._exit(1)
        if service == 0:
            os.close(write_end)
            _become_service(request, fds, control, middle=me)  # exits the process if it fails
            return request
        try:
            os.write(write_end, str(service).encode())
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        text = pipe.read()
    os.waitpid(middle, 0)  # once the middle process is reaped, the service is the supervisor's child
    if not text:
        raise ZygoteError(f"the fork of {request.name} failed (see the zygote's log)")
    return int(text)


def _become_service(request: Request, fds: list[int], control: socket.socket, *, middle: int) -> None:
    """In the service, between the fork and running its module; exits the process if it cannot be ours.
    ``middle`` is the pid of the process that forked it (read there: it may be gone when this one runs)."""
    try:
        control.close()
        deadline = time.monotonic() + 10
        while os.getppid() == middle:  # the middle process exits right after forking us
            if time.monotonic() > deadline:
                os._exit(EXIT_NOT_REPARENTED)
            time.sleep(0.001)
        _libc.prctl(_PR_SET_PDEATHSIG, request.death_signal)
        if os.getppid() != request.reaper:  # re-parented elsewhere: the supervisor is gone, or is no subreaper
            os._exit(EXIT_ORPHANED)
        os.setpgid(0, 0)
        _redirect(request.log)
        _place_fds(fds, request.fds)
        for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGCHLD):
            signal.signal(sig, signal.SIG_DFL)
        signal.signal(signal.SIGPIPE, signal.SIG_IGN)  # as the interpreter sets them at start
        signal.signal(signal.SIGINT, signal.default_int_handler)
        os.environ.clear()
        os.environ.update(request.env)
        if request.cwd:
            os.chdir(request.cwd)
        _title(" ".join([sys.executable, "-m", request.module, *request.args]))
    except BaseException:  # noqa: BLE001 - never return into the zygote's loop from a half-made service
        traceback.print_exc()
        sys.stderr.flush()
        os._exit(EXIT_SETUP_FAILED)


def _redirect(log: str) -> None:
    null = os.open(os.devnull, os.O_RDONLY)
    out = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(null, 0)
    os.dup2(out, 1)
    os.dup2(out, 2)
    os.close(null)
    os.close(out)


def _place_fds(received: Sequence[int], targets: Sequence[int]) -> None:
    """Keep only stdio and the received descriptors, at the numbers the request gave them (``pass_fds``)."""
    if len(received) != len(targets) or len(set(targets)) != len(targets) or any(t < 3 for t in targets):
        raise ValueError(f"descriptors {list(received)} cannot go to {list(targets)} (distinct, 3 or above)")
    spares = []
    for fd in received:  # first out of the way of every target: a received one may sit on another's target
        spare = os.dup(fd)
        while spare in targets:
            spare = os.dup(fd)  # the one left on a target is closed below
        spares.append(spare)
    keep = {0, 1, 2, *spares}
    for fd in sorted(int(f) for f in os.listdir("/proc/self/fd")):
        if fd not in keep:
            with contextlib.suppress(OSError):
                os.close(fd)
    for spare, target in zip(spares, targets, strict=True):
        os.dup2(spare, target)  # inheritable, as pass_fds leaves them
        os.close(spare)


def _title(text: str) -> None:
    """The process' command line as ``ps`` and psutil show it: the service's, not the zygote's."""
    try:
        import setproctitle
    except ImportError:
        return
    setproctitle.setproctitle(text)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m localcloud.zygote",
        description="Import MODULES once, then fork services from this interpreter on request (started by the "
        "local cloud's supervisor; see localcloud/zygote.py).",
    )
    parser.add_argument("--control", type=int, required=True, help="descriptor of the Unix socket to the supervisor")
    parser.add_argument("modules", nargs="*", help="modules to import before forking (the services' apps)")
    options = parser.parse_args(argv)
    control = socket.socket(fileno=options.control)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # its own process group; the supervisor stops it
    _title(f"{sys.executable} -m localcloud.zygote ({len(options.modules)} modules preloaded)")
    started = time.process_time()
    failed = preload(options.modules)
    gc.collect()
    gc.freeze()  # what was imported is never collected: kept out of the children's collections (fewer copies)
    problems = shared_state_problems([control.fileno()])
    imported = {"modules": len(sys.modules), "cpu_s": round(time.process_time() - started, 2), "failed": failed}
    print(f"zygote: imported {imported}; {'; '.join(problems) or 'nothing shared'}", flush=True)
    if problems:  # say so, and stay (idle) until the supervisor closes the socket: it spawns instead
        control.send(json.dumps({"ready": False, "error": "; ".join(problems)}).encode())
        while control.recv(MAX_MESSAGE):
            control.send(json.dumps({"ok": False, "error": "; ".join(problems)}).encode())
        return 1
    control.send(json.dumps({"ready": True, **imported}).encode())
    request = serve(control)
    if request is None:
        return 0
    # The service: run its module as `python -m` does (its SystemExit is this interpreter's exit).
    sys.argv = [request.module, *request.args]
    runpy.run_module(request.module, run_name="__main__", alter_sys=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
