"""The services behind the gateway, over one pooled httpx client each (services.common.http)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import httpx

from services.common import http
from services.gateway.ports import Reply, Upstream, UpstreamDown, UpstreamTimeout


class HttpUpstream(Upstream):
    def __init__(
        self,
        urls: Mapping[str, str],
        *,
        timeouts: Mapping[str, httpx.Timeout],
        attempts: int,
        max_connections: int,
        transport: httpx.AsyncBaseTransport | None = None,
    ):
        self.attempts = attempts
        self.clients = {
            name: http.client(url, timeout=timeouts[name], max_connections=max_connections, transport=transport)
            for name, url in urls.items()
        }

    async def send(
        self, service: str, method: str, path: str, headers: Sequence[tuple[str, str]], body: bytes
    ) -> Reply:
        client = self.clients[service]
        try:
            response = await http.request(
                client, method, path, attempts=self.attempts, headers=list(headers), content=body or None
            )
        except httpx.TimeoutException as exc:
            raise UpstreamTimeout(f"the {service} service did not answer in time") from exc
        except httpx.TransportError as exc:
            raise UpstreamDown(f"the {service} service is not reachable") from exc
        return Reply(response.status_code, response.headers.multi_items(), response.content)

    async def aclose(self) -> None:
        for client in self.clients.values():
            await client.aclose()
