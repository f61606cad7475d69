"""Cache truth (issue 11) without servers: how answers say how long they may be kept, and who obeys it."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from fastapi.responses import JSONResponse

from localcloud.edge.cache import ttl
from reference.edge import behavior_for
from reference.services import STOCK_VISIBLE_S, service
from services.catalog import domain
from services.common import caching

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("cache_control", "age", "expected"),
    [("public, max-age=5", None, 5), ("public, max-age=5", "2", 3), ("public, max-age=5", "7", 0),
     ("public, max-age=60", None, 30), ("max-age=60, s-maxage=10", None, 10), (None, None, 30),
     ("no-store", None, 0), ("private, max-age=5", None, 0), ("no-cache", None, 0), ("max-age=5", "soon", 5)],
)  # fmt: skip
def test_a_shared_cache_keeps_an_answer_its_max_age_less_its_age_within_its_own_ceiling(cache_control, age, expected):
    assert caching.lifetime_s(cache_control, age, ceiling_s=30) == expected


def test_an_answer_from_a_cache_says_its_age_rounded_up():
    assert caching.public(5, 0.2) == {"Cache-Control": "public, max-age=5", "Age": "1"}
    assert caching.public(30) == {"Cache-Control": "public, max-age=30"}


async def test_an_answer_that_says_nothing_gets_no_store_and_one_that_says_something_keeps_it():
    app = FastAPI()

    @app.get("/quiet")
    async def quiet() -> dict[str, str]:
        return {}

    @app.get("/public")
    async def public() -> JSONResponse:
        return JSONResponse({}, headers=caching.public(5))

    app.add_middleware(caching.DefaultCacheControl)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        assert (await client.get("/quiet")).headers["cache-control"] == "no-store"
        assert (await client.get("/public")).headers["cache-control"] == "public, max-age=5"
        assert (await client.get("/nowhere")).headers["cache-control"] == "no-store"


def test_stock_bearing_answers_are_shared_no_longer_than_the_bound_and_the_edge_keeps_no_api_answer():
    assert domain.STOCK_MAX_AGE_S == STOCK_VISIBLE_S <= domain.LISTING_MAX_AGE_S == service("catalog").public_cache_s
    api = behavior_for("/api/catalog/products/p-1").cache_policy
    assert ttl(api, f"public, max-age={STOCK_VISIBLE_S}") == 0


@pytest.mark.parametrize("doc", ["services/catalog/README.md", "services/gateway/README.md", "docs/edge.md"])
def test_the_docs_state_the_bound_reference_holds(doc):
    assert f"within {STOCK_VISIBLE_S} s" in (REPO / doc).read_text()
