"""The shopper corpus (tests/waf_corpus/shoppers.toml): what people type and send in a shop passes the web ACL."""

from __future__ import annotations

import json
from urllib.parse import quote_plus

import pytest
from edge_support import Case, load_shoppers

from localcloud.edge.waf import Evaluator, WafRequest
from reference.waf import WEB_ACL

SHOPPERS = load_shoppers()
EVALUATOR = Evaluator(WEB_ACL, rate_limit=10**9)


def test_the_shopper_corpus_has_the_inputs_the_issue_names() -> None:
    texts = " ".join(c.query + c.body.decode() for c in SHOPPERS)
    for needle in ("wine+glasses+%28set+of+4%29", "john%2Bor%40var.es", "style%3Dcolor", "Кроссовки", "<?xml"):
        assert needle in texts
    assert {c.category for c in SHOPPERS} == {"search", "json", "form"}


@pytest.mark.parametrize("case", SHOPPERS, ids=[c.id for c in SHOPPERS])
def test_no_shopper_input_is_blocked(case: Case) -> None:
    decision = EVALUATOR.evaluate(case.request())
    assert not decision.blocked, (decision.rule, decision.sub_rule, case.query or case.body[:200])


def test_the_load_harness_shoppers_and_what_faker_makes_of_people_in_18_locales_pass() -> None:
    """The load harness's shoppers are Faker's people (load/journeys): names, addresses, emails, random passwords."""
    faker = pytest.importorskip("faker")
    blocked = []
    sent = 0
    for locale in ("en_GB", "en_US", "fr_FR", "de_DE", "it_IT", "es_ES", "ja_JP", "ru_RU", "ar_AA", "zh_CN", "pt_BR",
                   "pl_PL", "nl_NL", "ga_IE", "he_IL", "ko_KR", "hi_IN", "tr_TR"):  # fmt: skip
        fake = faker.Faker(locale)
        fake.seed_instance(7)
        for _ in range(25):
            address = {"name": fake.name(), "line1": fake.street_address(), "city": fake.city(),
                       "postal_code": fake.postcode(), "country": "GB"}  # fmt: skip
            checkout = {"shipping_address": address, "payment_method": "pm_card_ok", "note": fake.text()}
            account = {"email": fake.email(), "password": fake.password(length=16), "name": fake.name()}
            requests = [
                _json("/api/checkout", checkout),
                _json("/api/auth/signup", account),
                WafRequest("GET", "/api/search", f"q={quote_plus(fake.sentence())}", [("user-agent", "Mozilla/5.0")]),
            ]
            for request in requests:
                sent += 1
                decision = EVALUATOR.evaluate(request)
                if decision.blocked:
                    blocked.append((locale, decision.rule, request.query or request.body[:120]))
    assert sent == 18 * 25 * 3
    assert blocked == []


def _json(path: str, body: object) -> WafRequest:
    headers = [("user-agent", "Mozilla/5.0"), ("content-type", "application/json")]
    return WafRequest("POST", path, "", headers, json.dumps(body, ensure_ascii=False).encode())
