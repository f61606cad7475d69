"""A TCP fault proxy in user space: put it between a client and a server, then break the link on purpose.

The kernel here has no ``netem``, so network faults are made in user space, as Toxiproxy does:

- ``Mode.PASS``: bytes flow both ways, after ``latency_s`` per chunk when set;
- ``Mode.RESET``: each new connection is accepted and reset at once (a refused/reset peer);
- ``Mode.BLACKHOLE``: each new connection is accepted and never answered (a hung peer: the
  client's timeouts fire).

Connections already open when the mode changes are cut on RESET and BLACKHOLE, so a pooled
client sees the fault too. Every decision is counted (``counters``): the evidence that a fault
took effect, which a chaos experiment checks instead of assuming.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from collections import Counter
from enum import StrEnum


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
            await asyncio.gather(self._pipe(reader, up_writer, "bytes_up"), self._pipe(up_reader, writer, "bytes_down"))
        finally:
            for w in (writer, up_writer):
                self._open.discard(w)
                with contextlib.suppress(Exception):
                    w.close()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, counter: str) -> None:
        with contextlib.suppress(ConnectionError, OSError, asyncio.IncompleteReadError):
            while chunk := await reader.read(65536):
                if self.latency_s:
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
