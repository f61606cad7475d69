"""The CloudFront distribution as data: behaviours, cache policies, the response headers policy, real-time log fields.

cfn/edge.py renders it to AWS::CloudFront::Distribution; the local edge (localcloud/edge/) serves by it.
The cache and origin request policies are AWS managed ones: their ids are the same in every account and
their settings are published in the CloudFront Developer Guide ("Use managed cache policies"); the values
below restate those pages so the local edge can apply them. The response headers policy is our own
(issue 22): the managed SecurityHeadersPolicy sends no Content-Security-Policy, so SECURITY_HEADERS is
rendered as an AWS::CloudFront::ResponseHeadersPolicy and sent, header for header, by the local edge.
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
    """Headers the edge adds to every answer of a behaviour; ``id`` is empty for a policy the stack creates."""

    id: str
    name: str
    headers: tuple[tuple[str, str], ...]
    override: bool = False  # False: a header the origin sent wins

    def header(self, name: str) -> str:
        return dict(self.headers)[name]


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
# The Content-Security-Policy of every answer: the storefront is plain ES modules and one stylesheet
# from its own origin (storefront/README.md), so nothing inline is allowed, nothing is framed, and
# nothing leaves for another origin. An injected <script>, on* attribute or javascript: URL does not
# run; a style attribute is not applied. The local edge adds its report-uri (docs/edge.md).
CONTENT_SECURITY_POLICY = (
    ("default-src", "'self'"),
    ("script-src", "'self'"),
    ("style-src", "'self'"),
    ("img-src", "'self'"),  # product images are /media/... on the same origin
    ("connect-src", "'self'"),  # /api/... only
    ("font-src", "'self'"),
    ("manifest-src", "'self'"),
    ("object-src", "'none'"),
    ("base-uri", "'self'"),
    ("form-action", "'self'"),
    ("frame-ancestors", "'none'"),
)
# Powerful features no page of the shop uses, off for it and anything it could embed.
PERMISSIONS_POLICY = (
    "accelerometer=(), camera=(), geolocation=(), gyroscope=(), magnetometer=(), microphone=(), payment=(), usb=()"
)


def content_security_policy(report_uri: str | None = None) -> str:
    """The CSP header value; ``report_uri`` adds where a browser posts each violation."""
    directives = [f"{name} {value}" for name, value in CONTENT_SECURITY_POLICY]
    if report_uri:
        directives.append(f"report-uri {report_uri}")
    return "; ".join(directives)


SECURITY_HEADERS = ResponseHeadersPolicy(
    "",
    "shop-security-headers",
    (
        ("content-security-policy", content_security_policy()),
        ("cross-origin-opener-policy", "same-origin"),
        ("permissions-policy", PERMISSIONS_POLICY),
        ("referrer-policy", "strict-origin-when-cross-origin"),
        ("strict-transport-security", "max-age=31536000; includeSubDomains"),
        ("x-content-type-options", "nosniff"),
        ("x-frame-options", "DENY"),  # frame-ancestors 'none' for browsers without CSP level 2
        ("x-xss-protection", "0"),  # the old XSS auditors are gone or harmful; the CSP does that job
    ),
    override=True,  # the edge's word is final: an origin cannot loosen the policy
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
