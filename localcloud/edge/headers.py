"""The headers every edge answer carries: the behaviour's response headers policy and CloudFront's own."""

from __future__ import annotations

from functools import cache

from localcloud.edge.exchange import Exchange
from reference.edge import ResponseHeadersPolicy, behavior_for

CSP_REPORT_PATH = "/_edge/csp-reports"  # where browsers post CSP violations locally (localcloud/edge/csp.py)


@cache
def policy_headers(policy: ResponseHeadersPolicy) -> tuple[tuple[str, str], ...]:
    """The policy's headers as the local edge sends them: its CSP also names the edge's report route."""
    return tuple(
        (k, f"{v}; report-uri {CSP_REPORT_PATH}") if k == "content-security-policy" else (k, v)
        for k, v in policy.headers
    )


def edge_headers(origin: list[tuple[str, str]], ex: Exchange, age: int | None, location: str) -> list[tuple[str, str]]:
    """The origin's headers plus the response headers policy (security headers) and CloudFront's headers."""
    policy = behavior_for(ex.scope["path"]).response_headers
    headers = policy_headers(policy)
    present = {k for k, _ in origin}
    names = {k for k, _ in headers} if policy.override else set()
    out = [(k, v) for k, v in origin if k != "content-length" and k not in names]
    out += [(k, v) for k, v in headers if policy.override or k not in present]
    out += [("x-cache", f"{ex.result} from cloudfront"), ("via", f"1.1 {location}.local (CloudFront)"),
            ("x-amz-cf-pop", location), ("x-amz-cf-id", ex.request_id)]  # fmt: skip
    if age is not None:
        out.append(("age", str(age)))
    return out
