"""The relevance set (tests/search_relevance.json) against every adapter: queries with their expected top results."""

from __future__ import annotations

import pytest
from search_support import RELEVANCE, documents

from services.search.domain import make_query

pytest_plugins = ("search_support",)


@pytest.fixture
async def loaded(index):
    await index.rebuild([documents()])
    return index


def ids_of(result):
    return [doc.product_id for doc in result.items]


@pytest.mark.parametrize("case", RELEVANCE["cases"], ids=[c["q"] or c["why"] for c in RELEVANCE["cases"]])
async def test_each_query_of_the_relevance_set_puts_the_expected_products_first(loaded, case):
    filters = {k: case[k] for k in ("category", "price_min", "price_max", "attr", "sort") if k in case}
    if "attr" in filters:
        filters["attributes"] = filters.pop("attr")
    found = ids_of(await loaded.search(make_query(case["q"], **filters)))
    why = f"{case['why']}: got {found[:6]}"
    if "first" in case:
        assert found[:1] == [case["first"]], why
    if "top" in case:
        assert set(found[: len(case["top"])]) == set(case["top"]), why
    if "order" in case:
        assert found[: len(case["order"])] == case["order"], why
    for earlier, later in case.get("before", []):
        assert found.index(earlier) < found.index(later), why
    if "total" in case:
        assert len(found) == case["total"], why
