"""What the routes depend on, as Annotated aliases (the proxy route, a plain Starlette route, calls ``gateway``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from services.gateway.service import Gateway


def gateway(request: Request) -> Gateway:
    return request.app.state.gateway


GatewayDep = Annotated[Gateway, Depends(gateway)]
