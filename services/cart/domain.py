"""Carts as plain data: lines, quantities, limits, merging and pricing rules. No I/O here.

Refusals are ``services.common.errors`` classes (their HTTP status is theirs), each naming the field at fault.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from services.common.errors import Conflict, Invalid, NotFound, PreconditionFailed


class OutOfStock(Conflict):
    """More units than the catalog has; ``available`` says how many there are."""


class StaleVersion(PreconditionFailed):
    """The client's ``If-Match`` names a version the cart no longer has: the race is the client's to resolve."""

    def __init__(self, detail: str):
        super().__init__(detail, field="If-Match")


class Contended(Conflict):
    """Too many writers at once: every retry lost its optimistic-concurrency race."""


def user_cart_id(sub: str) -> str:
    return f"user#{sub}"


def guest_cart_id(session_id: str) -> str:
    return f"guest#{session_id}"


@dataclass(frozen=True, slots=True)
class Cart:
    """A cart: quantity per product id, and the version its stored copy had when read (0: never stored)."""

    cart_id: str
    lines: dict[str, int] = field(default_factory=dict)
    version: int = 0

    def add(self, product_id: str, quantity: int, limits: Limits) -> Cart:
        return self.set(product_id, self.lines.get(product_id, 0) + quantity, limits)

    def set(self, product_id: str, quantity: int, limits: Limits) -> Cart:
        if quantity < 0:
            raise Invalid("quantity may not be negative", field="quantity")
        if quantity > limits.max_quantity:
            raise Invalid(f"at most {limits.max_quantity} units of one product", field="quantity")
        lines = dict(self.lines)
        if quantity == 0:
            lines.pop(product_id, None)
        else:
            lines[product_id] = quantity
        if len(lines) > limits.max_lines:
            raise Invalid(f"a cart holds at most {limits.max_lines} different products", field="product_id")
        return replace(self, lines=lines)

    def remove(self, product_id: str) -> Cart:
        if product_id not in self.lines:
            raise NotFound(f"product {product_id} is not in the cart", field="product_id")
        return replace(self, lines={p: q for p, q in self.lines.items() if p != product_id})

    def merged_with(self, other: Cart, limits: Limits) -> Cart:
        """This cart plus every line of ``other``; quantities add up to the per-product limit."""
        lines = dict(self.lines)
        for product_id, quantity in other.lines.items():
            lines[product_id] = min(lines.get(product_id, 0) + quantity, limits.max_quantity)
        return replace(self, lines=dict(list(lines.items())[: limits.max_lines]))

    def cleared(self) -> Cart:
        return replace(self, lines={})


@dataclass(frozen=True, slots=True)
class Limits:
    max_lines: int
    max_quantity: int


@dataclass(frozen=True, slots=True)
class Product:
    """What the catalog says of a product now."""

    product_id: str
    name: str
    price_minor: int
    currency: str
    available: int
    image_url: str | None = None


def priced(cart: Cart, products: dict[str, Product]) -> dict:
    """The cart as the shopper sees it: current prices, availability, a total per currency."""
    lines, totals, problems = [], {}, []
    for product_id, quantity in sorted(cart.lines.items()):
        product = products.get(product_id)
        if product is None:
            problems.append({"product_id": product_id, "problem": "no longer sold"})
            lines.append({"product_id": product_id, "quantity": quantity, "available": 0, "purchasable": False})
            continue
        short = quantity > product.available
        if short:
            problems.append({"product_id": product_id, "problem": f"only {product.available} available"})
        line_total = product.price_minor * quantity
        totals[product.currency] = totals.get(product.currency, 0) + line_total
        lines.append(
            {
                "product_id": product_id,
                "name": product.name,
                "quantity": quantity,
                "unit_price_minor": product.price_minor,
                "currency": product.currency,
                "line_total_minor": line_total,
                "available": product.available,
                "purchasable": not short,
                "image_url": product.image_url,
            }
        )
    return {
        "lines": lines,
        "totals_minor": totals,
        "item_count": sum(cart.lines.values()),
        "problems": problems,
        "checkout_ready": bool(lines) and not problems and len(totals) == 1,
    }


def check_stock(product: Product | None, product_id: str, wanted: int) -> None:
    """Refuse adding what the catalog does not have."""
    if product is None:
        raise Invalid(f"no product {product_id}", field="product_id")
    if wanted > product.available:
        raise OutOfStock(
            f"only {product.available} of {product_id} available, {wanted} wanted",
            field="quantity",
            available=product.available,
        )


def most_units(product: Product | None, limits: Limits) -> int:
    """The most units of a product a cart may hold after an add or a set: for every ``n >= 1``, ``check_stock(product,
    id, n)`` and ``Cart.set(id, n, limits)``'s quantity check both accept ``n`` exactly when ``n <= most_units``
    (0 for an unknown product: nothing is accepted). A store that writes a line without reading the cart
    (``CartStore.write_line``) bounds the line by it; keep it in step with those two rules."""
    return 0 if product is None else min(product.available, limits.max_quantity)


def expires_at(ttl_s: int, now: datetime | None = None) -> int:
    """The TTL attribute's value: epoch seconds."""
    return int((now or datetime.now(UTC)).timestamp()) + ttl_s
