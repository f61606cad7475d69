"""What the routes depend on, as Annotated aliases."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from services.order.ports import Orders
from services.order.settings import OrderSettings


def _orders(request: Request) -> Orders:
    return request.app.state.orders


def _settings(request: Request) -> OrderSettings:
    return request.app.state.settings


OrdersDep = Annotated[Orders, Depends(_orders)]
SettingsDep = Annotated[OrderSettings, Depends(_settings)]
