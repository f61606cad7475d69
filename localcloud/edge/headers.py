"""The headers every edge answer carries: the behaviour's response headers policy and CloudFront's own."""

from __future__ import annotations

from localcloud.edge.exchange import Exchange
from reference.edge import behavior_for


def edge_headers(origin: list[tuple[str, str]], ex: Exchange, age: int | None, location: str) -> list[tuple[str, str]]:
    """The origin's headers plus the response headers policy (security headers) and CloudFront's headers."""
    policy = behavior_for(ex.scope["path"]).response_headers
    present = {k for k, _ in origin}
    names = {k for k, _ in policy.headers} if policy.override else set()
    out = [(k, v) for k, v in origin if k != "content-length" and k not in names]
    out += [(k, v) for k, v in policy.headers if policy.override or k not in present]
    out += [("x-cache", f"{ex.result} from cloudfront"), ("via", f"1.1 {location}.local (CloudFront)"),
            ("x-amz-cf-pop", location), ("x-amz-cf-id", ex.request_id)]  # fmt: skip
    if age is not None:
        out.append(("age", str(age)))
    return out
