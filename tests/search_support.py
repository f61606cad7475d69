"""Fixtures of the search tests (``pytest_plugins = ("search_support",)``): the index under every adapter here.

tantivy always runs (in RAM and in a directory); OpenSearch runs where ``OPENSEARCH_URL`` names
a server or Docker can start one, and is reported as skipped otherwise.
"""

from __future__ import annotations

import json
import os
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from localcloud import containers
from services.search.adapters.tantivy_index import TantivyIndex
from services.search.domain import Document
from services.search.ports import SearchIndex

RELEVANCE = json.loads((Path(__file__).parent / "search_relevance.json").read_text())


def documents(products: list[dict[str, Any]] | None = None, version: int = 1) -> list[Document]:
    """The relevance set's products as index documents (versions ``version``)."""
    return [
        Document(
            p["id"],
            name=p["name"],
            description=f"The {p['name']} by {p['attributes'].get('brand', 'us')}.",
            category=p["category"],
            price_minor=p["price_minor"],
            attributes=p["attributes"],
            created_at=datetime.fromisoformat(p["created_at"]),
            image_url=f"/media/products/{p['id']}.svg",
            product_version=version,
            available=p["available"],
            stock_version=version,
        )
        for p in products or RELEVANCE["products"]
    ]


@pytest.fixture(scope="session")
def opensearch_url() -> Iterator[str]:
    given = os.environ.get("OPENSEARCH_URL")
    if given:
        yield given
        return
    if not containers.docker_available():
        pytest.skip("OpenSearch adapter not run: no OPENSEARCH_URL and no Docker engine here")
    from testcontainers.opensearch import OpenSearchContainer

    with OpenSearchContainer() as server:
        yield server.get_config()["host"] and f"http://{server.get_container_host_ip()}:{server.get_exposed_port(9200)}"


@pytest.fixture(params=["tantivy-ram", "tantivy-dir", "opensearch"])
async def index(request: pytest.FixtureRequest) -> AsyncIterator[SearchIndex]:
    """An empty index under each adapter."""
    if request.param == "opensearch":
        from services.search.adapters.opensearch_index import OpenSearchIndex

        url = request.getfixturevalue("opensearch_url")
        made: SearchIndex = OpenSearchIndex(url, f"test-products-{uuid.uuid4().hex[:8]}")
        yield made
        await made.close()
        return
    with tempfile.TemporaryDirectory(prefix="search-test-") as tmp:
        yield TantivyIndex(None if request.param == "tantivy-ram" else Path(tmp), reload_s=0)
