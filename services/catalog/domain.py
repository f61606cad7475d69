"""The catalog's model and rules: plain dataclasses, no FastAPI, no boto3, no SQL."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from reference.services import STOCK_VISIBLE_S, service
from services.common import errors
from services.common.errors import DomainError

MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 24
IMAGE_TYPES = {"image/png": "png", "image/jpeg": "jpg", "image/svg+xml": "svg", "image/webp": "webp"}
ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{2,63}$"
SLUG_PATTERN = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
# Cache truth (issue 11): an answer that carries stock may be shared for the bound reference/ states; one that
# does not (listings, categories, image redirects: admin writes retire them) for the gateway's ceiling.
STOCK_MAX_AGE_S = STOCK_VISIBLE_S
LISTING_MAX_AGE_S = service("catalog").public_cache_s


class Sort(StrEnum):
    """The orders a listing can come in; ``id`` breaks ties so pages never overlap."""

    NAME = "name"
    PRICE = "price"
    PRICE_DESC = "-price"
    NEWEST = "newest"


class ReservationStatus(StrEnum):
    HELD = "held"
    COMMITTED = "committed"
    RELEASED = "released"
    EXPIRED = "expired"


# --------------------------------------------------------------------------- errors


class CatalogError(DomainError):
    """A rule of the catalog said no; the shared problem handler answers with the status of its class."""


class NotFound(CatalogError, errors.NotFound):
    """The product, category or reservation does not exist."""


class Invalid(CatalogError, errors.Invalid):
    """Well-formed input that breaks a rule (an unknown category, a bad image)."""


class Conflict(CatalogError, errors.Conflict):
    """The request clashes with the current state (a taken SKU, too little stock)."""


class InsufficientStock(Conflict):
    def __init__(self, product_id: str, requested: int, available: int):
        super().__init__(
            f"product {product_id} has {available} available, {requested} requested",
            field="lines",
            product_id=product_id,
            requested=requested,
            available=available,
        )


# --------------------------------------------------------------------------- model


@dataclass(frozen=True, slots=True)
class Answer:
    """A read's JSON body and how long it may be shared: ``max_age_s`` from when it was read, ``age_s`` ago."""

    body: bytes
    max_age_s: int
    age_s: float = 0.0


@dataclass(frozen=True, slots=True)
class Category:
    slug: str
    name: str


@dataclass(frozen=True, slots=True)
class NewProduct:
    """What the seed and the admin API write; ``stock`` becomes the inventory's ``on_hand``."""

    id: str
    sku: str
    name: str
    description: str
    price_minor: int
    currency: str
    category: str
    attributes: dict[str, Any] = field(default_factory=dict)
    stock: int = 0
    image_key: str | None = None
    created_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Page:
    number: int
    size: int

    @property
    def offset(self) -> int:
        return (self.number - 1) * self.size


@dataclass(frozen=True, slots=True)
class ReservationLine:
    product_id: str
    quantity: int


@dataclass(frozen=True, slots=True)
class Reservation:
    id: str
    status: ReservationStatus
    expires_at: datetime
    lines: tuple[ReservationLine, ...]


def merge_lines(lines: Iterable[ReservationLine]) -> tuple[ReservationLine, ...]:
    """One line per product, quantities added, sorted by product id.

    The sort is what keeps concurrent multi-line reservations free of deadlocks: every
    transaction locks inventory rows in the same order.
    """
    totals: dict[str, int] = {}
    for line in lines:
        totals[line.product_id] = totals.get(line.product_id, 0) + line.quantity
    return tuple(ReservationLine(p, q) for p, q in sorted(totals.items()))


def availability(on_hand: int, reserved: int) -> dict[str, Any]:
    available = max(on_hand - reserved, 0)
    return {"in_stock": available > 0, "available": available}


# --------------------------------------------------------------------------- images


def media_key(product_id: str, content_type: str) -> str:
    """The S3 object key of a product's image; CloudFront and the front door serve it at ``/<key>``."""
    return f"media/products/{product_id}.{IMAGE_TYPES[content_type]}"


def image_url(image_key: str | None) -> str | None:
    return f"/{image_key}" if image_key else None


_MAGIC = {
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
}
_SVG_DANGER = re.compile(rb"<script|<!entity|<foreignobject|javascript:|\son[a-z]+\s*=", re.IGNORECASE)


def check_image(content_type: str, data: bytes) -> None:
    """Refuse bytes that are not what their content type claims, and SVGs that could run script.

    The media bucket is served from the shop's own origin, so an SVG with script in it
    would be stored XSS.
    """
    if not data:
        raise Invalid("the image is empty", field="body")
    if content_type == "image/webp":
        ok = data[:4] == b"RIFF" and data[8:12] == b"WEBP"
    elif content_type == "image/svg+xml":
        head = data[:4096].lower()
        ok = b"<svg" in head
        if ok and _SVG_DANGER.search(data):
            raise Invalid("SVG images may not contain scripts, event handlers or entities", field="body")
    else:
        ok = data.startswith(_MAGIC[content_type])
    if not ok:
        raise Invalid(f"the body is not a valid {content_type} image", field="body")
