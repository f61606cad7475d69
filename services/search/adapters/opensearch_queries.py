"""The OpenSearch query DSL: every request body the ``OpenSearchIndex`` sends, as pure functions of the domain.

``index_template``, ``search_body``, ``suggest_body``, ``upsert_script`` and ``source_of`` import no client,
so tests/unit/golden/search/ shows exactly what production sends and a diff shows every change.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from services.search import domain
from services.search.domain import Change, Document, SearchQuery, Sort

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
