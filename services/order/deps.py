"""What the routes depend on, as Annotated aliases reading ``request.app.state``."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from services.order.service import OrderService


def _service(request: Request) -> OrderService:
    return request.app.state.service


OrdersDep = Annotated[OrderService, Depends(_service)]
