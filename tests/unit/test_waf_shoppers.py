"""The shopper corpus (tests/waf_corpus/shoppers.toml): what people type and send in a shop passes the web ACL."""

from __future__ import annotations

import pytest
from edge_support import Case, load_shoppers

from localcloud.edge.waf import Evaluator
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
