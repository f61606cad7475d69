"""The local edge over real servers: moto's buckets, an upstream under uvicorn, the front door under uvicorn."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest
from edge_support import CLIENT_IP_HEADER, create_buckets, publish_storefront, put_object, start_edge

from localcloud.edge.headers import policy_headers
from reference.edge import REALTIME_LOG_FIELDS, SECURITY_HEADERS


@pytest.fixture
async def edge(serve_app: Any, aws: Any, tmp_path: Path) -> Any:
    create_buckets(aws.client("s3"), aws.stage)
    publish_storefront(aws.client("s3"), aws.stage)
    return await start_edge(serve_app, aws.stage, tmp_path)


async def test_the_home_page_and_spa_routes_serve_index_html_from_the_static_bucket(edge: Any) -> None:
    async with httpx.AsyncClient(base_url=edge.url) as client:
        home, route, asset = await asyncio.gather(
            client.get("/"), client.get("/products/p-0001"), client.get("/js/app.js")
        )
    assert home.status_code == route.status_code == asset.status_code == 200
    assert "<div id=app>" in home.text
    assert home.text == route.text
    assert asset.text == "console.log('shop')"
    assert asset.headers["content-type"] == "text/javascript"


async def test_an_empty_static_bucket_answers_a_page_saying_how_to_publish(
    serve_app: Any, aws: Any, tmp_path: Path
) -> None:
    create_buckets(aws.client("s3"), aws.stage)
    edge = await start_edge(serve_app, aws.stage, tmp_path)
    async with httpx.AsyncClient(base_url=edge.url) as client:
        response = await client.get("/")
        assert response.status_code == 404
        assert "python -m storefront.publish" in response.text
        publish_storefront(aws.client("s3"), aws.stage)
        assert (await client.get("/")).status_code == 200, "the hint page is never cached"


async def test_a_second_read_is_a_hit_with_an_age_and_the_origin_is_not_asked_again(edge: Any, aws: Any) -> None:
    async with httpx.AsyncClient(base_url=edge.url) as client:
        first = await client.get("/media/products/p-0001.svg")
        put_object(
            aws.client("s3"), "media", aws.stage, "media/products/p-0001.svg", b"<svg changed/>", "image/svg+xml"
        )
        second = await client.get("/media/products/p-0001.svg")
    assert first.headers["x-cache"] == "Miss from cloudfront"
    assert second.headers["x-cache"] == "Hit from cloudfront"
    assert "age" in second.headers
    assert second.content == first.content, "served from the cache until the TTL (default 86400 s) ends"


async def test_an_invalidation_makes_the_next_read_go_to_the_origin(edge: Any, aws: Any) -> None:
    async with httpx.AsyncClient(base_url=edge.url) as client:
        await client.get("/styles.css")
        put_object(aws.client("s3"), "static-site", aws.stage, "styles.css", b"body{margin:1px}", "text/css")
        answer = await client.post("/_edge/invalidations", json={"paths": ["/styles*"]})
        fresh = await client.get("/styles.css")
    assert answer.status_code == 201
    assert answer.json()["invalidated"] == 1
    assert fresh.headers["x-cache"] == "Miss from cloudfront"
    assert fresh.text == "body{margin:1px}"


async def test_a_matching_if_none_match_gets_304_without_a_body(edge: Any) -> None:
    async with httpx.AsyncClient(base_url=edge.url) as client:
        full = await client.get("/js/app.js")
        etag = full.headers["etag"]
        not_modified = await client.get("/js/app.js", headers={"if-none-match": etag})
        other = await client.get("/js/app.js", headers={"if-none-match": '"something-else"'})
    assert not_modified.status_code == 304
    assert not_modified.content == b""
    assert not_modified.headers["etag"] == etag
    assert other.status_code == 200
    assert other.content == full.content


async def test_an_object_expires_when_its_ttl_ends(serve_app: Any, aws: Any, tmp_path: Path) -> None:
    create_buckets(aws.client("s3"), aws.stage)
    publish_storefront(aws.client("s3"), aws.stage)
    edge = await start_edge(serve_app, aws.stage, tmp_path)
    async with httpx.AsyncClient(base_url=edge.url) as client:
        first = await client.get("/")  # index.html is no-cache: kept for the minimum TTL, 1 s
        hit = await client.get("/")
        await asyncio.sleep(1.1)
        expired = await client.get("/")
    assert [r.headers["x-cache"].split()[0] for r in (first, hit, expired)] == ["Miss", "Hit", "Miss"]


async def test_api_answers_are_never_cached_even_when_the_origin_says_they_may_be(edge: Any) -> None:
    async with httpx.AsyncClient(base_url=edge.url) as client:
        plain = [await client.get("/api/catalog/products/p-1") for _ in range(2)]
        signed_in = [await client.get("/api/cart", headers={"authorization": "Bearer t"}) for _ in range(2)]
    assert [r.headers["x-cache"] for r in plain + signed_in] == ["Miss from cloudfront"] * 4
    assert len(edge.upstream_seen) == 4, "every request reached the gateway"


async def test_every_response_carries_the_security_headers_policy_and_cloudfront_headers(edge: Any) -> None:
    async with httpx.AsyncClient(base_url=edge.url) as client:
        responses = [await client.get(p) for p in ("/", "/media/products/p-0001.svg", "/api/catalog/products")]
        responses.append(await client.get("/api/x", params={"q": "<script>alert(1)</script>"}))
    for response in responses:
        for name, value in policy_headers(SECURITY_HEADERS):  # the local CSP also names its report route
            assert response.headers[name] == value, (response.request.url, name)
        assert response.headers["via"].endswith("(CloudFront)")
        assert len(response.headers["x-amz-cf-id"]) == 56
    assert responses[-1].status_code == 403


async def test_a_blocked_request_gets_403_naming_its_request_id_as_cloudfront_does(edge: Any) -> None:
    async with httpx.AsyncClient(base_url=edge.url) as client:
        html = await client.get("/api/x", params={"q": "1' or '1'='1"})
        problem = await client.get("/api/x", params={"q": "1' or '1'='1"}, headers={"accept": "application/json"})
        metrics = (await client.get("/_edge/waf/metrics")).json()
    assert html.status_code == 403
    assert html.headers["x-amz-cf-id"] in html.text
    assert "Request blocked" in html.text
    assert html.headers["x-cache"] == "Error from cloudfront"
    assert problem.json()["requestId"] == problem.headers["x-amz-cf-id"]
    assert edge.upstream_seen == [], "a blocked request never reaches the origin"
    values = {(m["MetricName"], m["Dimensions"]["Rule"]): m["Value"] for m in metrics["metrics"]}
    assert values[("BlockedRequests", "WafWebInjection")] == 2
    assert values[("BlockedRequests", "ALL")] == 2
    assert {m["Dimensions"]["WebACL"] for m in metrics["metrics"]} == {"shop-web-acl"}
    record = (await edge.waf_records())[0]
    assert (record["terminatingRuleId"], record["action"]) == ("web-injection", "BLOCK")


async def test_a_counted_request_passes_and_is_logged_and_counted_under_its_rule(edge: Any) -> None:
    async with httpx.AsyncClient(base_url=edge.url) as client:
        response = await client.get("/api/catalog/products", headers={"x-shop-country": "KP"})
        metrics = (await client.get("/_edge/waf/metrics")).json()
    assert response.status_code == 200
    assert edge.upstream_seen[0]["headers"]["cloudfront-viewer-country"] == "KP"
    values = {(m["MetricName"], m["Dimensions"]["Rule"]): m["Value"] for m in metrics["metrics"]}
    assert values[("CountedRequests", "WafEmbargoedCountries")] == 1
    assert values[("AllowedRequests", "Default_Action")] == 1
    record = (await edge.waf_records())[0]
    assert record["action"] == "ALLOW"
    assert record["nonTerminatingMatchingRules"][0]["ruleId"] == "embargoed-countries"


async def test_each_request_leaves_one_access_line_in_real_time_log_field_order(edge: Any) -> None:
    async with httpx.AsyncClient(base_url=edge.url) as client:
        await client.get(
            "/js/app.js?v=1", headers={"user-agent": "Shopper Browser/1.0", CLIENT_IP_HEADER: "203.0.113.5"}
        )
    fields = dict(zip(REALTIME_LOG_FIELDS, (await edge.access_lines())[0], strict=True))
    assert fields["c-ip"] == "203.0.113.5"
    assert fields["c-ip-version"] == "IPv4"
    assert (fields["cs-method"], fields["cs-uri-stem"], fields["cs-uri-query"]) == ("GET", "/js/app.js", "v=1")
    assert fields["sc-status"] == "200"
    assert fields["x-edge-result-type"] == "Miss"
    assert fields["cs-user-agent"] == "Shopper%20Browser/1.0"  # free text is URL-encoded: one record per line
    assert fields["cache-behavior-path-pattern"] == "*"
    assert fields["sc-content-type"] == "text/javascript"
    assert float(fields["time-taken"]) >= float(fields["time-to-first-byte"]) >= 0
    assert fields["sc-content-len"] == str(len("console.log('shop')"))
    assert fields["ssl-protocol"] == "-"
    assert len(fields["x-edge-request-id"]) == 56


async def test_the_api_proxy_forwards_method_path_query_headers_and_body_to_the_gateway(edge: Any) -> None:
    async with httpx.AsyncClient(base_url=edge.url) as client:
        response = await client.post(
            "/api/cart/items?currency=EUR&note=a%20b", json={"product_id": "p-1"}, headers={"x-trace": "t-1"}
        )
    seen = edge.upstream_seen[0]
    assert response.status_code == 200
    assert response.headers["x-cache"] == "Miss from cloudfront"
    assert (seen["method"], seen["path"], seen["query"]) == ("POST", "/api/cart/items", "currency=EUR&note=a%20b")
    assert seen["body"] == '{"product_id":"p-1"}'
    assert seen["headers"]["x-trace"] == "t-1"
    assert seen["headers"]["x-forwarded-for"] == "127.0.0.1"
    assert seen["headers"]["x-amz-cf-id"]


async def test_a_body_less_post_reaches_the_gateway_without_a_body(edge: Any) -> None:
    async with httpx.AsyncClient(base_url=edge.url) as client:
        response = await client.post("/api/cart/checkout")
    seen = edge.upstream_seen[0]
    assert response.status_code == 200
    assert seen["body"] == ""
    assert "transfer-encoding" not in seen["headers"]
    assert seen["headers"].get("content-length", "0") == "0"


async def test_a_large_api_answer_streams_through_whole(edge: Any) -> None:
    async with httpx.AsyncClient(base_url=edge.url) as client:
        response = await client.get("/api/big")
    assert response.status_code == 200
    assert len(response.content) == 40 * 65536


async def test_a_gateway_that_is_down_is_a_502_problem(serve_app: Any, aws: Any, tmp_path: Path) -> None:
    from localcloud.backends import refused_port

    with refused_port() as port:  # held: nobody can start listening there during the test
        edge = await start_edge(serve_app, aws.stage, tmp_path, gateway=f"http://127.0.0.1:{port}")
        async with httpx.AsyncClient(base_url=edge.url) as client:
            response = await client.get("/api/catalog/products")
    assert response.status_code == 502
    assert response.headers["content-type"] == "application/problem+json"


async def test_a_method_the_static_behaviour_does_not_allow_is_refused(edge: Any) -> None:
    async with httpx.AsyncClient(base_url=edge.url) as client:
        response = await client.post("/index.html", content=b"x")
    assert response.status_code == 403


async def test_rule_counts_reach_the_emulators_cloudwatch_under_waf_metric_names(
    serve_app: Any, aws: Any, tmp_path: Path
) -> None:
    create_buckets(aws.client("s3"), aws.stage)
    edge = await start_edge(serve_app, aws.stage, tmp_path, metrics_interval_s=0.1)
    async with httpx.AsyncClient(base_url=edge.url) as client:
        await client.get("/api/x", params={"q": "<script>alert(1)</script>"})
    cloudwatch = aws.client("cloudwatch")
    for _ in range(50):
        metrics = cloudwatch.list_metrics(Namespace="AWS/WAFV2", MetricName="BlockedRequests")["Metrics"]
        if metrics:
            break
        await asyncio.sleep(0.1)
    rules = {d["Value"] for m in metrics for d in m["Dimensions"] if d["Name"] == "Rule"}
    assert rules == {"WafWebInjection", "ALL"}
