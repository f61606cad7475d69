"""The path each teaching flow takes through the diagram: drawn in colour on the architecture.

Arrows are named by the diagram's node ids; one that is not in ``reference/architecture.py`` fails the
build, so a flow page's picture cannot show an arrow the architecture no longer has.
"""

from __future__ import annotations

FRONT = (("U", "R53"), ("R53", "WAF"), ("WAF", "CF"), ("CF", "ALB"), ("ALB", "IN"), ("IN", "API"))

FLOWS: dict[str, tuple[tuple[str, str], ...]] = {
    "product-page": (*FRONT, ("API", "REDIS"), ("API", "CATALOG"), ("CATALOG", "AUR"), ("CF", "S3MEDIA")),
    "search": (*FRONT, ("API", "SEARCH"), ("SEARCH", "OPENSEARCH"), ("SNS", "SQS")),
    "checkout": (
        *FRONT,
        ("API", "CHECKOUT"),
        ("API", "CART"),
        ("CART", "DDB"),
        ("CATALOG", "AUR"),
        ("ORDER", "AUR"),
        ("CHECKOUT", "EVT"),
        ("ORDER", "EVT"),
        ("PAY", "EVT"),
    ),
    "events": (
        ("ORDER", "EVT"),
        ("PAY", "EVT"),
        ("CHECKOUT", "EVT"),
        ("EVT", "SNS"),
        ("SNS", "SQS"),
        ("SQS", "NOTIF"),
        ("SQS", "RECO"),
        ("SQS", "ORDER"),
        ("SQS", "DLQ"),
    ),
    "waf": (("U", "R53"), ("R53", "WAF"), ("WAF", "CF"), ("CF", "S3FE"), ("CF", "ALB"), ("CF", "CW"), ("CF", "KDS")),
    "analytics": (("CF", "KDS"), ("API", "KDS"), ("KDS", "DLAKE"), ("DLAKE", "GLUE"), ("GLUE", "ATH"), ("ATH", "QS")),
}
