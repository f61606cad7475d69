"""The gateway's rules for browser sessions (issue 22): which writes are refused as cross-site, and the cookies."""

from __future__ import annotations

import pytest

from services.gateway import domain

OWN = ("__Host-shop-session", "__Host-shop-cart")


def refusal(method: str = "POST", path: str = "/api/cart/items", allowed: tuple[str, ...] = (), **headers: str):
    return domain.csrf_refusal(method, path, {k.replace("_", "-"): v for k, v in headers.items()}, OWN, allowed)


def test_a_cross_site_or_same_site_write_is_refused_whatever_it_carries() -> None:
    assert "cross-site" in refusal(sec_fetch_site="cross-site", x_shop_csrf="1")
    assert "same-site" in refusal(sec_fetch_site="same-site")


def test_a_write_with_the_session_cookie_needs_the_csrf_header() -> None:
    assert "X-Shop-CSRF" in refusal(cookie="__Host-shop-session=abc")
    assert "X-Shop-CSRF" in refusal(cookie="theme=dark; __Host-shop-cart=g1")
    assert refusal(cookie="__Host-shop-session=abc", x_shop_csrf="1", sec_fetch_site="same-origin") is None


def test_an_opaque_or_foreign_origin_is_refused_and_the_own_origin_passes() -> None:
    assert refusal(origin="null", x_shop_csrf="1") is not None
    shop = ("https://shop.example.com",)
    assert refusal(origin="https://evil.example", x_shop_csrf="1", allowed=shop) is not None
    assert refusal(origin="https://shop.example.com", x_shop_csrf="1", allowed=shop) is None


@pytest.mark.parametrize("method", ["GET", "HEAD", "OPTIONS"])
def test_reads_are_never_refused(method: str) -> None:
    assert refusal(method, sec_fetch_site="cross-site", cookie="__Host-shop-session=abc") is None


def test_an_explicit_bearer_credential_is_never_judged_as_a_forgery() -> None:
    assert refusal(authorization="Bearer x", origin="https://elsewhere.example", sec_fetch_site="cross-site") is None


def test_a_write_without_cookies_or_origin_passes_as_an_api_clients_does() -> None:
    assert refusal() is None


def test_the_clickstream_beacon_needs_no_header_but_still_no_cross_site_origin() -> None:
    assert refusal(path="/api/clickstream", cookie="__Host-shop-session=abc") is None
    assert refusal(path="/api/clickstream", sec_fetch_site="cross-site") is not None


def test_the_session_cookie_is_httponly_secure_host_only_and_samesite() -> None:
    line = domain.set_cookie("__Host-shop-session", "abc", max_age_s=60)
    assert line == "__Host-shop-session=abc; Path=/; Max-Age=60; HttpOnly; Secure; SameSite=Lax"
    assert "Max-Age=0" in domain.set_cookie("__Host-shop-session", "", max_age_s=-5)


def test_cookies_are_parsed_first_name_wins_and_the_gateways_own_are_kept_from_services() -> None:
    assert domain.cookies('a=1; b="2"; a=3; junk; =x') == {"a": "1", "b": "2"}
    assert domain.without_cookies("theme=dark; __Host-shop-session=abc; __Host-shop-cart=g", OWN) == "theme=dark"


def test_the_deny_list_key_is_the_sign_ins_origin_jti_else_the_tokens_jti() -> None:
    assert domain.revocation_key({"origin_jti": "o", "jti": "j"}) == "revoked:o"
    assert domain.revocation_key({"jti": "j"}) == "revoked:j"
    assert domain.revocation_key({}) is None
