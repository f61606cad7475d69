"""The search service: ``uvicorn services.search.app:create_app --factory``.

Its parts: the index (the adapter ``SEARCH_BACKEND`` names) and the indexer, a policy over the
search-indexer queue run by the runtime's consumer unless ``SEARCH_RUN_CONSUMER=false``.
"""

from __future__ import annotations

from fastapi import FastAPI

from services.common.app import create_service_app
from services.common.runtime import Runtime
from services.search import api
from services.search.adapters import build_index
from services.search.indexer import QUEUE, IndexPolicy
from services.search.ports import SearchIndex
from services.search.service import Search
from services.search.settings import SearchSettings


def create_app(settings: SearchSettings | None = None, index: SearchIndex | None = None) -> FastAPI:
    """Build the app; nothing connects until the lifespan starts (``index`` given: tests share one)."""
    settings = settings or SearchSettings()

    async def parts(rt: Runtime) -> None:
        built = index or build_index(settings)
        if index is None:
            rt.on_close(built.close)
        rt.check("index", built.ping)
        rt.state.index = built
        rt.state.search = Search(built)
        rt.consumer(QUEUE, IndexPolicy(built), name="indexer")

    return create_service_app("search", settings, [api.router], parts=parts)
