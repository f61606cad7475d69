"""The front door's rules without servers: cache TTLs and keys, conditional requests, the headers every answer
carries, what the API origin is sent, and the answers the edge gives by itself (no origin asked)."""

from __future__ import annotations

import httpx

from localcloud.edge.app import create_app
from localcloud.edge.cache import Stored, cache_key, ttl
from localcloud.edge.exchange import Exchange
from localcloud.edge.headers import CSP_REPORT_PATH, edge_headers, policy_headers
from localcloud.edge.proxy import forwarded_headers
from localcloud.edge.settings import EdgeSettings
from localcloud.edge.static import matches
from localcloud.settings import LocalCloudSettings
from reference.edge import BEHAVIORS, CACHING_DISABLED, CACHING_OPTIMIZED, SECURITY_HEADERS, content_security_policy


def test_ttls_follow_cache_control_within_the_policy_bounds() -> None:
    assert ttl(CACHING_OPTIMIZED, None) == 86_400  # the default TTL
    assert ttl(CACHING_OPTIMIZED, "public, max-age=300") == 300
    assert ttl(CACHING_OPTIMIZED, "max-age=600, s-maxage=30") == 30  # s-maxage is for shared caches
    assert ttl(CACHING_OPTIMIZED, "max-age=0") == 1  # raised to the minimum TTL
    assert ttl(CACHING_OPTIMIZED, "no-cache") == 1  # kept for the minimum TTL when it is above 0
    assert ttl(CACHING_OPTIMIZED, "max-age=99999999") == 31_536_000
    assert ttl(CACHING_DISABLED, "public, max-age=600") == 0


def test_a_request_with_authorization_never_uses_the_cache_unless_the_key_includes_it() -> None:
    assert cache_key(CACHING_OPTIMIZED, "/media/a.svg", "", {"authorization": "Bearer x"}) is None
    assert cache_key(CACHING_OPTIMIZED, "/media/a.svg", "v=2", {}) == cache_key(
        CACHING_OPTIMIZED, "/media/a.svg", "", {}
    )
    assert Stored(200, [("etag", '"1"')], b"x").header("etag") == '"1"'


def test_if_none_match_compares_etags_weakly_and_accepts_a_star() -> None:
    assert matches('W/"abc"', '"abc"')
    assert matches('"x", "abc"', 'W/"abc"')
    assert matches("*", '"abc"')
    assert not matches('"other"', '"abc"')
    assert not matches(None, '"abc"')


def exchange(path: str = "/", headers: list[tuple[str, str]] | None = None, country: str | None = None) -> Exchange:
    scope = {"type": "http", "method": "GET", "path": path, "query_string": b"", "headers": [], "scheme": "https"}
    return Exchange(scope, headers or [], "203.0.113.9", country)


def test_every_answer_carries_the_security_headers_and_cloudfronts_own() -> None:
    out = dict(edge_headers([("content-type", "text/html"), ("content-length", "5")], exchange(), 7, "LOCAL1"))
    assert all(out[name] == value for name, value in policy_headers(SECURITY_HEADERS))
    assert {"content-security-policy", "permissions-policy", "cross-origin-opener-policy"} <= set(out)
    assert (out["x-cache"], out["x-amz-cf-pop"], out["age"]) == ("Miss from cloudfront", "LOCAL1", "7")
    assert "content-length" not in out, "the edge sets the length of what it sends itself"


def test_the_api_origin_gets_the_forwarding_headers_and_none_of_the_hop_by_hop_ones() -> None:
    viewer = [("host", "shop.example.com"), ("connection", "keep-alive"), ("x-forwarded-for", "198.51.100.7"),
              ("accept", "application/json")]  # fmt: skip
    ex = exchange("/api/cart", viewer, country="DE")
    out = forwarded_headers(ex.scope, ex, dict(viewer), "LOCAL1")
    names = [k for k, _ in out]
    assert not {"host", "connection"} & set(names)
    got = dict(out)
    assert got["x-forwarded-for"] == "198.51.100.7, 203.0.113.9"
    assert (got["x-forwarded-proto"], got["cloudfront-viewer-country"]) == ("https", "DE")
    assert got["x-amz-cf-id"] == ex.request_id
    assert names.count("x-forwarded-for") == 1


