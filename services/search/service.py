"""The search use cases the routes call: a page of results with its facets, and type-ahead."""

from __future__ import annotations

from services.search import schemas
from services.search.domain import SearchQuery
from services.search.ports import SearchIndex


class Search:
    def __init__(self, index: SearchIndex):
        self.index = index

    async def search(self, query: SearchQuery) -> schemas.SearchPage:
        result = await self.index.search(query)
        return schemas.SearchPage(
            q=query.text,
            items=[schemas.Hit(**doc.summary()) for doc in result.items],
            total=result.total,
            page=query.page,
            page_size=query.page_size,
            pages=-(-result.total // query.page_size),
            sort=query.sort.value,
            facets={
                name: [schemas.Count(value=f.value, count=f.count) for f in counts]
                for name, counts in result.facets.items()
            },
        )

    async def suggest(self, text: str, limit: int) -> schemas.Suggestions:
        found = await self.index.suggest(text, limit)
        return schemas.Suggestions(
            q=text, suggestions=[schemas.Suggestion(text=s.text, product_id=s.product_id) for s in found]
        )
