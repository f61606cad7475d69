"""Routes of the cart: /cart for shoppers (through the gateway), /internal/carts for checkout."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Request, Response
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from services.cart.domain import Cart, user_cart_id
from services.cart.service import CartService, Owner
from services.common.identity import MaybeUser, User
from services.common.problems import Unprocessable

SESSION_HEADER = "X-Cart-Session"
ProductId = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")]
Sub = Annotated[str, Path(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:@-]+$")]
Session = Annotated[str | None, Header(alias=SESSION_HEADER, max_length=64)]
IfMatch = Annotated[str | None, Header(alias="If-Match", max_length=20)]

router = APIRouter(prefix="/cart", tags=["cart"])
internal = APIRouter(prefix="/internal/carts", tags=["internal"])


class AddItem(BaseModel):
    model_config = ConfigDict(extra="forbid")
    product_id: ProductId
    quantity: int = Field(1, gt=0, le=10_000)


class SetQuantity(BaseModel):
    model_config = ConfigDict(extra="forbid")
    quantity: int = Field(ge=0, le=10_000)


class Bought(BaseModel):
    model_config = ConfigDict(extra="forbid")
    lines: dict[ProductId, Annotated[int, Field(gt=0)]] = Field(max_length=100)


def service(request: Request) -> CartService:
    return request.app.state.cart


def version(if_match: str | None) -> int | None:
    if if_match is None:
        return None
    value = if_match.strip().removeprefix("W/").strip('"')
    if not value.isdigit():
        raise Unprocessable('If-Match must be the cart\'s ETag, e.g. "3"', field="If-Match")
    return int(value)


async def answer(svc: CartService, cart: Cart, owner: Owner, response: Response) -> dict[str, Any]:
    response.headers["ETag"] = f'"{cart.version}"'
    if owner.session_id:
        response.headers[SESSION_HEADER] = owner.session_id
    return await svc.view(cart)


@router.get("", summary="The cart: current prices, availability, totals")
async def get_cart(request: Request, response: Response, caller: MaybeUser, session: Session = None) -> dict[str, Any]:
    svc = service(request)
    owner = await svc.owner(caller, session)
    return await answer(svc, await svc.get(owner), owner, response)


@router.post("/items", summary="Add units of a product (stock and price checked against the catalog)")
async def add_item(
    body: AddItem,
    request: Request,
    response: Response,
    caller: MaybeUser,
    session: Session = None,
    if_match: IfMatch = None,
) -> dict[str, Any]:
    svc = service(request)
    owner = await svc.owner(caller, session)
    return await answer(svc, await svc.add(owner, body.product_id, body.quantity, version(if_match)), owner, response)


@router.put("/items/{product_id}", summary="Set the quantity of a product (0 removes it)")
async def set_item(
    product_id: ProductId, body: SetQuantity, request: Request, response: Response, caller: MaybeUser,
    session: Session = None, if_match: IfMatch = None,
) -> dict[str, Any]:  # fmt: skip
    svc = service(request)
    owner = await svc.owner(caller, session)
    return await answer(svc, await svc.set(owner, product_id, body.quantity, version(if_match)), owner, response)


@router.delete("/items/{product_id}", summary="Remove a product")
async def remove_item(
    product_id: ProductId, request: Request, response: Response, caller: MaybeUser, session: Session = None,
    if_match: IfMatch = None,
) -> dict[str, Any]:  # fmt: skip
    svc = service(request)
    owner = await svc.owner(caller, session)
    return await answer(svc, await svc.remove(owner, product_id, version(if_match)), owner, response)


@router.delete("", summary="Empty the cart")
async def clear(request: Request, response: Response, caller: MaybeUser, session: Session = None) -> dict[str, Any]:
    svc = service(request)
    owner = await svc.owner(caller, session)
    return await answer(svc, await svc.clear(owner), owner, response)


@router.post("/merge", summary="Move the guest cart of X-Cart-Session into the signed-in user's cart")
async def merge(request: Request, response: Response, user: User, session: Session = None) -> dict[str, Any]:
    if not session:
        raise Unprocessable(f"send the guest session in {SESSION_HEADER}", field=SESSION_HEADER)
    svc = service(request)
    owner = await svc.owner(user, None)
    return await answer(svc, await svc.merge(user, session), owner, response)


@internal.get("/users/{sub}", summary="A user's cart priced now (for checkout)")
async def internal_get(sub: Sub, request: Request) -> dict[str, Any]:
    svc = service(request)
    return await svc.view(await svc.carts.get(user_cart_id(sub)))


@internal.post("/users/{sub}/remove-bought", summary="Take the units a checkout bought out of a user's cart")
async def internal_remove_bought(sub: Sub, body: Bought, request: Request) -> dict[str, Any]:
    svc = service(request)
    return await svc.view(await svc.remove_bought(user_cart_id(sub), body.lines))
