"""The production ``SearchIndex``: Amazon OpenSearch Service through opensearch-py.

Every request body is built by a pure function of ``opensearch_queries`` (the query DSL apart from
the client), so tests/unit/golden/search/ shows exactly what production sends. Queries go to an alias; a rebuild
writes a new index ``<alias>-<timestamp>`` and moves the alias in one ``_aliases`` call.

Not run on the machines this project is built on (no OpenSearch server, no Docker there):
its contract tests run wherever ``OPENSEARCH_URL`` is set or Docker can start one.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from services.search import domain
from services.search.adapters.opensearch_queries import (
    index_template,
    search_body,
    source_of,
    suggest_body,
    upsert_script,
)
from services.search.domain import Change, Document, FacetCount, SearchQuery, SearchResult, Suggestion
from services.search.ports import Progress, SearchIndex


def _document(source: dict[str, Any]) -> Document:
    fields = {k: v for k, v in source.items() if k in Document.__dataclass_fields__}
    if fields.get("created_at"):
        fields["created_at"] = datetime.fromisoformat(fields["created_at"])
    return Document(**fields)


class OpenSearchIndex(SearchIndex):
    def __init__(self, url: str, alias: str, *, timeout_s: float = 5.0):
        from opensearchpy import OpenSearch

        self.alias = alias
        self.client = OpenSearch(hosts=[url], timeout=timeout_s, http_compress=True)
        self._ready = False

    def _ensure(self) -> None:
        """The template and a first generation behind the alias (idempotent)."""
        if self._ready:
            return
        self.client.indices.put_index_template(name=self.alias, body=index_template(self.alias))
        if not self.client.indices.exists_alias(name=self.alias):
            first = f"{self.alias}-{time.time_ns()}"
            self.client.indices.create(index=first, body={"aliases": {self.alias: {}}})
        self._ready = True

    async def _call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        await asyncio.to_thread(self._ensure)
        return await asyncio.to_thread(fn, *args, **kwargs)

    async def search(self, query: SearchQuery) -> SearchResult:
        got = await self._call(self.client.search, index=self.alias, body=search_body(query))
        items = [_document(hit["_source"]) for hit in got["hits"]["hits"]]
        aggs = got["aggregations"]
        facets: dict[str, list[FacetCount]] = {"category": [], **{k: [] for k in domain.FACET_ATTRIBUTES}}
        facets["category"] = [FacetCount(b["key"], b["doc_count"]) for b in aggs["category"]["buckets"]]
        for bucket in aggs["facets"]["buckets"]:
            key, _, value = bucket["key"].partition("=")
            facets[key].append(FacetCount(value, bucket["doc_count"]))
        facets["price"] = [FacetCount(b["key"], b["doc_count"]) for b in aggs["price"]["buckets"]]
        return SearchResult(items, got["hits"]["total"]["value"], facets)

    async def suggest(self, text: str, limit: int) -> list[Suggestion]:
        if not domain.tokens(text):
            return []
        got = await self._call(self.client.search, index=self.alias, body=suggest_body(text, limit))
        out: list[Suggestion] = []
        for hit in got["hits"]["hits"]:
            if all(s.text != hit["_source"]["name"] for s in out):
                out.append(Suggestion(hit["_source"]["name"], hit["_source"]["product_id"]))
        return out[:limit]

    async def apply(self, changes: Sequence[Change]) -> int:
        if not changes:
            return 0
        lines: list[dict[str, Any]] = []
        for change in changes:
            lines += [{"update": {"_index": self.alias, "_id": change.product_id, "retry_on_conflict": 5}}]
            lines += [upsert_script(change)]
        got = await self._call(self.client.bulk, body=lines, refresh="wait_for")
        failed = [i for i in got["items"] if i["update"].get("error")]
        if failed:
            raise RuntimeError(f"{len(failed)} updates failed: {failed[0]['update']['error']}")
        return sum(1 for i in got["items"] if i["update"].get("result") in ("created", "updated"))

    async def get(self, product_id: str) -> Document | None:
        got = await self._call(self.client.get, index=self.alias, id=product_id, ignore=[404])
        return _document(got["_source"]) if got.get("found") else None

    async def ids(self) -> set[str]:
        body = {"size": domain.MAX_RESULT_WINDOW, "query": {"term": {"live": True}}, "_source": ["product_id"]}
        got = await self._call(self.client.search, index=self.alias, body=body)
        return {hit["_source"]["product_id"] for hit in got["hits"]["hits"]}

    async def rebuild(self, batches: Iterable[Sequence[Document]], progress: Progress | None = None) -> int:
        await asyncio.to_thread(self._ensure)
        return await asyncio.to_thread(self._rebuild, batches, progress)

    def _rebuild(self, batches: Iterable[Sequence[Document]], progress: Progress | None) -> int:
        new = f"{self.alias}-{time.time_ns()}"
        self.client.indices.create(index=new)
        written = 0
        for batch in batches:
            lines: list[dict[str, Any]] = []
            for doc in batch:
                lines += [{"index": {"_index": new, "_id": doc.product_id}}, source_of(doc)]
            if lines:
                self.client.bulk(body=lines)
            written += len(batch)
            if progress:
                progress(written)
        self.client.indices.refresh(index=new)
        old = list(self.client.indices.get_alias(name=self.alias))
        actions = [{"remove": {"index": o, "alias": self.alias}} for o in old] + [
            {"add": {"index": new, "alias": self.alias}}
        ]
        self.client.indices.update_aliases(body={"actions": actions})  # one call: readers never see no index
        for o in old:
            self.client.indices.delete(index=o, ignore=[404])
        return written

    async def count(self) -> int:
        got = await self._call(self.client.count, index=self.alias, body={"query": {"term": {"live": True}}})
        return got["count"]

    async def ping(self) -> None:
        if not await asyncio.to_thread(self.client.ping):
            raise ConnectionError("OpenSearch does not answer")

    async def close(self) -> None:
        await asyncio.to_thread(self.client.close)
