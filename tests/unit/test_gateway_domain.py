"""The gateway's pure rules: route resolution, client address, cache keys, what may be stored."""

from __future__ import annotations

import pytest

from services.common.identity import Caller
from services.gateway import domain
from services.gateway.domain import InvalidToken, Route

ROUTES = {"catalog": Route("catalog", 30), "cart": Route("cart")}


def test_a_path_resolves_to_its_prefixs_service_with_the_prefix_kept():
    assert domain.resolve("catalog/products/1", ROUTES) == domain.Target("catalog", "/catalog/products/1", 30)


@pytest.mark.parametrize("path", ["", "nowhere/1", "catalog/internal/x", "catalog/../cart", "catalog/./x", "Internal"])
def test_unknown_internal_and_dot_segment_paths_resolve_to_nothing(path):
    assert domain.resolve(path, ROUTES) is None


@pytest.mark.parametrize(
    ("forwarded_for", "hops", "expected"),
    [(None, 1, "192.0.2.9"), ("198.51.100.1", 1, "198.51.100.1"), ("6.6.6.6, 198.51.100.1", 1, "198.51.100.1"),
     ("6.6.6.6, 198.51.100.1, 10.0.0.2", 2, "198.51.100.1"), ("198.51.100.1", 3, "198.51.100.1"),
     ("198.51.100.1", 0, "192.0.2.9")],
)  # fmt: skip
def test_the_client_address_is_the_hop_the_trusted_proxies_added(forwarded_for, hops, expected):
    assert domain.client_ip(forwarded_for, "192.0.2.9", hops) == expected


def test_query_order_does_not_change_the_cache_key_but_values_do():
    key = domain.cache_key("GET", "/catalog/products", "b=2&a=1")
    assert key == domain.cache_key("GET", "/catalog/products", "a=1&b=2") == "cache:GET /catalog/products?a=1&b=2"
    assert key != domain.cache_key("GET", "/catalog/products", "a=1&b=3")


def test_a_very_long_cache_key_is_hashed_to_a_bounded_length():
    assert len(domain.cache_key("GET", "/catalog/products", "q=" + "x" * 5000)) < 100


def test_signed_in_requests_count_against_the_user_as_well_as_the_address():
    ada = Caller("sub-ada")
    keys = [limit.key for limit in domain.limits("1.2.3.4", ada, per_ip=10, per_user=5, window_s=1)]
    assert keys == ["rl:ip:1.2.3.4", "rl:user:sub-ada"]


@pytest.mark.parametrize(
    ("status", "headers", "expected"),
    [(200, [("Content-Type", "application/json")], 30), (404, [], 0), (200, [("Set-Cookie", "a=1")], 0),
     (200, [("Cache-Control", "private, max-age=5")], 0), (200, [("cache-control", "no-store")], 0),
     (200, [("cache-control", "no-cache")], 0)],
)  # fmt: skip
def test_only_plain_200s_are_kept(status, headers, expected):
    assert domain.keep_for_s(status, headers, ceiling_s=30) == expected


@pytest.mark.parametrize(
    ("headers", "expected"),
    [([("Cache-Control", "public, max-age=5")], 5), ([("Cache-Control", "public, max-age=5"), ("Age", "3")], 2),
     ([("Cache-Control", "public, max-age=5"), ("Age", "9")], 0), ([("Cache-Control", "public, max-age=300")], 30),
     ([("Cache-Control", "public, max-age=300, s-maxage=4")], 4), ([("Cache-Control", "max-age=0")], 0)],
)  # fmt: skip
def test_an_answer_is_kept_no_longer_than_its_cache_control_less_its_age_and_the_route_allows(headers, expected):
    assert domain.keep_for_s(200, headers, ceiling_s=30) == expected


def test_claims_become_a_caller_only_for_an_access_token_of_our_client():
    claims = {"token_use": "access", "client_id": "web", "sub": "s1", "cognito:groups": ["admin"]}
    assert domain.caller_from_claims(claims, ["web"]) == Caller("s1", "", frozenset({"admin"}))
    with pytest.raises(InvalidToken, match="another app client"):
        domain.caller_from_claims(claims, ["mobile"])
    with pytest.raises(InvalidToken, match="access"):
        domain.caller_from_claims(claims | {"token_use": "id"}, ["web"])


def test_retry_after_rounds_up_to_whole_seconds_and_is_never_zero():
    assert [domain.retry_after_s(ms) for ms in (1, 999, 1000, 1001)] == [1, 1, 1, 2]
