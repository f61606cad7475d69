"""The cart's use cases: whose cart a request means, and read-modify-write with optimistic concurrency."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from services.cart.domain import (
    Cart,
    Contended,
    Limits,
    Product,
    StaleVersion,
    check_stock,
    guest_cart_id,
    most_units,
    priced,
    user_cart_id,
)
from services.cart.ports import CartStore, Catalog, SessionStore, StaleCart
from services.cart.settings import CartSettings
from services.common.identity import Caller

Attempt = Callable[[], Awaitable[tuple[Cart, bool]]]


@dataclass(frozen=True)
class Owner:
    """Whose cart a request is about: a user's, or a guest session's (possibly just created)."""

    cart_id: str
    ttl_s: int
    session_id: str | None = None


class CartService:
    def __init__(self, carts: CartStore, sessions: SessionStore, catalog: Catalog, settings: CartSettings):
        self.carts, self.sessions, self.catalog, self.settings = carts, sessions, catalog, settings
        self.limits = Limits(settings.max_lines, settings.max_quantity)

    async def owner(self, caller: Caller | None, session_id: str | None) -> Owner:
        """The signed-in user's cart; else the guest session's, made anew when missing or expired."""
        if caller is not None:
            return Owner(user_cart_id(caller.sub), self.settings.user_ttl_s, session_id)
        if not (session_id and await self.sessions.valid(session_id)):
            session_id = await self.sessions.create(self.settings.guest_ttl_s)
        return Owner(guest_cart_id(session_id), self.settings.guest_ttl_s, session_id)

    async def view(self, cart: Cart, known: Mapping[str, Product] | None = None) -> dict:
        """The cart priced now; ``known`` holds products this request already read from the catalog."""
        known = {p: known[p] for p in cart.lines if known and p in known}
        missing = [p for p in cart.lines if p not in known]
        products = known | (await self.catalog.products(missing) if missing else {})
        return {"cart_id": cart.cart_id, "version": cart.version, **priced(cart, products)}

    async def get(self, owner: Owner) -> Cart:
        return await self.carts.get(owner.cart_id)

    async def of_user(self, sub: str) -> Cart:
        """A signed-in user's cart (checkout reads it through the internal route)."""
        return await self.carts.get(user_cart_id(sub))

    async def change(
        self, owner: Owner, op: Callable[[Cart], Cart], if_match: int | None = None, attempt: Attempt | None = None
    ) -> Cart:
        """Apply ``op`` to the stored cart and save it; on a lost race re-read and re-apply.

        ``attempt`` replaces the read: a store's one-write change (``CartStore.write_line``) that answers
        ``(cart, True)`` when it did the whole change, or ``(the stored cart, False)`` for ``op``; it is tried again
        after a lost race. With ``if_match`` (the version the client saw) a race is the client's to resolve: 412.
        """
        for _ in range(self.settings.write_retries):
            cart, done = await (attempt() if attempt else self._read(owner.cart_id))
            if done:
                return cart
            if if_match is not None and cart.version != if_match:
                raise StaleVersion(f"the cart is at version {cart.version}, not {if_match}")
            try:
                return await self.carts.save(op(cart), owner.ttl_s)
            except StaleCart:
                if if_match is not None:
                    raise StaleVersion("the cart changed meanwhile; read it again") from None
        raise Contended("the cart is being changed by too many requests at once; try again")

    async def add(
        self, owner: Owner, product_id: str, quantity: int, if_match: int | None
    ) -> tuple[Cart, dict[str, Product]]:
        """The cart with the units added, and the product as the catalog gave it (its view needs no second read)."""
        found = await self.catalog.products([product_id])
        product = found.get(product_id)

        def op(cart: Cart) -> Cart:
            check_stock(product, product_id, cart.lines.get(product_id, 0) + quantity)
            return cart.add(product_id, quantity, self.limits)

        def attempt() -> Awaitable[tuple[Cart, bool]]:  # one UpdateItem in the usual case, the read otherwise
            return self.carts.write_line(
                owner.cart_id, product_id, quantity, adding=True, if_match=if_match, **self._bounds(owner, product)
            )

        return await self.change(owner, op, if_match, attempt), found

    async def set(self, owner: Owner, product_id: str, quantity: int, if_match: int | None) -> Cart:
        product = (await self.catalog.products([product_id])).get(product_id) if quantity else None

        def op(cart: Cart) -> Cart:
            if quantity:
                check_stock(product, product_id, quantity)
            return cart.set(product_id, quantity, self.limits)

        def attempt() -> Awaitable[tuple[Cart, bool]]:
            return self.carts.write_line(
                owner.cart_id, product_id, quantity, adding=False, if_match=if_match, **self._bounds(owner, product)
            )

        return await self.change(owner, op, if_match, attempt)

    def _bounds(self, owner: Owner, product: Product | None) -> dict[str, int]:
        """What a one-write change needs of the rules: the most units of the product, the line limit, the TTL."""
        return {"most": most_units(product, self.limits), "max_lines": self.limits.max_lines, "ttl_s": owner.ttl_s}

    async def _read(self, cart_id: str) -> tuple[Cart, bool]:
        return await self.carts.get(cart_id), False

    async def remove(self, owner: Owner, product_id: str, if_match: int | None) -> Cart:
        return await self.change(owner, lambda cart: cart.remove(product_id), if_match)

    async def clear(self, owner: Owner) -> Cart:
        return await self.change(owner, Cart.cleared)

    async def merge(self, user: Caller, session_id: str) -> Cart:
        """Move a guest cart into the user's (at sign-in); the guest cart and session end."""
        guest = await self.carts.get(guest_cart_id(session_id)) if await self.sessions.valid(session_id) else None
        owner = Owner(user_cart_id(user.sub), self.settings.user_ttl_s)
        if guest is None or not guest.lines:
            return await self.carts.get(owner.cart_id)
        merged = await self.change(owner, lambda cart: cart.merged_with(guest, self.limits))
        await self.carts.delete(guest.cart_id)
        await self.sessions.end(session_id)
        return merged

    async def remove_bought(self, sub: str, bought: dict[str, int]) -> Cart:
        """After a checkout: take the units bought out of the user's cart, keeping anything added meanwhile."""
        owner = Owner(user_cart_id(sub), self.settings.user_ttl_s)
        taken = await self.carts.take(owner.cart_id, bought, owner.ttl_s)  # one write, no read, in the usual case
        if taken is not None:
            return taken

        def op(cart: Cart) -> Cart:
            lines = {p: q - bought.get(p, 0) for p, q in cart.lines.items()}
            return Cart(cart.cart_id, {p: q for p, q in lines.items() if q > 0}, cart.version)

        return await self.change(owner, op)
