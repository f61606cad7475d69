"""The production ``SearchIndex``: Amazon OpenSearch Service through opensearch-py.

Every request body is built by a pure function of this module (``index_template``,
``search_body``, ``suggest_body``, ``upsert_script``), so tests/unit/golden/search/ shows exactly
what production sends and a diff shows every change. Queries go to an alias; a rebuild
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
from services.search.domain import Change, Document, FacetCount, SearchQuery, SearchResult, Sort, Suggestion
from services.search.ports import Progress, SearchIndex

NAME_BOOST = 3


def index_template(alias: str) -> dict[str, Any]:
    """The index template every generation of ``alias`` is created from: analyzers, mappings, one shard locally."""
    return {
        "index_patterns": [f"{alias}-*"],
        "template": {
            "settings": {
                "index": {
                    "number_of_shards": 1,
                    "number_of_replicas": 1,
                    "max_result_window": domain.MAX_RESULT_WINDOW,
                },
                "analysis": {
                    "filter": {
                        "english_stemmer": {"type": "stemmer", "language": "english"},
                        "english_possessive": {"type": "stemmer", "language": "possessive_english"},
                        "edge_2_20": {"type": "edge_ngram", "min_gram": 2, "max_gram": 20},
                    },
                    "analyzer": {
                        "english_text": {
                            "tokenizer": "standard",
                            "filter": ["english_possessive", "lowercase", "english_stemmer"],
                        },
                        "typeahead": {"tokenizer": "standard", "filter": ["lowercase", "edge_2_20"]},
                        "typeahead_search": {"tokenizer": "standard", "filter": ["lowercase"]},
                    },
                },
            },
            "mappings": {
                "dynamic": "strict",
                "properties": {
                    "product_id": {"type": "keyword"},
                    "name": {
                        "type": "text",
                        "analyzer": "english_text",
                        "fields": {
                            "plain": {"type": "text", "analyzer": "standard"},
                            "prefix": {"type": "text", "analyzer": "typeahead", "search_analyzer": "typeahead_search"},
                        },
                    },
                    "description": {"type": "text", "analyzer": "english_text"},
                    "category": {"type": "keyword"},
                    "facets": {"type": "keyword"},  # "brand=Kestrel", one per facet attribute
                    "attributes": {"type": "object", "enabled": False},
                    "price_minor": {"type": "long"},
                    "currency": {"type": "keyword"},
                    "created_at": {"type": "date"},
                    "image_url": {"type": "keyword", "index": False},
                    "available": {"type": "integer"},
                    "in_stock": {"type": "boolean"},
                    "live": {"type": "boolean"},
                    "deleted": {"type": "boolean"},
                    "product_version": {"type": "long"},
                    "stock_version": {"type": "long"},
                },
            },
        },
    }


def _text_clause(words: list[str], text: str) -> dict[str, Any]:
    return {
        "bool": {
            "should": [
                {
                    "multi_match": {
                        "query": text,
                        "fields": [f"name^{NAME_BOOST}", "description", "name.plain"],
                        "fuzziness": "AUTO",
                        "prefix_length": 0,
                        "minimum_should_match": "-25%",
                    }
                },
                {"match": {"name.prefix": {"query": words[-1], "boost": 1}}},
            ],
            "minimum_should_match": 1,
        }
    }


def _filters(query: SearchQuery) -> list[dict[str, Any]]:
    filters: list[dict[str, Any]] = [{"term": {"live": True}}]
    if query.category:
        filters.append({"term": {"category": query.category}})
    if query.price_min is not None or query.price_max is not None:
        bounds = {k: v for k, v in (("gte", query.price_min), ("lte", query.price_max)) if v is not None}
        filters.append({"range": {"price_minor": bounds}})
    for key, values in query.attribute_groups().items():
        filters.append({"terms": {"facets": [f"{key}={v}" for v in values]}})
    return filters


SORTS = {
    Sort.RELEVANCE: ["_score", {"product_id": "asc"}],
    Sort.PRICE: [{"price_minor": "asc"}, {"product_id": "asc"}],
    Sort.PRICE_DESC: [{"price_minor": "desc"}, {"product_id": "desc"}],
    Sort.NEWEST: [{"created_at": "desc"}, {"product_id": "desc"}],
}


def search_body(query: SearchQuery) -> dict[str, Any]:
    """The _search body of one query: text scored (out of stock weighted down), filters, facets, sort, page."""
    words = query.tokens
    scored: dict[str, Any] = {"bool": {"filter": _filters(query)}}
    if words:
        # ASCII only reaches the engine: the words, joined, never the user's syntax characters
        scored["bool"]["must"] = [_text_clause(words, " ".join(words))]
    return {
        "from": query.offset,
        "size": query.page_size,
        "track_total_hits": True,
        "query": {
            "function_score": {
                "query": scored,
                "functions": [{"filter": {"term": {"in_stock": False}}, "weight": domain.OUT_OF_STOCK_FACTOR}],
                "score_mode": "multiply",
                "boost_mode": "multiply",
            }
        },
        "sort": SORTS[query.sort],
        "aggs": {
            "category": {"terms": {"field": "category", "size": 100}},
            "facets": {"terms": {"field": "facets", "size": 1000}},
            "price": {
                "range": {
                    "field": "price_minor",
                    "ranges": [
                        {"key": domain.price_bucket_key(lo, hi), **{k: v for k, v in (("from", lo), ("to", hi)) if v}}
                        for lo, hi in domain.PRICE_BUCKETS
                    ],
                }
            },
        },
        "_source": {"excludes": ["description"]},
    }


def suggest_body(text: str, limit: int) -> dict[str, Any]:
    """Type-ahead: every earlier word fuzzily, the last one as a prefix on the edge-ngram field."""
    words = domain.tokens(text)
    must: list[dict[str, Any]] = [{"match": {"name.plain": {"query": w, "fuzziness": "AUTO"}}} for w in words[:-1]]
    must.append({"match": {"name.prefix": {"query": words[-1] if words else ""}}})
    return {
        "size": limit * 3,
        "query": {
            "function_score": {
                "query": {"bool": {"must": must, "filter": [{"term": {"live": True}}]}},
                "functions": [{"filter": {"term": {"in_stock": False}}, "weight": domain.OUT_OF_STOCK_FACTOR}],
                "boost_mode": "multiply",
            }
        },
        "_source": ["product_id", "name"],
    }


UPSERT_SCRIPT = """
boolean changed = false;
if (params.deleted) {
  if (params.product_version > ctx._source.product_version) {
    ctx._source.product_version = params.product_version; ctx._source.deleted = true; changed = true;
  }
} else if (params.product != null && params.product_version > ctx._source.product_version) {
  for (entry in params.product.entrySet()) { ctx._source[entry.getKey()] = entry.getValue(); }
  ctx._source.product_version = params.product_version; ctx._source.deleted = false; changed = true;
}
if (params.available != null && params.stock_version > ctx._source.stock_version) {
  ctx._source.available = params.available; ctx._source.stock_version = params.stock_version; changed = true;
}
if (!changed) { ctx.op = 'none'; return; }
ctx._source.in_stock = ctx._source.available == null || ctx._source.available > 0;
ctx._source.live = ctx._source.product_version > 0 && !ctx._source.deleted;
""".strip()


def upsert_script(change: Change) -> dict[str, Any]:
    """The _update body of one change: ``domain.merge`` as a painless script, so the guard holds in the cluster."""
    product = None
    if change.product is not None:
        product = {k: _json_value(v) for k, v in change.product.items() if k in domain.PRODUCT_FIELDS}
        if "attributes" in product:
            product["facets"] = Document(change.product_id, attributes=product["attributes"]).facet_values()
    empty = {"product_id": change.product_id, "product_version": 0, "stock_version": 0, "available": None}
    return {
        "scripted_upsert": True,
        "upsert": empty | {"deleted": False, "live": False, "in_stock": True},
        "script": {
            "lang": "painless",
            "source": UPSERT_SCRIPT,
            "params": {
                "deleted": change.deleted,
                "product": product,
                "product_version": change.product_version,
                "available": change.available,
                "stock_version": change.stock_version,
            },
        },
    }


def source_of(doc: Document) -> dict[str, Any]:
    """A document as a rebuild writes it."""
    body = {k: _json_value(v) for k, v in doc.__dict__.items()}
    return body | {"facets": doc.facet_values(), "in_stock": doc.in_stock, "live": doc.live}


def _json_value(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


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
