"""Public search routes under /search (the gateway forwards /api/search/... here and caches them 15 s)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from services.search import domain
from services.search.deps import SearchDep
from services.search.domain import DEFAULT_PAGE_SIZE, MAX_RESULT_WINDOW, SUGGEST_LIMIT, Sort
from services.search.schemas import SearchPage, Suggestions

router = APIRouter(prefix="/search", tags=["search"])


@router.get("", summary="Products matching free text (typos forgiven), filtered, faceted, sorted and paged")
async def search(
    search: SearchDep,
    q: Annotated[str, Query(description="free text; empty browses every product")] = "",
    category: Annotated[str | None, Query(max_length=64)] = None,
    price_min: Annotated[int | None, Query(description="minor units, inclusive")] = None,
    price_max: Annotated[int | None, Query(description="minor units, inclusive")] = None,
    attr: Annotated[list[str], Query(description="name:value, repeatable; e.g. brand:Kestrel")] = [],  # noqa: B006
    sort: Sort = Sort.RELEVANCE,
    page: Annotated[int, Query(ge=1, le=MAX_RESULT_WINDOW)] = 1,
    page_size: Annotated[int, Query()] = DEFAULT_PAGE_SIZE,
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
    q: Annotated[str, Query(max_length=domain.MAX_QUERY_CHARS)] = "",
    limit: Annotated[int, Query(ge=1, le=20)] = SUGGEST_LIMIT,
) -> Suggestions:
    return await search.suggest(q, limit)
