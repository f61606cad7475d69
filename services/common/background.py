"""A service's background loops (queue consumer, outbox relay, sweeper): started with the app,
stopped with it, and reported by ``/readyz`` if one has died.

Each loop is ``async def loop(stop: asyncio.Event) -> None`` and returns when ``stop`` is set.
On shutdown the loops get ``grace_s`` to finish what they hold, then are cancelled: a
cancel inside a message's transaction rolls it back, and SQS delivers the message again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

Loop = Callable[[asyncio.Event], Awaitable[None]]
T = TypeVar("T")
log = logging.getLogger("services.background")


class Loops:
    def __init__(self) -> None:
        self.stop = asyncio.Event()
        self.tasks: dict[str, asyncio.Task[None]] = {}

    def start(self, name: str, loop: Loop) -> None:
        self.tasks[name] = asyncio.create_task(loop(self.stop), name=name)

    async def close(self, grace_s: float = 2.0) -> None:
        self.stop.set()
        if not self.tasks:
            return
        await asyncio.wait(self.tasks.values(), timeout=grace_s)
        for task in self.tasks.values():
            task.cancel()
        for task in self.tasks.values():
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def checks(self) -> dict[str, Callable[[], Awaitable[None]]]:
        """One readiness check per loop: down once the loop has ended on its own."""

        def alive(name: str) -> Callable[[], Awaitable[None]]:
            async def check() -> None:
                task = self.tasks[name]
                if task.done() and not self.stop.is_set():
                    raise RuntimeError(
                        f"the {name} loop stopped: {task.exception() if not task.cancelled() else 'cancelled'}"
                    )

            return check

        return {name: alive(name) for name in self.tasks}


async def build_with_backoff(
    build: Callable[[], T], stop: asyncio.Event, *, what: str, on_error: Callable[[str], None]
) -> T | None:
    """Call the blocking ``build()`` in a thread until it succeeds (None if ``stop`` is set first).

    Between tries it waits 0.5 s, doubling up to 5 s; each failure is logged and handed to
    ``on_error`` (readiness reports it). How the relay and the consumers wait for AWS at start.
    """
    delay = 0.5
    while not stop.is_set():
        try:
            return await asyncio.to_thread(build)
        except Exception as exc:  # noqa: BLE001 - any failure to connect is retried, and reported
            reason = f"cannot reach {what} yet: {type(exc).__name__}: {exc}"
            on_error(reason)
            log.warning("%s; retrying in %.1f s", reason, delay)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)
            delay = min(delay * 2, 5.0)
    return None
