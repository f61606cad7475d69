"""The OpenSearch request bodies, as the adapter's pure functions render them, against reviewed golden files.

``UPDATE_GOLDEN=1 pytest tests/unit/test_search_opensearch_golden.py`` rewrites tests/unit/golden/search/*.json;
review the diff by hand: it is exactly what production will send.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from services.search.adapters import opensearch_queries as dsl
from services.search.domain import Change, make_query

GOLDEN = Path(__file__).parent / "golden" / "search"
PRODUCT = {
    "name": "Walnut Saucepan",
    "description": "The Walnut Saucepan by Kestrel.",
    "category": "kitchen",
    "price_minor": 2900,
    "currency": "USD",
    "attributes": {"brand": "Kestrel", "colour": "rust", "weight_g": 800},
    "created_at": datetime(2026, 10, 4, 12, tzinfo=UTC),
    "image_url": "/media/products/k4.svg",
}
BODIES = {
    "index_template": lambda: dsl.index_template("shop-prod-products"),
    "search_text_filters_facets_page": lambda: dsl.search_body(
        make_query("walnutt saucepan", category="kitchen", price_min=1000, price_max=5000,
                   attributes=["brand:Kestrel", "brand:Nordvik", "colour:rust"], page=2, page_size=12)
    ),
    "search_browse_newest": lambda: dsl.search_body(make_query("", sort="newest")),
    "search_syntax_characters": lambda: dsl.search_body(make_query('title:"skillet~1 AND (x', sort="-price")),
    "suggest": lambda: dsl.suggest_body("cast ir", 8),
    "upsert_product_changed": lambda: dsl.upsert_script(Change("k4", PRODUCT, 41, 3, 40)),
    "upsert_stock_changed": lambda: dsl.upsert_script(Change("k4", available=0, stock_version=42)),
    "upsert_product_deleted": lambda: dsl.upsert_script(Change("k4", product_version=43, deleted=True)),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(BODIES))
def test_each_opensearch_request_body_matches_its_reviewed_golden_file(name):
    rendered = json.dumps(BODIES[name](), indent=2, sort_keys=True, default=str) + "\n"
    path = GOLDEN / f"{name}.json"
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(rendered)
    assert path.exists(), f"no golden file {path.name}: run with UPDATE_GOLDEN=1 and review it"
    assert rendered == path.read_text(), f"{name} changed: rerun with UPDATE_GOLDEN=1 and review the diff"


def test_user_syntax_characters_never_reach_the_query_dsl():
    body = json.dumps(dsl.search_body(make_query('title:"skillet~1 AND (x'))["query"])
    assert all(c not in body.split('"query": "')[1].split('"')[0] for c in ':"~()')
