"""Request bodies of the catalog API: every bound a field has is checked here, before any write."""

from __future__ import annotations

import math
import re
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
)

from services.catalog.domain import ID_PATTERN, SLUG_PATTERN
from services.common.types import INT64_MAX, INT64_MIN, integer, name, prose, text

Name = name(max_length=200)
CategoryName = name(max_length=120)
Description = prose(max_length=5000)
Sku = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")
]
Slug = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=SLUG_PATTERN)]
ProductId = Annotated[str, StringConstraints(pattern=ID_PATTERN)]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
Price = Annotated[integer(ge=0, le=10**12), Field(description="integer minor units (cents)")]
Quantity = integer(ge=0, le=10**9)

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _attributes(value: dict[str, Any]) -> dict[str, Any]:
    """Flat facts shoppers filter on: at most 30, keys up to 40 characters, scalar values (text up to 200)."""
    if len(value) > 30:
        raise ValueError("at most 30 attributes")
    for key, item in value.items():
        if not 1 <= len(key) <= 40:
            raise ValueError(f"attribute names are 1 to 40 characters: {key[:50]!r}")
        if isinstance(item, str) and len(item) > 200:
            raise ValueError(f"{key}: at most 200 characters")
        if any(_CONTROL.search(s) for s in (key, item) if isinstance(s, str)):
            raise ValueError(f"{key[:50]!r}: control characters are not allowed")
        if isinstance(item, int) and not INT64_MIN <= item <= INT64_MAX:
            raise ValueError(f"{key}: numbers are at most 64-bit integers")
        if isinstance(item, float) and not math.isfinite(item):
            raise ValueError(f"{key}: numbers are finite")
        if item is None or not isinstance(item, str | int | float | bool):
            raise ValueError(f"{key}: a value is text, a number or true/false")
    return value


Attributes = Annotated[dict[str, Any], AfterValidator(_attributes)]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CategoryIn(Body):
    slug: Slug
    name: CategoryName


class ProductIn(Body):
    id: ProductId | None = Field(None, description="stable id; one is made when omitted")
    sku: Sku
    name: Name
    description: Description = ""
    price_minor: Price
    currency: Currency = "USD"
    category: Slug
    attributes: Attributes = Field(default_factory=dict)
    stock: Quantity = 0


class ProductPatch(Body):
    """A JSON merge patch of a product: the fields given are changed; none may be null."""

    sku: Sku | None = None
    name: Name | None = None
    description: Description | None = None
    price_minor: Price | None = None
    currency: Currency | None = None
    category: Slug | None = None
    attributes: Attributes | None = None

    @field_validator("*", mode="before")
    @classmethod
    def not_null(cls, value: Any) -> Any:
        if value is None:  # only an explicit null reaches here: defaults are not validated
            raise ValueError("may not be null")
        return value

    def changes(self) -> dict[str, Any]:
        return self.model_dump(exclude_unset=True)


class StockIn(Body):
    on_hand: Quantity


class LineIn(Body):
    product_id: text(min_length=1, max_length=64)
    quantity: integer(ge=1, le=10_000)


class ReservationIn(Body):
    lines: Annotated[list[LineIn], Field(min_length=1, max_length=100)]
    ttl_s: integer(ge=1, le=86_400) | None = Field(None, description="default CATALOG_RESERVATION_TTL_S")
