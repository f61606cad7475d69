"""What the routes depend on, as Annotated aliases reading ``request.app.state``."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request

from services.checkout.service import CheckoutService


def _service(request: Request) -> CheckoutService:
    return request.app.state.service


CheckoutsDep = Annotated[CheckoutService, Depends(_service)]
IdempotencyKey = Annotated[
    str,
    Header(
        alias="Idempotency-Key",
        description="any unique string of 8-200 visible ASCII characters; the same key and body answer the same",
        min_length=8,
        max_length=200,
        pattern=r"^[\x21-\x7e]+$",
    ),
]
