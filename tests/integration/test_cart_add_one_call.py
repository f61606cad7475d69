"""Adding to a cart is one conditional UpdateItem in the usual case, and every other case ends as the read-modify-write
would have ended it (issue 13), against the real emulator's condition expressions."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.cart.adapters.dynamodb import DynamoCarts
from services.cart.domain import Cart, OutOfStock, Product, StaleVersion
from services.cart.ports import CartStore, Catalog
from services.cart.service import CartService, Owner
from services.cart.settings import CartSettings
from services.common.errors import DomainError, Invalid

TTL_S = 3600
STOCK = {"mug": 5, "tee": 50, "pan": 0, "cup": 20, "bowl": 20}


class Shelf(Catalog):
    """The catalog port answering from a dict: these tests are about the cart's store, not the catalog."""

    def __init__(self, stock: dict[str, int]):
        self.stock = stock

    async def products(self, product_ids: Iterable[str]) -> dict[str, Product]:
        return {p: Product(p, p, 100, "EUR", self.stock[p]) for p in product_ids if p in self.stock}


class ReadFirst(DynamoCarts):
    """The store as it was before issue 13: every add and set reads, then saves (the port's default)."""

    write_line = CartStore.write_line


@dataclass
class Rig:
    store: DynamoCarts
    service: CartService
    calls: list[str]

    def owner(self, name: str) -> Owner:
        return Owner(f"user#{name}", TTL_S)

    def put(self, name: str, lines: dict[str, int], version: int = 3, expires_in: int = TTL_S, **extra) -> None:
        """Store a cart item as a write would have left it (lines at 0 included, as ``take`` leaves them)."""
        item = {"cart_id": f"user#{name}", "version": version, "expires_at": int(time.time()) + expires_in, **extra}
        if lines is not None:
            item["lines"] = {p: Decimal(q) for p, q in lines.items()}
        self.store.table.put_item(Item=item)
        self.calls.clear()

    def stored(self, name: str) -> dict:
        item = self.store.table.get_item(Key={"cart_id": f"user#{name}"}, ConsistentRead=True)["Item"]
        self.calls.clear()
        return item


def _rig(provisioned, aws, store_class=DynamoCarts, **limits) -> Rig:
    store = store_class(provisioned.tables["carts"], aws.region)
    calls: list[str] = []
    store.table.meta.client.meta.events.register("before-call.dynamodb", lambda model, **_: calls.append(model.name))
    settings = CartSettings(write_retries=12, **({"max_lines": 3, "max_quantity": 9} | limits))
    return Rig(store, CartService(store, None, Shelf(STOCK), settings), calls)  # type: ignore[arg-type]


@pytest.fixture
def rig(provisioned, aws) -> Rig:
    return _rig(provisioned, aws)


async def test_adding_to_a_line_of_a_stored_cart_is_one_update_and_no_read(rig):
    rig.put("a", {"tee": 2})
    before = int(time.time())
    cart, _ = await rig.service.add(rig.owner("a"), "tee", 3, None)
    assert (cart.lines, cart.version) == ({"tee": 5}, 4)
    assert rig.calls == ["UpdateItem"]
    item = rig.stored("a")
    assert item["lines"] == {"tee": 5}
    assert item["version"] == 4
    assert int(item["updated_at"]) >= before
    assert int(item["expires_at"]) >= before + TTL_S


async def test_a_new_product_in_a_cart_with_room_and_a_line_left_at_zero_are_one_update(rig):
    rig.put("a", {"tee": 2, "mug": 0})  # checkout took the mug out: a key at 0 is no line
    cart, _ = await rig.service.add(rig.owner("a"), "cup", 1, None)
    assert (cart.lines, rig.calls) == ({"tee": 2, "cup": 1}, ["UpdateItem"])
    cart, _ = await rig.service.add(rig.owner("a"), "mug", 2, None)
    assert (cart.lines, cart.version) == ({"tee": 2, "cup": 1, "mug": 2}, 5)
    assert rig.calls == ["UpdateItem", "UpdateItem"]


async def test_setting_a_quantity_is_one_update_too(rig):
    rig.put("a", {"tee": 2})
    cart = await rig.service.set(rig.owner("a"), "tee", 7, None)
    assert (cart.lines, cart.version, rig.calls) == ({"tee": 7}, 4, ["UpdateItem"])


async def test_a_new_cart_is_written_by_the_fallback_without_a_read(rig):
    cart, _ = await rig.service.add(rig.owner("new"), "tee", 2, None)
    assert (cart.lines, cart.version) == ({"tee": 2}, 1)
    assert rig.calls == ["UpdateItem", "PutItem"], "the failed condition's item is the read"


async def test_an_expired_cart_counts_as_empty_and_is_replaced(rig):
    rig.put("old", {"tee": 4, "mug": 1}, version=7, expires_in=-1)
    cart, _ = await rig.service.add(rig.owner("old"), "tee", 1, None)
    assert (cart.lines, cart.version) == ({"tee": 1}, 8)
    assert rig.calls == ["UpdateItem", "PutItem"]
    assert rig.stored("old")["lines"] == {"tee": 1}


async def test_an_item_without_lines_falls_back(rig):
    rig.put("bare", None)
    cart, _ = await rig.service.add(rig.owner("bare"), "tee", 1, None)
    assert (cart.lines, cart.version) == ({"tee": 1}, 4)


