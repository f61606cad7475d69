"""The search index adapters: tantivy (local) and OpenSearch (AWS), chosen by ``SEARCH_BACKEND``."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from services.search.ports import SearchIndex
    from services.search.settings import SearchSettings


def build_index(settings: SearchSettings) -> SearchIndex:
    """The adapter the settings name (imported here so each backend's library is needed only where it is used)."""
    from services.search.settings import Backend

    if settings.backend == Backend.OPENSEARCH:
        from services.search.adapters.opensearch_index import OpenSearchIndex

        if not settings.opensearch_url:
            raise ValueError("SEARCH_BACKEND=opensearch needs OPENSEARCH_URL")
        return OpenSearchIndex(
            settings.opensearch_url, settings.opensearch_alias, timeout_s=settings.opensearch_timeout_s
        )
    from services.search.adapters.tantivy_index import TantivyIndex

    return TantivyIndex(settings.index_path, reload_s=settings.reload_s)
