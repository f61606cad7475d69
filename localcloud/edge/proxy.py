"""The ``/api/*`` behaviour: the viewer request forwarded to the API gateway service (the ALB origin), uncached.

The forwarded request carries what CloudFront adds (``X-Forwarded-For``, ``X-Forwarded-Proto``,
``Via``, ``X-Amz-Cf-Id``, ``CloudFront-Viewer-Country``) and none of the hop-by-hop headers; the
answer comes back whole when small, streamed when large. With a trace (``tracing``), the gateway gets
the front door's ``X-Amzn-Trace-Id`` and the viewer gets the trace's id back in the same header.
"""

from __future__ import annotations

from localcloud.edge import responses
from localcloud.edge.exchange import Exchange, Scope, Send
from localcloud.edge.headers import edge_headers
from localcloud.edge.origins import ApiOrigin, Upstream
from localcloud.edge.tracing import EdgeTrace

NOT_FORWARDED = frozenset(
    {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer", "transfer-encoding",
     "upgrade", "host", "content-length", "x-forwarded-for", "x-forwarded-proto", "via"}
)  # fmt: skip


def forwarded_headers(scope: Scope, ex: Exchange, hmap: dict[str, str], location: str) -> list[tuple[str, str]]:
    """The viewer's headers as the origin gets them."""
    forwarded_for = ", ".join(filter(None, [hmap.get("x-forwarded-for"), ex.client_ip]))
    out = [(k, v) for k, v in ex.headers if k not in NOT_FORWARDED]
    out += [("x-forwarded-for", forwarded_for), ("x-forwarded-proto", scope.get("scheme", "http")),
            ("via", f"1.1 {location}.local (CloudFront)"), ("x-amz-cf-id", ex.request_id)]  # fmt: skip
    if ex.country:
        out.append(("cloudfront-viewer-country", ex.country))
    return out


async def from_api(
    api: ApiOrigin | None,
    scope: Scope,
    send: Send,
    ex: Exchange,
    body: bytes,
    hmap: dict[str, str],
    location: str,
    trace: EdgeTrace | None = None,
) -> None:
    """Forward the request to the gateway and relay its answer (502 when no gateway runs)."""
    if api is None:
        await responses.problem(send, ex, 502, "Bad gateway", "the API gateway service is not running", location)
        return
    out = forwarded_headers(scope, ex, hmap, location)
    if trace is not None:
        out = [(k, v) for k, v in out if k != "x-amzn-trace-id"] + [("x-amzn-trace-id", trace.forwarded())]
    raw_path = (scope.get("raw_path") or scope["path"].encode()).decode("latin-1")
    query = scope["query_string"].decode("latin-1")
    upstream = await api.send(scope["method"], raw_path + (f"?{query}" if query else ""), out, body)
    ex.result = ex.detailed = "Error" if upstream.status >= 400 else "Miss"
    if trace is not None:
        upstream.headers[:] = [(k, v) for k, v in upstream.headers if k != "x-amzn-trace-id"]
        upstream.headers.append(("x-amzn-trace-id", trace.returned()))
    await relay(send, ex, upstream, location)


async def relay(send: Send, ex: Exchange, up: Upstream, location: str) -> None:
    """The origin's answer to the viewer: whole when it was read whole, else chunk by chunk."""
    headers = edge_headers(up.headers, ex, None, location)
    if up.body is not None:
        await responses.whole(send, ex, up.status, headers, up.body)
        return
    try:
        await responses.start(send, ex, up.status, headers)
        assert up.chunks is not None
        async for chunk in up.chunks:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
            ex.sent += len(chunk)
        await send({"type": "http.response.body", "body": b"", "more_body": False})
    finally:
        up.release()
