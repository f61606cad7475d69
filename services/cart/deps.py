"""The cart routes' dependencies, as ``Annotated`` aliases: the service, whose cart a request means, If-Match."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Path, Request

from services.cart.schemas import ProductIdText
from services.cart.service import CartService, Owner
from services.common.errors import Invalid
from services.common.identity import MaybeUser

SESSION_HEADER = "X-Cart-Session"

Session = Annotated[str | None, Header(alias=SESSION_HEADER, max_length=64, pattern=r"^[\x21-\x7e]*$")]
ProductId = Annotated[ProductIdText, Path()]
Sub = Annotated[str, Path(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:@-]+$")]


def _cart(request: Request) -> CartService:
    return request.app.state.cart


CartDep = Annotated[CartService, Depends(_cart)]


async def _owner(cart: CartDep, caller: MaybeUser, session: Session = None) -> Owner:
    return await cart.owner(caller, session)


def _if_match(if_match: Annotated[str | None, Header(alias="If-Match", max_length=20)] = None) -> int | None:
    if if_match is None:
        return None
    value = if_match.strip().removeprefix("W/").strip('"')
    if not value.isdigit():
        raise Invalid('If-Match must be the cart\'s ETag, e.g. "3"', field="If-Match")
    return int(value)


OwnerDep = Annotated[Owner, Depends(_owner)]
IfMatch = Annotated[int | None, Depends(_if_match)]
