"""The cart's rules without servers: limits, merging, stock checks and pricing, each refusal naming its field."""

from __future__ import annotations

import pytest

from services.cart.deps import _if_match
from services.cart.domain import Cart, Limits, OutOfStock, Product, check_stock, most_units, priced
from services.common.errors import Invalid, NotFound
from services.common.problems import from_error

LIMITS = Limits(max_lines=2, max_quantity=5)
MUG = Product("mug", "Mug", 1250, "EUR", available=3)


def test_quantities_and_lines_are_bounded_naming_the_field():
    cart = Cart("guest#s").add("mug", 2, LIMITS)
    with pytest.raises(Invalid) as too_many:
        cart.add("mug", 4, LIMITS)
    assert too_many.value.field == "quantity"
    with pytest.raises(Invalid) as too_wide:
        cart.add("tee", 1, LIMITS).add("pan", 1, LIMITS)
    assert too_wide.value.field == "product_id"
    with pytest.raises(NotFound):
        cart.remove("tee")


def test_a_merge_adds_up_to_the_limit_and_keeps_the_line_limit():
    mine = Cart("user#a", {"mug": 4})
    guest = Cart("guest#s", {"mug": 3, "tee": 1, "pan": 1})
    assert mine.merged_with(guest, LIMITS).lines == {"mug": 5, "tee": 1}


def test_more_than_the_stock_is_a_409_saying_how_many_there_are():
    with pytest.raises(OutOfStock) as short:
        check_stock(MUG, "mug", 4)
    problem = from_error(short.value)
    assert problem.status_code == 409
    assert b'"available":3' in problem.body
    with pytest.raises(Invalid):
        check_stock(None, "ghost", 1)


def test_a_cart_is_ready_for_checkout_only_when_every_line_can_be_bought():
    assert priced(Cart("c", {"mug": 2}), {"mug": MUG})["checkout_ready"] is True
    short = priced(Cart("c", {"mug": 4}), {"mug": MUG})
    assert (short["checkout_ready"], short["problems"]) == (
        False,
        [{"product_id": "mug", "problem": "only 3 available"}],
    )
    gone = priced(Cart("c", {"tee": 1}), {})
    assert gone["problems"] == [{"product_id": "tee", "problem": "no longer sold"}]


def test_if_match_takes_the_etag_as_sent_and_refuses_anything_else():
    assert _if_match('"3"') == 3
    assert _if_match('W/"7"') == 7
    assert _if_match(None) is None
    with pytest.raises(Invalid) as bad:
        _if_match("yesterday")
    assert bad.value.field == "If-Match"


@pytest.mark.parametrize("available", [0, 3, 5, 9])
def test_most_units_is_exactly_what_the_stock_check_and_the_quantity_limit_accept(available):
    product = Product("mug", "Mug", 1250, "EUR", available=available)
    for product_or_none in (product, None):
        most = most_units(product_or_none, LIMITS)
        for n in range(1, 12):
            try:
                check_stock(product_or_none, "mug", n)
                Cart("c").set("mug", n, LIMITS)
            except (Invalid, OutOfStock):
                accepted = False
            else:
                accepted = True
            assert accepted == (n <= most), (available, product_or_none, n)
