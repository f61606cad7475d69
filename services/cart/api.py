"""Routes of the cart: /cart for shoppers (through the gateway), /internal/carts for checkout."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, Response

from services.cart.deps import SESSION_HEADER, CartDep, IfMatch, OwnerDep, ProductId, Session, Sub
from services.cart.domain import Cart, Product
from services.cart.schemas import AddItem, Bought, SetQuantity
from services.cart.service import CartService, Owner
from services.common.errors import Conflict, Invalid, NotFound, PreconditionFailed, Unavailable
from services.common.identity import User
from services.common.openapi import errors

router = APIRouter(prefix="/cart", tags=["cart"])
internal = APIRouter(prefix="/internal/carts", tags=["internal"])


async def answer(
    cart: CartService, current: Cart, owner: Owner, response: Response, known: Mapping[str, Product] | None = None
) -> dict[str, Any]:
    """The priced cart, its version as the ETag, and the guest session (new or kept) in its header."""
    response.headers["ETag"] = f'"{current.version}"'
    if owner.session_id:
        response.headers[SESSION_HEADER] = owner.session_id
    return await cart.view(current, known)


@router.get("", summary="The cart: current prices, availability, totals", responses=errors(Unavailable))
async def get_cart(cart: CartDep, owner: OwnerDep, response: Response) -> dict[str, Any]:
    return await answer(cart, await cart.get(owner), owner, response)


@router.post(
    "/items",
    summary="Add units of a product (stock and price checked against the catalog)",
    responses=errors(
        Conflict,
        PreconditionFailed,
        Unavailable,
        _409="out of stock, or the cart is contended",
        _503="the catalog did not answer",
    ),
)
async def add_item(
    body: AddItem, cart: CartDep, owner: OwnerDep, if_match: IfMatch, response: Response
) -> dict[str, Any]:
    current, known = await cart.add(owner, body.product_id, body.quantity, if_match)
    return await answer(cart, current, owner, response, known)


@router.put(
    "/items/{product_id}",
    summary="Set the quantity of a product (0 removes it)",
    responses=errors(
        Conflict,
        PreconditionFailed,
        Unavailable,
        _409="out of stock, or the cart is contended",
        _503="the catalog did not answer",
    ),
)
async def set_item(
    product_id: ProductId, body: SetQuantity, cart: CartDep, owner: OwnerDep, if_match: IfMatch, response: Response
) -> dict[str, Any]:
    return await answer(cart, await cart.set(owner, product_id, body.quantity, if_match), owner, response)


@router.delete(
    "/items/{product_id}",
    summary="Remove a product",
    responses=errors(NotFound, Conflict, PreconditionFailed, Unavailable, _404="not in the cart"),
)
async def remove_item(
    product_id: ProductId, cart: CartDep, owner: OwnerDep, if_match: IfMatch, response: Response
) -> dict[str, Any]:
    return await answer(cart, await cart.remove(owner, product_id, if_match), owner, response)


@router.delete("", summary="Empty the cart", responses=errors(Conflict, PreconditionFailed, Unavailable))
async def clear(cart: CartDep, owner: OwnerDep, response: Response) -> dict[str, Any]:
    return await answer(cart, await cart.clear(owner), owner, response)


@router.post(
    "/merge",
    summary="Move the guest cart of X-Cart-Session into the signed-in user's cart",
    responses=errors(Conflict, Unavailable),
)
async def merge(cart: CartDep, user: User, response: Response, session: Session = None) -> dict[str, Any]:
    if not session:
        raise Invalid(f"send the guest session in {SESSION_HEADER}", field=SESSION_HEADER)
    owner = await cart.owner(user, None)
    return await answer(cart, await cart.merge(user, session), owner, response)


@internal.get("/users/{sub}", summary="A user's cart priced now (for checkout)", responses=errors(Unavailable))
async def internal_get(sub: Sub, cart: CartDep) -> dict[str, Any]:
    return await cart.view(await cart.of_user(sub))


@internal.post(
    "/users/{sub}/remove-bought",
    summary="Take the units a checkout bought out of a user's cart",
    responses=errors(Conflict, Unavailable),
)
async def internal_remove_bought(sub: Sub, body: Bought, cart: CartDep) -> dict[str, Any]:
    return await cart.view(await cart.remove_bought(sub, body.lines))
