"""One file per journey; ``PLAN`` says how often each runs and how long its shoppers think (data, not code).

``python -m load --journeys browser=6,shopper=0`` overrides weights for one run.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Journey:
    """A Locust user class by module name, its weight among the users, and its think time range in seconds."""

    name: str
    weight: int
    think_s: tuple[float, float]
    summary: str


PLAN = (
    Journey("browser", 6, (1.0, 3.0), "anonymous: home, category, product, search with typos, type-ahead"),
    Journey("shopper", 2, (1.0, 2.0), "signs up, adds to cart, changes it, checks out, views orders"),
    Journey("returning", 1, (1.0, 3.0), "signs in again, reorders, views orders"),
    # ~1 request/s: a partner feed within the edge's per-address rate rule (load/README.md)
    Journey("api_client", 1, (0.5, 1.5), "a partner integration paging the catalog and search as JSON"),
    Journey("attacker", 0, (0.5, 1.5), "SQLi, XSS, traversal, bad bots from the WAF corpus (--attackers)"),
    Journey("flood", 0, (0.0, 0.0), "one address at --flood-rps (with --attackers): the rate-based rule"),
)


def journey(name: str) -> Journey:
    return next(j for j in PLAN if j.name == name)
