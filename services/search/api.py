"""Public search routes under /search (the gateway forwards /api/search/... here and caches them 15 s)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from services.search import domain
from services.search.domain import DEFAULT_PAGE_SIZE, MAX_RESULT_WINDOW, SUGGEST_LIMIT, Sort
from services.search.ports import SearchIndex

router = APIRouter(prefix="/search", tags=["search"])


def _index(request: Request) -> SearchIndex:
    return request.app.state.index


IndexDep = Annotated[SearchIndex, Depends(_index)]


@router.get("", summary="Products matching free text (typos forgiven), filtered, faceted, sorted and paged")
async def search(
    index: IndexDep,
    q: Annotated[str, Query(description="free text; empty browses every product")] = "",
    category: Annotated[str | None, Query(max_length=64)] = None,
    price_min: Annotated[int | None, Query(description="minor units, inclusive")] = None,
    price_max: Annotated[int | None, Query(description="minor units, inclusive")] = None,
    attr: Annotated[list[str], Query(description="name:value, repeatable; e.g. brand:Kestrel")] = [],  # noqa: B006
    sort: Sort = Sort.RELEVANCE,
    page: Annotated[int, Query(ge=1, le=MAX_RESULT_WINDOW)] = 1,
    page_size: Annotated[int, Query()] = DEFAULT_PAGE_SIZE,
) -> dict[str, Any]:
    query = domain.make_query(
        q,
        category=category,
        price_min=price_min,
        price_max=price_max,
        attributes=attr,
        sort=sort,
        page=page,
        page_size=page_size,
    )
    result = await index.search(query)
    return {
        "q": query.text,
        "items": [doc.summary() for doc in result.items],
        "total": result.total,
        "page": query.page,
        "page_size": query.page_size,
        "pages": -(-result.total // query.page_size),
        "sort": query.sort.value,
        "facets": {
            name: [{"value": f.value, "count": f.count} for f in counts] for name, counts in result.facets.items()
        },
    }


@router.get("/suggest", summary="Type-ahead: product names completing what was typed so far")
async def suggest(
    index: IndexDep,
    q: Annotated[str, Query(max_length=domain.MAX_QUERY_CHARS)] = "",
    limit: Annotated[int, Query(ge=1, le=20)] = SUGGEST_LIMIT,
) -> dict[str, Any]:
    found = await index.suggest(q, limit)
    return {"q": q, "suggestions": [{"text": s.text, "product_id": s.product_id} for s in found]}
