"""What each route accepts as a request body: its content types and its size limit.

One table read by every service's body guard (``services.common.bodies``) and by the gateway,
which applies the rule of the service path it forwards to: a route that takes something other
than JSON (the product image upload) is named here once, so the gateway, the service and the
OpenAPI documents agree. A route not named takes JSON of at most ``MAX_BODY_BYTES``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

MAX_BODY_BYTES = 1 << 20
JSON_TYPES = ("application/json", "application/merge-patch+json")
IMAGE_TYPES = ("image/png", "image/jpeg", "image/svg+xml", "image/webp")
MAX_IMAGE_BYTES = 1 << 20


@dataclass(frozen=True)
class BodyRule:
    """A route (method and the service's path template, ``{name}`` for one segment) and what its body may be."""

    method: str
    path: str
    types: tuple[str, ...]
    max_bytes: int = MAX_BODY_BYTES
    owner: str = ""  # the service that serves the route (documentation; paths are unique across services)


BODY_RULES = (BodyRule("PUT", "/catalog/products/{product_id}/image", IMAGE_TYPES, MAX_IMAGE_BYTES, "catalog"),)
DEFAULT = BodyRule("*", "*", JSON_TYPES, MAX_BODY_BYTES)


@cache
def _pattern(template: str) -> re.Pattern[str]:
    return re.compile("^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "/?$")


def body_rule(method: str, path: str) -> BodyRule:
    """The rule of a request to a service path (``/catalog/products/p-1/image``); JSON by default."""
    for rule in BODY_RULES:
        if rule.method == method and _pattern(rule.path).match(path):
            return rule
    return DEFAULT
