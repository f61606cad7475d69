"""The distribution's response headers policy sends exactly the headers of reference/edge.py (issue 22)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from cfn.edge import RESPONSE_HEADERS, build
from reference.edge import SECURITY_HEADERS


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return json.loads(build().to_json())


def sent_by_cloudfront(config: dict[str, Any]) -> dict[str, str]:
    """The headers CloudFront adds for a ResponseHeadersPolicyConfig, as its Developer Guide spells them."""
    sec = config["SecurityHeadersConfig"]
    hsts = sec["StrictTransportSecurity"]
    xss = sec["XSSProtection"]
    out = {
        "content-security-policy": sec["ContentSecurityPolicy"]["ContentSecurityPolicy"],
        "x-content-type-options": "nosniff",
        "x-frame-options": sec["FrameOptions"]["FrameOption"],
        "referrer-policy": sec["ReferrerPolicy"]["ReferrerPolicy"],
        "strict-transport-security": f"max-age={hsts['AccessControlMaxAgeSec']}"
        + ("; includeSubDomains" if hsts["IncludeSubdomains"] else "")
        + ("; preload" if hsts["Preload"] else ""),
        "x-xss-protection": ("1" + ("; mode=block" if xss.get("ModeBlock") else "")) if xss["Protection"] else "0",
    }
    out |= {h["Header"]: h["Value"] for h in config["CustomHeadersConfig"]["Items"]}
    return out


def test_the_policy_sends_the_reference_headers_and_overrides_the_origins(template: dict[str, Any]) -> None:
    config = template["Resources"][RESPONSE_HEADERS]["Properties"]["ResponseHeadersPolicyConfig"]
    assert sent_by_cloudfront(config) == dict(SECURITY_HEADERS.headers)
    overrides = [v["Override"] for v in config["SecurityHeadersConfig"].values()]
    overrides += [h["Override"] for h in config["CustomHeadersConfig"]["Items"]]
    assert all(overrides)
    assert len(overrides) == len(SECURITY_HEADERS.headers)


def test_every_behaviour_uses_our_policy_and_none_the_managed_one(template: dict[str, Any]) -> None:
    dist = template["Resources"]["Distribution"]["Properties"]["DistributionConfig"]
    behaviours = [dist["DefaultCacheBehavior"], *dist["CacheBehaviors"]]
    assert [b["ResponseHeadersPolicyId"] for b in behaviours] == [{"Ref": RESPONSE_HEADERS}] * 3
    assert "67f7725c-6f97-4210-82d7-5512b31e9d03" not in json.dumps(template)  # Managed-SecurityHeadersPolicy
