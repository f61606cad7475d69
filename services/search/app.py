"""The search service: ``uvicorn services.search.app:create_app --factory``.

The index adapter is chosen by ``SEARCH_BACKEND`` and built in the lifespan; the indexer
(the consumer of the search-indexer queue) runs beside the routes unless turned off.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from services.common import problems
from services.common.app import create_service_app
from services.search import api, domain
from services.search.indexer import Indexer
from services.search.ports import SearchIndex
from services.search.settings import Backend, SearchSettings

log = logging.getLogger("services.search")


def build_index(settings: SearchSettings) -> SearchIndex:
    """The adapter the settings name (imported here so each backend's library is needed only where it is used)."""
    if settings.backend == Backend.OPENSEARCH:
        from services.search.adapters.opensearch_index import OpenSearchIndex

        if not settings.opensearch_url:
            raise ValueError("SEARCH_BACKEND=opensearch needs OPENSEARCH_URL")
        return OpenSearchIndex(
            settings.opensearch_url, settings.opensearch_alias, timeout_s=settings.opensearch_timeout_s
        )
    from services.search.adapters.tantivy_index import TantivyIndex

    return TantivyIndex(settings.index_path, reload_s=settings.reload_s)


def create_app(settings: SearchSettings | None = None, index: SearchIndex | None = None) -> FastAPI:
    """Build the app; nothing connects until the lifespan starts (``index`` given: tests share one)."""
    settings = settings or SearchSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.index = index or build_index(settings)
        stop = asyncio.Event()
        task = None
        if settings.run_consumer:
            app.state.indexer = await asyncio.to_thread(
                Indexer,
                app.state.index,
                stage=settings.stage,
                region=settings.aws_region,
                wait_s=settings.consumer_wait_s,
            )
            task = asyncio.create_task(app.state.indexer.run(stop), name="search-indexer")
        try:
            yield
        finally:
            stop.set()
            if task is not None:
                task.cancel()  # its long poll can take 20 s; nothing is lost (undeleted messages come back)
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            if index is None:
                await app.state.index.close()

    app = create_service_app(
        "search", settings, [api.router], lifespan=lifespan, checks=lambda app: {"index": app.state.index.ping}
    )
    app.add_exception_handler(domain.Invalid, _invalid)
    return app


async def _invalid(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, domain.Invalid)
    errors = [{"field": exc.field, "in": "query", "message": exc.detail}]
    return problems.problem_response(422, "Invalid request", exc.detail, field=exc.field, errors=errors)