async def test_more_than_the_stock_is_the_same_409_and_changes_nothing(rig):
    rig.put("a", {"mug": 3})
    with pytest.raises(OutOfStock) as short:
        await rig.service.add(rig.owner("a"), "mug", 3, None)
    assert (short.value.field, short.value.extensions.get("available")) == ("quantity", 5)
    with pytest.raises(OutOfStock):
        await rig.service.add(rig.owner("a"), "pan", 1, None)
    assert rig.calls == ["UpdateItem", "GetItem"], "a sure refusal is not even tried as a write"
    with pytest.raises(Invalid) as ghost:
        await rig.service.add(rig.owner("a"), "ghost", 1, None)
    assert ghost.value.field == "product_id"
    assert rig.stored("a")["lines"] == {"mug": 3}
    assert rig.stored("a")["version"] == 3


async def test_beyond_the_per_product_limit_is_refused_not_clamped(rig):
    rig.put("a", {"tee": 8})
    with pytest.raises(Invalid) as too_many:
        await rig.service.add(rig.owner("a"), "tee", 2, None)
    assert too_many.value.field == "quantity"
    cart, _ = await rig.service.add(rig.owner("a"), "tee", 1, None)
    assert cart.lines == {"tee": 9}, "up to the limit itself is fine"


async def test_a_full_cart_refuses_a_new_product_and_lines_at_zero_leave_room(rig):
    rig.put("full", {"tee": 1, "mug": 1, "cup": 1})
    with pytest.raises(Invalid) as wide:
        await rig.service.add(rig.owner("full"), "bowl", 1, None)
    assert wide.value.field == "product_id"
    cart, _ = await rig.service.add(rig.owner("full"), "cup", 1, None)
    assert (cart.lines["cup"], rig.calls[-1]) == (2, "UpdateItem"), "a product already there needs no new line"
    rig.put("zeros", {"tee": 1, "mug": 0, "cup": 0})
    cart, _ = await rig.service.add(rig.owner("zeros"), "bowl", 1, None)
    assert cart.lines == {"tee": 1, "bowl": 1}
    assert rig.calls == ["UpdateItem", "PutItem"], "a map full of keys defers; the read-modify-write counts lines"


async def test_if_match_adds_in_one_update_at_that_version_and_412s_at_another(rig):
    rig.put("a", {"tee": 1}, version=3)
    cart, _ = await rig.service.add(rig.owner("a"), "tee", 1, 3)
    assert (cart.version, rig.calls) == (4, ["UpdateItem"])
    with pytest.raises(StaleVersion):
        await rig.service.add(rig.owner("a"), "tee", 1, 3)
    assert rig.stored("a")["lines"] == {"tee": 2}


@pytest.mark.parametrize("stored", [True, False], ids=["stored-cart", "new-cart"])
async def test_ten_concurrent_adds_of_one_line_each_count_once(provisioned, aws, stored):
    rig = _rig(provisioned, aws, max_quantity=99)
    if stored:
        rig.put("busy", {"tee": 1}, version=0)
    await asyncio.gather(*(rig.service.add(rig.owner("busy"), "tee", 1, None) for _ in range(10)))
    item = rig.stored("busy")
    assert item["lines"] == {"tee": 10 + stored}
    assert item["version"] == 10


@st.composite
def cases(draw) -> tuple:
    """A stored cart or none (lines at 0 as checkout leaves them; a few expired, a few past the line limit), and an
    add (or a set) to it: mostly of a product it holds, mostly without If-Match."""
    stored = draw(
        st.none()
        | st.tuples(
            st.dictionaries(st.sampled_from(sorted(STOCK)), st.integers(0, 9), max_size=draw(st.sampled_from([3, 4]))),
            st.integers(0, 2),
            st.sampled_from([False, False, False, True]),  # expired
        )
    )
    held = sorted(stored[0]) if stored and stored[0] else []
    product = draw(st.sampled_from(held) if held and draw(st.booleans()) else st.sampled_from([*STOCK, "ghost"]))
    if_match = draw(st.sampled_from([None, None, None, 0, 1, 2]))
    return stored, (draw(st.sampled_from(["add", "add", "set"])), product, draw(st.integers(0, 8)), if_match)


def _outcome(go) -> tuple:
    """What the shopper sees of a change: the refusal (its class, field and detail), or the cart's lines and version."""
    try:
        cart = asyncio.run(go())
    except DomainError as refused:
        return type(refused).__name__, refused.field, refused.detail
    return cart.lines, cart.version


def test_random_adds_and_sets_end_as_the_read_modify_write_ends_them(provisioned, aws):
    fast, slow = _rig(provisioned, aws), _rig(provisioned, aws, ReadFirst)

    @given(case=cases())
    @settings(max_examples=50, deadline=None, suppress_health_check=list(HealthCheck))
    def check(case) -> None:
        stored, change = case
        name = f"prop-{time.time_ns()}"
        if stored is not None:
            lines, version, expired = stored
            for rig in (fast, slow):
                rig.put(f"{rig is fast}-{name}", lines, version, -1 if expired else TTL_S)
        ends = [_outcome(lambda rig=rig: _change(rig, f"{rig is fast}-{name}", *change)) for rig in (fast, slow)]
        assert ends[0] == ends[1]
        after = [asyncio.run(rig.store.get(f"user#{rig is fast}-{name}")) for rig in (fast, slow)]
        assert (after[0].lines, after[0].version) == (after[1].lines, after[1].version)

    check()


async def _change(rig: Rig, name: str, verb: str, product: str, quantity: int, if_match: int | None) -> Cart:
    if verb == "set":
        return await rig.service.set(rig.owner(name), product, quantity, if_match)
    cart, _ = await rig.service.add(rig.owner(name), product, max(quantity, 1), if_match)
    return cart
