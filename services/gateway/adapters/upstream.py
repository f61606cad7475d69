"""The services behind the gateway, over one pooled httpx client each (services.common.http)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import httpx

from reference.model import Service
from services.common import http
from services.common.settings import service_url
from services.gateway.ports import Reply, Upstream, UpstreamDown, UpstreamTimeout
from services.gateway.settings import GatewaySettings


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

    @classmethod
    def for_routes(
        cls, table: Mapping[str, Service], settings: GatewaySettings, transport: httpx.AsyncBaseTransport | None
    ) -> HttpUpstream:
        """A client per service of the route table, with the read timeout reference/ gives it (or the default)."""

        def timeout(read_s: float | None) -> httpx.Timeout:
            read = read_s or settings.upstream_read_timeout_s  # reference/ may give a service longer (checkout)
            connect = settings.upstream_connect_timeout_s
            return httpx.Timeout(connect=connect, read=read, write=read, pool=connect)

        return cls(
            {s.name: service_url(s.name) for s in table.values()},
            timeouts={s.name: timeout(s.gateway_timeout_s) for s in table.values()},
            attempts=settings.upstream_attempts,
            max_connections=settings.upstream_max_connections,
            transport=transport,
        )

    async def send(
        self, service: str, method: str, path: str, headers: Sequence[tuple[bytes, bytes]], body: bytes
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
        # Latin-1 both ways: whatever bytes a service put in a header reach the client unchanged.
        raw = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in response.headers.raw]
        return Reply(response.status_code, raw, response.content)

    async def aclose(self) -> None:
        for client in self.clients.values():
            await client.aclose()
