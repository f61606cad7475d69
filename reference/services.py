"""The ten microservices of the EKS box, each tied to its node in the diagram."""

from reference.model import Service

S = Service

SERVICES = (
    S("gateway", "API", 8100, "API gateway / BFF: auth, rate limits, caching, routing"),
    S("catalog", "CATALOG", 8101, "categories, products, inventory, images", database=True),
    S("search", "SEARCH", 8102, "full-text search, facets, type-ahead"),
    S("cart", "CART", 8103, "guest and user carts on DynamoDB"),
    S("checkout", "CHECKOUT", 8104, "the checkout saga", database=True),
    S("order", "ORDER", 8105, "order lifecycle and history", database=True),
    S("profile", "USER", 8106, "sign-up / sign-in through Cognito, profiles, addresses", database=True),
    S("payment", "PAY", 8107, "payment orchestrator over a provider port", database=True),
    S("notification", "NOTIF", 8108, "templated e-mails from order and payment events", database=True),
    S("recommendations", "RECO", 8109, "bought together and popular", database=True),
)


def service(name: str) -> Service:
    """The service with this name (KeyError if there is none)."""
    for s in SERVICES:
        if s.name == name:
            return s
    raise KeyError(name)
