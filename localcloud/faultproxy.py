"""A TCP fault proxy in user space: put it between a client and a server, then break the link on purpose.

The kernel here has no ``netem``, so network faults are made in user space, as Toxiproxy does:

- ``Mode.PASS``: bytes flow both ways; with ``latency_s`` set, each chunk the server sends back waits that
  long first (Toxiproxy's ``latency`` toxic on the downstream side: a query's round trip grows by it once);
- ``Mode.RESET``: each new connection is accepted and reset at once (a refused/reset peer);
- ``Mode.BLACKHOLE``: each new connection is accepted and never answered (a hung peer: the
  client's timeouts fire).

Connections already open when the mode changes are cut on RESET and BLACKHOLE, so a pooled
client sees the fault too. Every decision is counted (``counters``): the evidence that a fault
took effect, which a chaos experiment checks instead of assuming: ``accepted`` connections,
``forwarded`` ones, ``bytes_up``/``bytes_down``, ``delayed`` chunks, ``reset`` and ``blackholed``
connections, ``cut`` (open ones cut by a mode change), ``upstream_refused`` (the server behind is down).

``Proxies`` runs several in a thread of their own, for a caller that is not asynchronous (the
supervisor of ``nox -s up -- --fault-proxies``, its control API in localcloud/control.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import threading
from collections import Counter
from concurrent.futures import Future
from enum import StrEnum
from typing import Any


class Mode(StrEnum):
    PASS = "pass"  # noqa: S105 - a mode, not a password
    RESET = "reset"
    BLACKHOLE = "blackhole"


class FaultProxy:
    """Listens on ``host:port`` (0: a free port) and forwards to ``target`` unless told to fail."""

    def __init__(self, target_host: str, target_port: int, *, host: str = "127.0.0.1", port: int = 0):
        self.target = (target_host, target_port)
        self.bind = (host, port)
        self.mode = Mode.PASS
        self.latency_s = 0.0
        self.counters: Counter[str] = Counter()
        self._server: asyncio.Server | None = None
        self._open: set[asyncio.StreamWriter] = set()

    @property
    def port(self) -> int:
        assert self._server is not None, "start() first"
        return self._server.sockets[0].getsockname()[1]

    @property
    def url(self) -> str:
        return f"http://{self.bind[0]}:{self.port}"

    async def start(self) -> FaultProxy:
        self._server = await asyncio.start_server(self._accept, *self.bind)
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            self._cut_all()
            await self._server.wait_closed()

    async def __aenter__(self) -> FaultProxy:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def state(self) -> dict[str, Any]:
        """What ``GET /faults`` shows of this proxy."""
        return {
            "mode": self.mode.value,
            "latency_ms": round(self.latency_s * 1000),
            "target": f"{self.target[0]}:{self.target[1]}",
            "listen": f"{self.bind[0]}:{self.port}",
            "counters": dict(self.counters),
        }

    def set(self, mode: Mode, *, latency_s: float | None = None) -> None:
        """Change the fault; RESET and BLACKHOLE also cut the connections already open."""
        self.mode = mode
        if latency_s is not None:
            self.latency_s = latency_s
        self.counters[f"set_{mode.value}"] += 1
        if mode is not Mode.PASS:
            self._cut_all()

    def _cut_all(self) -> None:
        for writer in list(self._open):
            _reset(writer)
            self.counters["cut"] += 1
        self._open.clear()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.counters["accepted"] += 1
        if self.mode is Mode.RESET:
            self.counters["reset"] += 1
            _reset(writer)
            return
        if self.mode is Mode.BLACKHOLE:
            self.counters["blackholed"] += 1
            self._open.add(writer)
            with contextlib.suppress(Exception):
                while await reader.read(65536):  # swallow what the client sends, answer nothing
                    pass
            self._open.discard(writer)
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            self.counters["upstream_refused"] += 1
            _reset(writer)
            return
        self.counters["forwarded"] += 1
        self._open.update((writer, up_writer))
        try:
            await asyncio.gather(
                self._pipe(reader, up_writer, "bytes_up", delay=False), self._pipe(up_reader, writer, "bytes_down")
            )
        finally:
            for w in (writer, up_writer):
                self._open.discard(w)
                with contextlib.suppress(Exception):
                    w.close()

    async def _pipe(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, counter: str, *, delay: bool = True
    ) -> None:
        with contextlib.suppress(ConnectionError, OSError, asyncio.IncompleteReadError):
            while chunk := await reader.read(65536):
                if delay and self.latency_s:
                    self.counters["delayed"] += 1
                    await asyncio.sleep(self.latency_s)
                self.counters[counter] += len(chunk)
                writer.write(chunk)
                await writer.drain()
        with contextlib.suppress(Exception):
            writer.write_eof()


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with SO_LINGER 0: the peer gets a TCP RST, as from a crashed or refusing server."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(Exception):
        writer.transport.abort()


class Proxies:
    """Named fault proxies served by an event loop on a thread of their own; safe to call from any thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.proxies: dict[str, FaultProxy] = {}
        self._thread = threading.Thread(target=self.loop.run_forever, name="fault-proxies", daemon=True)
        self._thread.start()

    def _run(self, coro: Any) -> Any:
        future: Future[Any] = asyncio.run_coroutine_threadsafe(coro, self.loop)
        return future.result(timeout=10)

    def add(self, name: str, target_host: str, target_port: int) -> FaultProxy:
        """Start a proxy in front of ``target_host:target_port`` on a free loopback port."""
        proxy = self._run(FaultProxy(target_host, target_port).start())
        self.proxies[name] = proxy
        return proxy

    def state(self) -> dict[str, Any]:
        return {name: p.state() for name, p in self.proxies.items()}

    def set(self, name: str, mode: Mode | None, latency_s: float | None) -> dict[str, Any] | None:
        """Change one proxy's fault (None: no proxy of that name); returns its new state."""
        proxy = self.proxies.get(name)
        if proxy is None:
            return None

        async def change() -> None:
            proxy.set(mode or proxy.mode, latency_s=latency_s)

        self._run(change())
        return proxy.state()

    def close(self) -> None:
        for proxy in self.proxies.values():
            self._run(proxy.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)
