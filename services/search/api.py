"""Public search routes under /search (the gateway forwards /api/search/... here and caches them 15 s)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from services.common.types import INT64_MAX, query_int, text
from services.search import domain
from services.search.deps import SearchDep
from services.search.domain import DEFAULT_PAGE_SIZE, MAX_RESULT_WINDOW, SUGGEST_LIMIT, Sort
from services.search.schemas import SearchPage, Suggestions

router = APIRouter(prefix="/search", tags=["search"])
Attr = text(min_length=1, max_length=200)
Price = query_int(ge=0, le=INT64_MAX)  # the index and OpenSearch keep prices as 64-bit integers


@router.get("", summary="Products matching free text (typos forgiven), filtered, faceted, sorted and paged")
async def search(
    search: SearchDep,
    q: Annotated[
        text(max_length=domain.MAX_QUERY_CHARS), Query(description="free text; empty browses every product")
    ] = "",
    category: Annotated[text(max_length=64) | None, Query()] = None,
    price_min: Annotated[Price | None, Query(description="minor units, inclusive")] = None,
    price_max: Annotated[Price | None, Query(description="minor units, inclusive; not below price_min")] = None,
    attr: Annotated[list[Attr], Query(description="name:value, repeatable; e.g. brand:Kestrel")] = [],  # noqa: B006
    sort: Sort = Sort.RELEVANCE,
    page: Annotated[
        query_int(ge=1, le=MAX_RESULT_WINDOW), Query(description=f"page * page_size is at most {MAX_RESULT_WINDOW}")
    ] = 1,
    page_size: Annotated[query_int(ge=1, le=domain.MAX_PAGE_SIZE), Query()] = DEFAULT_PAGE_SIZE,
) -> SearchPage:
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
    return await search.search(query)


@router.get("/suggest", summary="Type-ahead: product names completing what was typed so far")
async def suggest(
    search: SearchDep,
    q: Annotated[text(max_length=domain.MAX_QUERY_CHARS), Query()] = "",
    limit: Annotated[query_int(ge=1, le=20), Query()] = SUGGEST_LIMIT,
) -> Suggestions:
    return await search.suggest(q, limit)
