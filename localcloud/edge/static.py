"""The bucket behaviours: ``/media/*`` from the media bucket, everything else from the static-site bucket.

Objects are cached as CloudFront caches them (``localcloud.edge.cache``, keyed by the behaviour's
cache policy); a key the static bucket lacks is ``index.html`` with 200 (the distribution's custom
error responses for a single-page app), and an unpublished storefront gets a page saying how to
publish it, never cached.
"""

from __future__ import annotations

import json
from typing import Any

from localcloud.edge import responses
from localcloud.edge.cache import EdgeCache, Stored, cache_key, ttl
from localcloud.edge.exchange import Exchange, Scope, Send
from localcloud.edge.headers import edge_headers
from localcloud.edge.origins import S3Origin
from reference import physical_name
from reference.edge import DEFAULT_ROOT_OBJECT, ERROR_CACHING_MIN_TTL, SPA_ERROR_CODES, SPA_PAGE, Behavior

NOT_PUBLISHED = b"""<!doctype html><html lang="en"><meta charset="utf-8"><title>The shop is not published yet</title>
<body style="font-family:system-ui;max-width:40em;margin:4em auto">
<h1>The storefront is not published yet</h1>
<p>The edge serves the single-page app from the static-site bucket, which has no <code>index.html</code>.
Publish it with <code>python -m storefront.publish</code> (it uploads <code>storefront/</code>), then reload.</p>
<p>The API answers meanwhile under <a href="/api/">/api/</a>;
the stack's status is at <a href="/healthz">/healthz</a>.</p>
</body></html>
"""
BUCKETS = (("static", "static-site"), ("media", "media"))  # behaviour origin -> bucket role in reference/


class Buckets:
    """The two bucket origins behind one cache."""

    def __init__(self, cache: EdgeCache):
        self.cache = cache
        self.origins: dict[str, S3Origin] = {}

    def connect(self, s3: Any, stage: str) -> None:
        for origin, role in BUCKETS:
            self.origins[origin] = S3Origin(s3, physical_name(role, stage))

    async def serve(
        self, scope: Scope, send: Send, ex: Exchange, behavior: Behavior, hmap: dict[str, str], location: str
    ) -> None:
        """Answer from the cache, or fetch once (concurrent misses share one origin read) and cache."""
        policy = behavior.cache_policy
        path = scope["path"]
        key = cache_key(policy, path, scope["query_string"].decode("latin-1"), hmap)
        entry = self.cache.get(key) if key is not None else None
        age: int | None = None
        if entry is not None:
            ex.result = ex.detailed = "Hit"
            age = self.cache.age(entry)
        else:

            async def fetch() -> tuple[Stored, float]:
                return await self.object_for(behavior, path)

            if key is None:
                entry, ttl_s = await fetch()
            else:
                (entry, ttl_s), fetched = await self.cache.fetch_once(key, fetch)
                if fetched:
                    self.cache.put(key, entry, ttl_s)
            ex.result = ex.detailed = "Miss" if entry.status < 400 else "Error"
        headers = edge_headers(entry.headers, ex, age, location)
        etag = entry.header("etag")
        if entry.status == 200 and etag and matches(hmap.get("if-none-match"), etag):
            await responses.start(send, ex, 304, [h for h in headers if h[0] != "content-type"])
            await responses.body(send, ex, b"")
            return
        # A HEAD answer names the length a GET would get, and sends no body.
        await responses.start(send, ex, entry.status, [*headers, ("content-length", str(len(entry.body)))])
        await responses.body(send, ex, b"" if scope["method"] == "HEAD" else entry.body)

    async def object_for(self, behavior: Behavior, path: str) -> tuple[Stored, float]:
        """The object for a path and how long to cache it; the static site falls back to index.html."""
        bucket = self.origins[behavior.origin]
        key = path.lstrip("/") or DEFAULT_ROOT_OBJECT
        stored = await bucket.get(key)
        if stored.status == 200:
            return stored, ttl(behavior.cache_policy, stored.header("cache-control"))
        if behavior.origin == "media":
            body = json.dumps({"type": "about:blank", "title": "Not found", "status": 404, "detail": f"no {key}"})
            return Stored(404, [("content-type", "application/problem+json")], body.encode()), ERROR_CACHING_MIN_TTL
        if stored.status in SPA_ERROR_CODES:
            page = await bucket.get(SPA_PAGE.lstrip("/"))
            if page.status == 200:
                return Stored(200, page.headers, page.body), float(ERROR_CACHING_MIN_TTL)
            # Not cached: the page must go as soon as the storefront is published.
            return Stored(404, [("content-type", "text/html; charset=utf-8")], NOT_PUBLISHED), 0.0
        return stored, 0.0


def matches(if_none_match: str | None, etag: str) -> bool:
    """Whether an ``If-None-Match`` names ``etag`` (weak comparison, or ``*``)."""
    if not if_none_match:
        return False
    bare = etag.removeprefix("W/")
    return any(t.strip() == "*" or t.strip().removeprefix("W/") == bare for t in if_none_match.split(","))
