"""The search routes over HTTP: the answers shoppers see, and a 422 naming the parameter for bad input."""

from __future__ import annotations

import httpx
import pytest
from asgi_lifespan import LifespanManager
from search_support import documents

from services.search.adapters.tantivy_index import TantivyIndex
from services.search.app import create_app
from services.search.settings import SearchSettings


@pytest.fixture
async def client():
    index = TantivyIndex(None, reload_s=0)
    await index.rebuild([documents()])
    app = create_app(SearchSettings(run_consumer=False, index_dir=":memory:"), index=index)
    async with (
        LifespanManager(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c,
    ):
        yield c


async def test_a_misspelled_query_answers_a_page_with_facets(client):
    r = await client.get("/search", params={"q": "skilet", "page_size": 2})
    body = r.json()
    assert r.status_code == 200
    assert (body["total"], body["pages"], len(body["items"])) == (3, 2, 2)
    assert {i["id"] for i in body["items"]} == {"k1", "k3"}
    assert {"id", "name", "category", "price_minor", "currency", "image_url", "in_stock"} == set(body["items"][0])
    assert {"value": "kitchen", "count": 3} in body["facets"]["category"]


async def test_an_empty_query_browses_every_product(client):
    r = await client.get("/search", params={"q": "  ", "category": "shoes", "sort": "-price"})
    assert [i["id"] for i in r.json()["items"]] == ["s1", "s2", "s3", "s4"]


async def test_repeated_attribute_filters_are_alternatives(client):
    r = await client.get(
        "/search", params=[("attr", "brand:Marlowe"), ("attr", "brand:Nordvik"), ("category", "shoes")]
    )
    assert sorted(i["id"] for i in r.json()["items"]) == ["s1", "s2", "s4"]


async def test_suggest_answers_names_completing_the_last_word(client):
    r = await client.get("/search/suggest", params={"q": "trekk"})
    assert r.json() == {"q": "trekk", "suggestions": [{"text": "Trekking Poles", "product_id": "o3"}]}


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"page_size": 0}, "page_size"),
        ({"page_size": 1000}, "page_size"),
        ({"page_size": "lots"}, "page_size"),
        ({"page": 0}, "page"),
        ({"page": 9000, "page_size": 100}, "page"),
        ({"price_min": -1}, "price_min"),
        ({"price_min": 500, "price_max": 100}, "price_min"),
        ({"price_max": "cheap"}, "price_max"),
        ({"attr": "brand"}, "attr"),
        ({"attr": "brand:"}, "attr"),
        ({"attr": "weight_g:800"}, "attr"),
        ({"sort": "random"}, "sort"),
        ({"q": "x" * 201}, "q"),
        ({"q": "skillet\x00"}, "q"),  # no string takes a NUL or a control character (issue 12)
        ({"price_max": 1 << 63}, "price_max"),  # past int64: OpenSearch's long
        ({"page": "2.0"}, "page"),
    ],
)
async def test_bad_parameters_get_a_422_naming_them(client, params, field):
    r = await client.get("/search", params=params)
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/problem+json"
    assert field in [e["field"] for e in r.json()["errors"]]


@pytest.mark.parametrize("q", ['title:"skillet', "((", "skillet~2^3", "*", "a:b:c", "[1 TO 2]", "\\", "-", "é€😀"])
async def test_query_syntax_characters_from_users_never_raise(client, q):
    assert (await client.get("/search", params={"q": q})).status_code == 200
    assert (await client.get("/search/suggest", params={"q": q})).status_code == 200
