"""The origins behind the edge: the S3 buckets (read as CloudFront's origin access control does) and the API.

The API origin is reached with aiohttp over a pool of keep-alive connections: the httpx client
used before held the front door to ~343 req/s (p99 420 ms) under 32 users (docs/edge.md).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
from botocore.exceptions import ClientError
from yarl import URL

from localcloud.edge.cache import Stored

# Hop-by-hop headers (RFC 9110 7.6.1) are never forwarded, nor the Host (AllViewerExceptHostHeader).
HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer", "transfer-encoding",
     "upgrade", "host", "content-length"}
)  # fmt: skip
S3_HEADERS = ("content-type", "etag", "last-modified", "cache-control", "content-encoding", "content-language")
WHOLE_BODY_LIMIT = 1024 * 1024  # API answers up to this size are read whole (one send); larger ones stream


class OriginError(Exception):
    def __init__(self, status: int, detail: str):
        super().__init__(detail)
        self.status, self.detail = status, detail


class S3Origin:
    """One bucket through boto3 (in a thread: boto3 blocks); the key is the path without its leading slash."""

    def __init__(self, client: Any, bucket: str):
        self.client, self.bucket = client, bucket

    async def get(self, key: str) -> Stored:
        return await asyncio.to_thread(self._get, key)

    def _get(self, key: str) -> Stored:
        try:
            obj = self.client.get_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 500)
            if code in ("NoSuchKey", "NoSuchBucket", "404", "403", "AccessDenied"):
                # Through origin access control without list rights, S3 answers 403 for a missing key.
                return Stored(403 if status in (403, 404) else status, [("content-type", "application/xml")], b"")
            raise OriginError(502, f"S3 {self.bucket} answered {code}") from exc
        except Exception as exc:  # endpoint down, timeouts: CloudFront's 502/504
            raise OriginError(502, f"S3 {self.bucket} is not reachable: {type(exc).__name__}") from exc
        meta = obj.get("ResponseMetadata", {}).get("HTTPHeaders", {})
        headers = [(h, meta[h]) for h in S3_HEADERS if meta.get(h)]
        return Stored(200, headers, obj["Body"].read())


@dataclass(slots=True)
class Upstream:
    """An API answer: headers at once, the body whole (``body``) or as a stream (``chunks``)."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes | None
    chunks: AsyncIterator[bytes] | None
    release: Any = None


class ApiOrigin:
    """The API gateway (the ALB's role): every method, viewer headers except Host, never cached."""

    def __init__(self, base_url: str, timeout_s: float, max_connections: int = 256):
        self.base_url = base_url.rstrip("/")
        self.timeout = aiohttp.ClientTimeout(total=None, sock_connect=2.0, sock_read=timeout_s)
        self.max_connections = max_connections
        self.session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        connector = aiohttp.TCPConnector(limit=self.max_connections, limit_per_host=0, keepalive_timeout=30)
        self.session = aiohttp.ClientSession(
            connector=connector,
            timeout=self.timeout,
            auto_decompress=False,
            skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding", "Content-Type"),
            cookie_jar=aiohttp.DummyCookieJar(),
        )

    async def close(self) -> None:
        if self.session is not None:
            await self.session.close()

    async def send(self, method: str, target: str, headers: list[tuple[str, str]], body: bytes) -> Upstream:
        """Forward one request (``target`` is the raw path and query); a body-less request goes without a body."""
        assert self.session is not None, "start() first"
        url = URL(self.base_url + target, encoded=True)
        try:
            response = await self.session.request(
                method, url, headers=headers, data=body if body else None, allow_redirects=False
            )
        except TimeoutError as exc:
            raise OriginError(504, "the API gateway did not answer in time") from exc
        except aiohttp.ClientError as exc:
            raise OriginError(502, f"the API gateway is not reachable ({type(exc).__name__})") from exc
        out = [(k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in response.raw_headers]
        out = [(k, v) for k, v in out if k not in HOP_BY_HOP]
        length = response.content_length
        if method == "HEAD" or (length is not None and length <= WHOLE_BODY_LIMIT):
            try:
                body_out = await response.read()
            except (TimeoutError, aiohttp.ClientError) as exc:
                response.release()
                raise OriginError(504 if isinstance(exc, TimeoutError) else 502, "the API gateway broke off") from exc
            response.release()
            return Upstream(response.status, out, body_out, None)
        return Upstream(response.status, out, None, response.content.iter_chunked(64 * 1024), response.release)

    async def health(self) -> dict[str, object]:
        assert self.session is not None
        try:
            async with self.session.get(f"{self.base_url}/healthz", timeout=aiohttp.ClientTimeout(total=2)) as r:
                return {"status": "up" if r.status == 200 else "down", "url": self.base_url}
        except (TimeoutError, aiohttp.ClientError) as exc:
            return {"status": "down", "url": self.base_url, "detail": type(exc).__name__}