async def test_the_edge_answers_some_requests_itself_without_asking_an_origin() -> None:
    door = create_app(LocalCloudSettings(), EdgeSettings(access_log=None, waf_log=None), services={})
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=door), base_url="http://edge") as client:
        attack = await client.get("/", params={"q": "1' OR '1'='1"}, headers={"accept": "application/json"})
        too_big = await client.post("/api/cart", content=b"x" * (10 * 1024 * 1024 + 1))
        no_gateway = await client.get("/api/catalog/products")
        wrong_method = await client.delete("/index.html")
        cache = await client.get("/_edge/cache")
        bad_invalidation = await client.post("/_edge/invalidations", json={"paths": ["no-slash"]})
    assert (attack.status_code, attack.json()["title"]) == (403, "Request blocked")
    assert attack.json()["requestId"] == attack.headers["x-amz-cf-id"]
    assert too_big.status_code == 413
    assert (no_gateway.status_code, no_gateway.headers["content-type"]) == (502, "application/problem+json")
    assert wrong_method.status_code == 403
    assert cache.json() == {"objects": 0, "bytes": 0}
    assert bad_invalidation.status_code == 400


def test_the_csp_allows_nothing_inline_no_framing_no_plugins_and_the_edge_adds_its_report_route() -> None:
    csp = dict(d.split(" ", 1) for d in content_security_policy().split("; "))
    assert all("unsafe" not in v and "*" not in v and "data:" not in v for v in csp.values()), csp
    assert (csp["script-src"], csp["style-src"], csp["default-src"]) == ("'self'", "'self'", "'self'")
    assert (csp["frame-ancestors"], csp["object-src"], csp["base-uri"]) == ("'none'", "'none'", "'self'")
    assert all(b.response_headers is SECURITY_HEADERS for b in BEHAVIORS), "one policy for every behaviour"
    local = dict(policy_headers(SECURITY_HEADERS))["content-security-policy"]
    assert local == f"{content_security_policy()}; report-uri {CSP_REPORT_PATH}"


def test_an_origins_own_security_header_cannot_loosen_the_edges() -> None:
    origin = [
        ("content-type", "text/html"),
        ("content-security-policy", "script-src *"),
        ("x-frame-options", "ALLOWALL"),
    ]
    out = edge_headers(origin, exchange("/api/catalog/products"), None, "LOCAL1")
    assert [v for k, v in out if k == "content-security-policy"] == [
        dict(policy_headers(SECURITY_HEADERS))["content-security-policy"]
    ]
    assert [v for k, v in out if k == "x-frame-options"] == ["DENY"]


async def test_the_edge_counts_the_csp_violations_browsers_report() -> None:
    door = create_app(LocalCloudSettings(), EdgeSettings(access_log=None, waf_log=None), services={})
    report = {"csp-report": {"document-uri": "http://edge/p/1", "violated-directive": "script-src-elem",
                             "effective-directive": "script-src-elem", "blocked-uri": "inline"}}  # fmt: skip
    batched = [{"type": "csp-violation", "body": {"effectiveDirective": "style-src-attr", "blockedURL": "inline"}},
               {"type": "deprecation", "body": {"id": "x"}}]  # fmt: skip
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=door), base_url="http://edge") as client:
        before = (await client.get(CSP_REPORT_PATH)).json()
        sent = await client.post(CSP_REPORT_PATH, json=report, headers={"content-type": "application/csp-report"})
        also = await client.post(CSP_REPORT_PATH, json=batched, headers={"content-type": "application/reports+json"})
        junk = await client.post(CSP_REPORT_PATH, content=b"not json")
        after = (await client.get(CSP_REPORT_PATH)).json()
    assert before["count"] == 0
    assert (sent.status_code, also.status_code, junk.status_code) == (201, 201, 400)
    assert after["count"] == 2
    assert after["by_directive"] == {"script-src-elem": 1, "style-src-attr": 1}
    assert after["recent"][0]["blocked-uri"] == "inline"
