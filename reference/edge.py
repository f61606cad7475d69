"""The CloudFront distribution as data: behaviours, cache policies, the response headers policy, real-time log fields.

cfn/edge.py renders it to AWS::CloudFront::Distribution; the local edge (localcloud/edge/) serves by it.
The policies are AWS managed ones: their ids are the same in every account and their settings are
published in the CloudFront Developer Guide ("Use managed cache policies", "Use managed response
headers policies"); the values below restate those pages so the local edge can apply them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class CachePolicy:
    """What goes into the cache key and how long objects live (seconds)."""

    id: str
    name: str
    min_ttl: int
    default_ttl: int
    max_ttl: int
    key_headers: tuple[str, ...] = ()  # lower case; none of the managed policies used here adds one
    key_query: bool = False
    key_cookies: bool = False

    @property
    def caches(self) -> bool:
        return self.max_ttl > 0


@dataclass(frozen=True, slots=True)
class ResponseHeadersPolicy:
    id: str
    name: str
    headers: tuple[tuple[str, str], ...]
    override: bool = False  # False: a header the origin sent wins


@dataclass(frozen=True, slots=True)
class Behavior:
    """One cache behaviour; ``path`` None is the default behaviour."""

    origin: str  # static | media | api
    path: str | None
    cache_policy: CachePolicy
    response_headers: ResponseHeadersPolicy
    forwards_viewer_headers: bool = False  # the origin request policy AllViewerExceptHostHeader
    methods: tuple[str, ...] = ("GET", "HEAD")


CACHING_OPTIMIZED = CachePolicy(
    "658327ea-f89d-4fab-a63d-7e88639e58f6", "Managed-CachingOptimized", 1, 86_400, 31_536_000
)
CACHING_DISABLED = CachePolicy("4135ea2d-6df8-44a3-9df3-4b5a84be39ad", "Managed-CachingDisabled", 0, 0, 0)
ALL_VIEWER_EXCEPT_HOST = "b689b0a8-53d0-40ab-baf2-68738e2966ac"  # origin request policy
SECURITY_HEADERS = ResponseHeadersPolicy(
    "67f7725c-6f97-4210-82d7-5512b31e9d03",
    "Managed-SecurityHeadersPolicy",
    (
        ("referrer-policy", "strict-origin-when-cross-origin"),
        ("strict-transport-security", "max-age=31536000"),
        ("x-content-type-options", "nosniff"),
        ("x-frame-options", "SAMEORIGIN"),
        ("x-xss-protection", "1; mode=block"),
    ),
)
API_METHODS = ("GET", "HEAD", "OPTIONS", "PUT", "PATCH", "POST", "DELETE")
MEDIA_PATH = "/media/*"
API_PATH = "/api/*"
DEFAULT_ROOT_OBJECT = "index.html"
# The single-page app routes in the browser: a key the static bucket lacks (S3 answers 403
# through origin access control, 404 with list rights) becomes index.html with 200.
SPA_ERROR_CODES = (403, 404)
SPA_PAGE = "/index.html"
ERROR_CACHING_MIN_TTL = 10  # CloudFront's default for custom error responses

# Ordered as CloudFront evaluates them: the path patterns first, the default behaviour last.
BEHAVIORS = (
    Behavior("api", API_PATH, CACHING_DISABLED, SECURITY_HEADERS, forwards_viewer_headers=True, methods=API_METHODS),
    Behavior("media", MEDIA_PATH, CACHING_OPTIMIZED, SECURITY_HEADERS),
    Behavior("static", None, CACHING_OPTIMIZED, SECURITY_HEADERS),
)

# Every field a CloudFront real-time log record can carry, in the order of the Developer Guide's
# list; a record holds the configured fields tab-separated, in the configuration's order.
REALTIME_LOG_FIELDS = (
    "timestamp", "c-ip", "time-to-first-byte", "sc-status", "sc-bytes", "cs-method", "cs-protocol", "cs-host",
    "cs-uri-stem", "cs-bytes", "x-edge-location", "x-edge-request-id", "x-host-header", "time-taken",
    "cs-protocol-version", "c-ip-version", "cs-user-agent", "cs-referer", "cs-cookie", "cs-uri-query",
    "x-edge-response-result-type", "x-forwarded-for", "ssl-protocol", "ssl-cipher", "x-edge-result-type",
    "fle-encrypted-fields", "fle-status", "sc-content-type", "sc-content-len", "sc-range-start", "sc-range-end",
    "c-port", "x-edge-detailed-result-type", "c-country", "cs-accept-encoding", "cs-accept",
    "cache-behavior-path-pattern", "cs-headers", "cs-header-names", "cs-headers-count",
)  # fmt: skip


def behavior_for(path: str) -> Behavior:
    """The behaviour CloudFront picks for a path: the first whose pattern matches, else the default."""
    for b in BEHAVIORS:
        if b.path is None or path.startswith(b.path.rstrip("*")):
            return b
    raise AssertionError("the default behaviour matches every path")
