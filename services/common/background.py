"""A service's background loops (queue consumer, outbox relay, sweeper): started with the app,
stopped with it, and reported by ``/readyz`` if one has died.

Each loop is ``async def loop(stop: asyncio.Event) -> None`` and returns when ``stop`` is set.
On shutdown the loops get ``grace_s`` to finish what they hold, then are cancelled: a
cancel inside a message's transaction rolls it back, and SQS delivers the message again.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

Loop = Callable[[asyncio.Event], Awaitable[None]]


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
