"""The services the saga calls, over their internal HTTP APIs (docs/commerce-core.md): one adapter per port.

Every call has a timeout; idempotent ones are retried by ``services.common.http``. Every
write is idempotent on the callee's side by an id the saga derives from the checkout, so
a retried or resumed step never doubles a reservation, an order or a charge.
"""

from __future__ import annotations

from typing import Any

import httpx

from services.checkout.domain import Checkout, Reason, StepFailed
from services.common import http


class HttpService:
    """One downstream service's internal API through a pooled client."""

    def __init__(self, client: httpx.AsyncClient):
        self.client = client

    async def call(self, method: str, url: str, ok: tuple[int, ...] = (200, 201), **kw: Any) -> httpx.Response:
        """One call; a transport failure or an unexpected status is an ``UNAVAILABLE`` step failure."""
        where = f"{method} {self.client.base_url}{url}"
        try:
            response = await http.request(self.client, method, url, **kw)
        except httpx.HTTPError as exc:
            raise StepFailed(Reason.UNAVAILABLE, f"{where}: {type(exc).__name__}") from None
        if response.status_code not in ok:
            raise StepFailed(Reason.UNAVAILABLE, f"{where} answered {response.status_code}: {_detail(response)}")
        return response


class HttpProfiles(HttpService):
    async def email_of(self, sub: str) -> str | None:
        response = await self.call("GET", f"/internal/profiles/{sub}", ok=(200, 404))
        return (response.json().get("email") or None) if response.status_code == 200 else None


class HttpCart(HttpService):
    async def priced_cart(self, co: Checkout) -> dict[str, Any]:
        return (await self.call("GET", f"/internal/carts/users/{co.customer_sub}")).json()

    async def remove_bought(self, co: Checkout) -> None:
        body = {"lines": co.bought()}
        await self.call("POST", f"/internal/carts/users/{co.customer_sub}/remove-bought", json=body)


class HttpInventory(HttpService):
    async def reserve(self, co: Checkout, ttl_s: int) -> None:
        lines = [{"product_id": line["product_id"], "quantity": line["quantity"]} for line in co.lines]
        response = await self.call(
            "PUT", f"/internal/inventory/reservations/{co.reservation_id}",
            ok=(200, 201, 409), json={"lines": lines, "ttl_s": ttl_s},
        )  # fmt: skip
        if response.status_code == 409:
            raise StepFailed(Reason.OUT_OF_STOCK, _detail(response))

    async def commit_stock(self, co: Checkout) -> None:
        await self.call("POST", f"/internal/inventory/reservations/{co.reservation_id}/commit")

    async def release_stock(self, co: Checkout) -> None:
        path = f"/internal/inventory/reservations/{co.reservation_id}/release"
        await self.call("POST", path, ok=(200, 201, 404, 409))


class HttpOrders(HttpService):
    async def create_order(self, co: Checkout) -> None:
        body = {
            "order_id": co.order_id, "customer_sub": co.customer_sub, "email": co.email, "lines": co.lines,
            "currency": co.currency, "subtotal_minor": co.subtotal_minor, "shipping_minor": co.shipping_minor,
            "total_minor": co.total_minor, "shipping_address": co.shipping_address, "checkout_id": co.checkout_id,
        }  # fmt: skip
        await self.call("POST", "/internal/orders", json=body)

    async def confirm_order(self, co: Checkout) -> None:
        await self.call("POST", f"/internal/orders/{co.order_id}/confirm", json={"payment_id": co.payment_id})

    async def cancel_order(self, co: Checkout, reason: str) -> None:
        path = f"/internal/orders/{co.order_id}/cancel"
        await self.call("POST", path, ok=(200, 201, 404, 409), json={"reason": reason})


class HttpPayments(HttpService):
    async def authorize(self, co: Checkout) -> str:
        body = {
            "idempotency_key": co.payment_key, "order_id": co.order_id, "amount_minor": co.total_minor,
            "currency": co.currency, "customer_sub": co.customer_sub, "payment_method": co.payment_method,
        }  # fmt: skip
        response = await self.call("POST", "/internal/payments/authorize", ok=(200, 201, 504), json=body)
        if response.status_code == 504:
            raise StepFailed(Reason.PAYMENT_TIMEOUT, "the payment provider did not answer in time")
        payment = response.json()
        if payment["status"] != "authorized":
            raise StepFailed(Reason.PAYMENT_DECLINED, payment.get("reason") or "the payment was declined")
        return str(payment["payment_id"])

    async def capture(self, co: Checkout) -> None:
        await self.call("POST", f"/internal/payments/{co.payment_id}/capture")

    async def void_payments(self, co: Checkout) -> None:
        listing = await self.call("GET", "/internal/payments", params={"order_id": co.order_id})
        for payment in listing.json().get("items", []):
            status = payment["status"]
            if status in ("pending", "authorized", "failed"):  # failed: a timed-out hold may exist
                # A 409 is a payment beyond voiding (declined, or voided meanwhile): nothing held. For one that
                # was pending it may be its authorization still in flight: not done, the sweeper tries again.
                done = (200, 201) if status == "pending" else (200, 201, 409)
                await self.call("POST", f"/internal/payments/{payment['payment_id']}/void", ok=done)


def _detail(response: httpx.Response) -> str:
    try:
        return str(response.json().get("detail", response.text[:200]))
    except ValueError:
        return response.text[:200]
