"""The one backend search needs: a ``SearchIndex``. ``adapters/`` holds tantivy and OpenSearch."""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterable, Sequence

from services.search.domain import Change, Document, SearchQuery, SearchResult, Suggestion

Progress = Callable[[int], None]


class SearchIndex(abc.ABC):
    """Product documents, queried with BM25, typo tolerance, prefixes, filters and facet counts.

    Writes are idempotent and order-free: ``apply`` merges each change with ``domain.merge``
    (a part is replaced only by a newer version), so a redelivered or late event changes nothing.
    """

    @abc.abstractmethod
    async def search(self, query: SearchQuery) -> SearchResult:
        """One page of live products and the facet counts of every match (empty text: browse)."""

    @abc.abstractmethod
    async def suggest(self, text: str, limit: int) -> list[Suggestion]:
        """Product names completing ``text`` (its last word taken as a prefix), best first."""

    @abc.abstractmethod
    async def apply(self, changes: Sequence[Change]) -> int:
        """Merge the changes into the index and make them visible; returns how many changed a document."""

    @abc.abstractmethod
    async def get(self, product_id: str) -> Document | None:
        """The document of a product as the index holds it (tombstones included)."""

    @abc.abstractmethod
    async def ids(self) -> set[str]:
        """Ids of every live product in the index."""

    @abc.abstractmethod
    async def rebuild(self, batches: Iterable[Sequence[Document]], progress: Progress | None = None) -> int:
        """Build a fresh index from ``batches`` and swap it in atomically; returns the documents written."""

    @abc.abstractmethod
    async def count(self) -> int:
        """How many live products the index holds."""

    @abc.abstractmethod
    async def ping(self) -> None: ...

    async def close(self) -> None:
        return None
