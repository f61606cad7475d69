"""Who gets which e-mail and what it says: the notification service's rules and templates, without servers."""

from __future__ import annotations

import pytest

from reference.events import new_event
from services.notification import domain
from services.notification.adapters.templates import JinjaTemplates

XSS = "<script>alert(1)</script> & co"


def confirmed(**data):
    base = {
        "order_id": "o-1", "customer_sub": "sub-1", "email": "ann@example.com", "currency": "EUR", "total_minor": 1000,
        "lines": [{"product_id": "p1", "name": XSS, "quantity": 1, "unit_price_minor": 1000}],
        "status": "confirmed",
    }  # fmt: skip
    return new_event("OrderConfirmed", source="order", subject="o-1", data=base | data)


@pytest.mark.parametrize(
    ("minor", "currency", "shown"),
    [(123456, "EUR", "EUR 1,234.56"), (5, "usd", "USD 0.05"), (500, "JPY", "JPY 500"), (1234, "KWD", "KWD 1.234")],
)
def test_amounts_are_shown_in_their_currencys_minor_unit(minor, currency, shown):
    assert domain.money(minor, currency) == shown


def test_a_payment_event_uses_the_address_learned_from_its_order():
    failed = new_event(
        "PaymentFailed", source="payment", subject="pay-1",
        data={"payment_id": "pay-1", "order_id": "o-1", "amount_minor": 1000, "currency": "EUR"},
    )  # fmt: skip
    notice = domain.notice_for(failed, domain.Contact("o-1", "sub-1", "ann@example.com"))
    assert (notice.to, notice.customer_sub, notice.skip_reason) == ("ann@example.com", "sub-1", None)
    assert domain.notice_for(failed, None).skip_reason == "no e-mail address is known for order o-1"


def test_an_event_outside_the_subscription_is_refused():
    with pytest.raises(domain.NotSubscribed, match="OrderPlaced"):
        domain.notice_for(new_event("OrderPlaced", source="order", subject="o-1", data=confirmed().data), None)


def test_html_is_escaped_and_text_is_not():
    notice = domain.notice_for(confirmed(), None)
    email = JinjaTemplates(shop_name="shop", shop_url="http://shop").render(notice.template, notice.to, notice.values)
    assert email.subject == "Your order o-1 is confirmed"
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; co" in email.html
    assert "<script>" not in email.html
    assert "1 x <script>alert(1)</script> & co at EUR 10.00 = EUR 10.00" in email.text
    assert "http://shop/orders/o-1" in email.text


def test_every_template_renders_for_its_event():
    templates = JinjaTemplates(shop_name="shop", shop_url="http://shop")
    for event_type, template in domain.TEMPLATES.items():
        if event_type.startswith("Order"):
            event = new_event(event_type, source="order", subject="o-1", data=confirmed().data)
        else:
            data = {"payment_id": "p", "order_id": "o-1", "amount_minor": 1, "currency": "EUR", "email": "a@b.example"}
            event = new_event(event_type, source="payment", subject="p", data=data)
        notice = domain.notice_for(event, None)
        email = templates.render(template, notice.to, notice.values)
        assert "o-1" in email.subject
        assert "\n" not in email.subject
        assert email.html.lstrip().startswith("<!doctype html>")
