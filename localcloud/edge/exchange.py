"""One viewer request as it goes through the edge, and its line in CloudFront's real-time log format."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from localcloud.edge import logs
from localcloud.edge.waf import new_request_id

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


class Exchange:
    """What the access line of one request needs, filled in as the request goes."""

    __slots__ = ("behavior", "body_len", "client_ip", "content_len", "content_type", "country", "detailed",
                 "first_byte", "headers", "request_id", "result", "scope", "sent", "started", "status")  # fmt: skip

    def __init__(self, scope: Scope, headers: list[tuple[str, str]], client_ip: str, country: str | None):
        self.scope, self.headers, self.client_ip, self.country = scope, headers, client_ip, country
        self.started = time.perf_counter()
        self.first_byte = 0.0
        self.status = 0
        self.sent = 0
        self.content_type = self.content_len = ""
        self.result = self.detailed = "Miss"
        self.behavior = "*"
        self.request_id = new_request_id()
        self.body_len = 0


def access_record(ex: Exchange, location: str) -> dict[str, object]:
    """The real-time log fields of one exchange."""
    scope = ex.scope
    now = time.perf_counter()
    hmap = dict(ex.headers)
    server = scope.get("server") or ("", 0)
    client_port = scope["client"][1] if scope.get("client") else ""
    query = scope["query_string"].decode("latin-1")
    return {
        "timestamp": f"{time.time():.3f}",
        "c-ip": ex.client_ip,
        "time-to-first-byte": (ex.first_byte or now) - ex.started,
        "sc-status": ex.status,
        "sc-bytes": ex.sent,
        "cs-method": scope["method"],
        "cs-protocol": scope.get("scheme", "http"),
        "cs-host": hmap.get("host", f"{server[0]}:{server[1]}"),
        "cs-uri-stem": logs.encode(scope["path"]),
        "cs-bytes": ex.body_len + sum(len(k) + len(v) + 4 for k, v in ex.headers),
        "x-edge-location": location,
        "x-edge-request-id": ex.request_id,
        "x-host-header": hmap.get("host", ""),
        "time-taken": now - ex.started,
        "cs-protocol-version": f"HTTP/{scope.get('http_version', '1.1')}",
        "c-ip-version": "IPv6" if ":" in ex.client_ip else "IPv4",
        "cs-user-agent": logs.encode(hmap.get("user-agent", "")),
        "cs-referer": logs.encode(hmap.get("referer", "")),
        "cs-cookie": logs.encode(hmap.get("cookie", "")),
        "cs-uri-query": logs.encode(query),
        "x-edge-response-result-type": ex.result,
        "x-forwarded-for": hmap.get("x-forwarded-for", ""),
        "x-edge-result-type": ex.result,
        "sc-content-type": ex.content_type,
        "sc-content-len": ex.content_len,
        "c-port": client_port,
        "x-edge-detailed-result-type": ex.detailed,
        "c-country": ex.country or "",
        "cs-accept-encoding": logs.encode(hmap.get("accept-encoding", "")),
        "cs-accept": logs.encode(hmap.get("accept", "")),
        "cache-behavior-path-pattern": ex.behavior,
        "cs-headers": logs.encode("\n".join(f"{k}:{v}" for k, v in ex.headers)),
        "cs-header-names": logs.encode("\n".join(k for k, _ in ex.headers)),
        "cs-headers-count": len(ex.headers),
    }
