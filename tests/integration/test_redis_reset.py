"""A Valkey connection reset under the services' event loop (uvloop) costs a reconnect, not a 500.

Found by the ``cache-down`` chaos experiment: after the fault proxy reset Valkey's connections, each pooled
connection of the gateway answered its next request with ``RuntimeError: ... the handler is closed``
(uvloop's answer to a write on a closed transport), which redis-py neither retries nor maps, so the
gateway answered 500. The chassis' client (``Runtime.redis``) must reconnect instead.
"""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

import uvloop
from starlette.datastructures import State

from localcloud.faultproxy import FaultProxy, Mode
from services.common.runtime import Runtime
from services.common.settings import ServiceSettings


async def _until_the_client_has_seen_the_reset(client, deadline_s: float = 10.0) -> None:
    """Wait until the loop has processed the reset of every pooled connection (the case that failed: a write on
    a transport already closed, not one the reset reaches during the write)."""
    pooled = list(client.connection_pool._available_connections)
    assert pooled, "the first ping left no pooled connection"
    loop = asyncio.get_running_loop()
    deadline = loop.time() + deadline_s
    while not all(c._writer is None or c._writer.transport.is_closing() for c in pooled):
        assert loop.time() < deadline, "the client never saw the reset"
        await asyncio.sleep(0.01)


def test_pooled_connections_reset_by_the_server_reconnect_instead_of_failing(servers):
    target = urlsplit(servers.valkey.url)

    async def scenario() -> tuple[list[bytes], dict[str, int]]:
        proxy = FaultProxy(target.hostname or "127.0.0.1", target.port or 6379)
        async with proxy, Runtime("demo", ServiceSettings(), State()) as rt:
            client = rt.redis(f"redis://127.0.0.1:{proxy.port}/0", timeout_s=2.0)
            answers = [await client.ping()]
            proxy.set(Mode.RESET)  # cuts the pooled connection, as a node replacement does
            proxy.set(Mode.PASS)
            await _until_the_client_has_seen_the_reset(client)
            answers.append(await client.ping())
            answers.append(await client.ping())
            return answers, dict(proxy.counters)

    answers, counters = uvloop.run(scenario())
    assert counters["cut"] >= 1, counters  # the fault took effect: the open connection was reset
    assert answers == [True, True, True]
    assert counters["accepted"] >= 2, counters  # and the client came back on a new connection
