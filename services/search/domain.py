"""The search model and its rules: queries, documents, and how a catalog change merges into a document.

Plain dataclasses, no FastAPI, no tantivy, no OpenSearch. Both adapters read the same rules:
how user text becomes tokens (no query syntax ever reaches an engine), how fuzzy a token
may be, how many tokens must match, and the version guard that makes index updates
idempotent and order-free (an old event never overwrites a newer document).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from services.common import errors

MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 24
MAX_RESULT_WINDOW = 10_000  # OpenSearch's index.max_result_window: page * page_size may not pass it
MAX_QUERY_CHARS = 200
MAX_TOKENS = 12
SUGGEST_LIMIT = 8
FACET_ATTRIBUTES = ("brand", "colour", "material", "size")
PRICE_BUCKETS: tuple[tuple[int | None, int | None], ...] = (
    (None, 2_500),
    (2_500, 5_000),
    (5_000, 10_000),
    (10_000, 25_000),
    (25_000, None),
)  # minor units; the facet "price" counts products per bucket
OUT_OF_STOCK_FACTOR = 0.5  # an out-of-stock product's relevance is halved: it ranks lower, it does not vanish
_TOKEN = re.compile(r"[^\W_]+")


class Sort(StrEnum):
    RELEVANCE = "relevance"
    PRICE = "price"
    PRICE_DESC = "-price"
    NEWEST = "newest"


class Invalid(errors.Invalid, ValueError):
    """A query parameter that is well-typed but breaks a rule; the API answers 422 naming ``field``."""

    title = "Invalid request"
    location = "query"

    def __init__(self, detail: str, field: str):
        super().__init__(detail, field=field)


# --------------------------------------------------------------------------- queries


@dataclass(frozen=True)
class SearchQuery:
    text: str = ""
    category: str | None = None
    price_min: int | None = None
    price_max: int | None = None
    attributes: tuple[tuple[str, str], ...] = ()
    sort: Sort = Sort.RELEVANCE
    page: int = 1
    page_size: int = DEFAULT_PAGE_SIZE

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.page_size

    @property
    def tokens(self) -> list[str]:
        return tokens(self.text)

    def attribute_groups(self) -> dict[str, list[str]]:
        """Values per attribute: values of one attribute are alternatives (OR), attributes combine (AND)."""
        groups: dict[str, list[str]] = {}
        for key, value in self.attributes:
            groups.setdefault(key, []).append(value)
        return groups


def make_query(
    text: str = "",
    *,
    category: str | None = None,
    price_min: int | None = None,
    price_max: int | None = None,
    attributes: list[str] | tuple[str, ...] = (),
    sort: Sort = Sort.RELEVANCE,
    page: int = 1,
    page_size: int = DEFAULT_PAGE_SIZE,
) -> SearchQuery:
    """A checked query; raises ``Invalid`` naming the parameter that breaks a rule."""
    if len(text) > MAX_QUERY_CHARS:
        raise Invalid(f"the query may be at most {MAX_QUERY_CHARS} characters", "q")
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise Invalid(f"page_size must be between 1 and {MAX_PAGE_SIZE}", "page_size")
    if page < 1 or page * page_size > MAX_RESULT_WINDOW:
        raise Invalid(f"page must be at least 1 and page * page_size at most {MAX_RESULT_WINDOW}", "page")
    for name, value in (("price_min", price_min), ("price_max", price_max)):
        if value is not None and value < 0:
            raise Invalid(f"{name} may not be negative", name)
    if price_min is not None and price_max is not None and price_min > price_max:
        raise Invalid("price_min may not be above price_max", "price_min")
    return SearchQuery(
        text=text.strip(),
        category=category or None,
        price_min=price_min,
        price_max=price_max,
        attributes=tuple(parse_attribute(raw) for raw in attributes),
        sort=sort,
        page=page,
        page_size=page_size,
    )


def parse_attribute(raw: str) -> tuple[str, str]:
    """``brand:Kestrel`` -> ("brand", "Kestrel"); only the facet attributes may be filtered on."""
    key, sep, value = raw.partition(":")
    key, value = key.strip().lower(), value.strip()
    if not sep or not value:
        raise Invalid(f"attribute filter {raw[:60]!r} is not of the form name:value", "attr")
    if key not in FACET_ATTRIBUTES:
        raise Invalid(f"cannot filter on attribute {key[:40]!r}; one of {', '.join(FACET_ATTRIBUTES)}", "attr")
    if len(value) > 100:
        raise Invalid("an attribute value may be at most 100 characters", "attr")
    return key, value


def tokens(text: str) -> list[str]:
    """Lower-cased words of ``text``: every query syntax character (``: " ( ) ~ * + -``) is a separator."""
    return _TOKEN.findall(text.lower())[:MAX_TOKENS]


def fuzziness(token: str) -> int:
    """Edit distance a token may be off by, as OpenSearch's ``fuzziness: AUTO``: 0 to 2 letters, 1 to 5, else 2."""
    return 0 if len(token) <= 2 else 1 if len(token) <= 5 else 2


def minimum_should_match(n_tokens: int) -> int:
    """How many of the tokens must match: all but a quarter (OpenSearch ``minimum_should_match: -25%``)."""
    return max(1, n_tokens - n_tokens // 4)


def price_bucket_key(low: int | None, high: int | None) -> str:
    return f"{'*' if low is None else low}-{'*' if high is None else high}"


# --------------------------------------------------------------------------- documents and changes


@dataclass(frozen=True)
class Document:
    """What the index holds per product: the product part and the stock part, each with its own version.

    Versions come from the catalog's change sequence, stored on its rows and carried by its
    events; a part is replaced only by a part with a higher version. A deleted product stays
    as a tombstone (``live`` false, never returned) so a late ProductChanged cannot revive it.
    """

    product_id: str
    name: str = ""
    description: str = ""
    category: str = ""
    price_minor: int = 0
    currency: str = "USD"
    attributes: dict[str, Any] = field(default_factory=dict)
    created_at: datetime | None = None
    image_url: str | None = None
    product_version: int = 0
    available: int | None = None  # None: not known yet (counts as in stock)
    stock_version: int = 0
    deleted: bool = False

    @property
    def live(self) -> bool:
        return self.product_version > 0 and not self.deleted

    @property
    def in_stock(self) -> bool:
        return self.available is None or self.available > 0

    def facet_values(self) -> list[str]:
        """``key=value`` of every facet attribute the product has (what attribute filters and facets read)."""
        return [f"{k}={self.attributes[k]}" for k in FACET_ATTRIBUTES if self.attributes.get(k) not in (None, "")]

    def summary(self) -> dict[str, Any]:
        return {
            "id": self.product_id,
            "name": self.name,
            "category": self.category,
            "price_minor": self.price_minor,
            "currency": self.currency,
            "image_url": self.image_url,
            "in_stock": self.in_stock,
        }


PRODUCT_FIELDS = ("name", "description", "category", "price_minor", "currency", "attributes", "created_at", "image_url")


@dataclass(frozen=True)
class Change:
    """One catalog change as the index sees it; any part may be absent."""

    product_id: str
    product: dict[str, Any] | None = None  # PRODUCT_FIELDS
    product_version: int = 0
    available: int | None = None
    stock_version: int = 0
    deleted: bool = False


def merge(current: Document | None, change: Change) -> Document | None:
    """The document after ``change``, or None when the change is not newer than what the index holds."""
    doc = current or Document(change.product_id)
    changed = False
    if change.deleted:
        if change.product_version > doc.product_version:
            doc, changed = replace(doc, product_version=change.product_version, deleted=True), True
    elif change.product is not None and change.product_version > doc.product_version:
        values = {k: change.product[k] for k in PRODUCT_FIELDS if k in change.product}
        doc, changed = replace(doc, **values, product_version=change.product_version, deleted=False), True
    if change.stock_version > doc.stock_version and change.available is not None:
        doc, changed = replace(doc, available=change.available, stock_version=change.stock_version), True
    return doc if changed else None


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class FacetCount:
    value: str
    count: int


@dataclass(frozen=True)
class SearchResult:
    items: list[Document]
    total: int
    facets: dict[str, list[FacetCount]]


@dataclass(frozen=True)
class Suggestion:
    text: str
    product_id: str
