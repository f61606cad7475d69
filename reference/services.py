"""The ten microservices of the EKS box, each tied to its node in the diagram."""

from reference.model import Service

S = Service

# Cache truth (issue 11): a stock change is visible to guests within this many seconds. The catalog says so on
# every answer that carries stock (``Cache-Control: public, max-age=STOCK_VISIBLE_S`` with ``Age`` counting the
# time the answer sat in its own cache), the gateway keeps an anonymous answer no longer than the answer allows
# (measured from when it asked), and the edge caches no /api/* answer (reference/edge.py, CachingDisabled).
STOCK_VISIBLE_S = 5

SERVICES = (
    S("gateway", "API", 8100, "API gateway / BFF: auth, rate limits, caching, routing"),
    # public_cache_s: the ceiling of what the gateway keeps; each answer's Cache-Control may say less (stock: 5 s).
    S("catalog", "CATALOG", 8101, "categories, products, inventory, images", True, ("catalog",), 30),
    S("search", "SEARCH", 8102, "full-text search, facets, type-ahead", False, ("search",), 15),
    S("cart", "CART", 8103, "guest and user carts on DynamoDB", False, ("cart",)),
    # A checkout is a saga of eight calls: the gateway outwaits it (within the edge's 30 s origin read
    # timeout) rather than answer 504 for an order being placed; measured at up to ~7 s under load.
    S("checkout", "CHECKOUT", 8104, "the checkout saga", True, ("checkout",), gateway_timeout_s=25.0),
    S("order", "ORDER", 8105, "order lifecycle and history", True, ("orders",)),
    S("profile", "USER", 8106, "sign-up / sign-in through Cognito, profiles, addresses", True, ("auth", "me")),
    S("payment", "PAY", 8107, "payment orchestrator over a provider port", True, ("payments",)),
    S("notification", "NOTIF", 8108, "templated e-mails from order and payment events", True, ("notifications",)),
    S("recommendations", "RECO", 8109, "bought together and popular", True, ("recommendations",), 60),
)


def route_table() -> dict[str, Service]:
    """Public path prefix -> the service that owns it (what the gateway routes on)."""
    return {prefix: s for s in SERVICES for prefix in s.public_prefixes}


def service(name: str) -> Service:
    """The service with this name (KeyError if there is none)."""
    for s in SERVICES:
        if s.name == name:
            return s
    raise KeyError(name)
