"""The local ``SearchIndex``: tantivy (Rust's Lucene) in-process, in a directory or in RAM.

Layout on disk: ``<dir>/gen-<n>/`` holds one generation of the index and ``<dir>/CURRENT``
names the live one. A rebuild writes a new generation beside it and replaces ``CURRENT``
atomically (``os.replace``): the local twin of swapping an OpenSearch alias.

Who writes: tantivy allows one writer per index directory (a lock file). Every process
that applies changes takes the writer for one batch only and gives it back, so the
service's indexer and ``nox -s reindex`` (or several workers) queue up instead of failing;
the merge of each change is read under that lock, so two writers cannot lose an update.
Readers reload at most every ``reload_s`` and follow ``CURRENT`` to a new generation.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import shutil
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import IO, Any

import tantivy
from tantivy import Occur, Query

from services.search import domain
from services.search.domain import Change, Document, FacetCount, SearchQuery, SearchResult, Sort, Suggestion
from services.search.ports import Progress, SearchIndex

EN = "en_stem"
# weight_by_field multiplies the score by log2(2 + weight): 2.0 for in stock, 1.0 for out of stock
IN_STOCK_WEIGHT = 2.0 / domain.OUT_OF_STOCK_FACTOR - 2.0
NAME_BOOST, FUZZY_BOOST, PREFIX_BOOST = 3.0, 1.0, 1.0


def schema() -> tantivy.Schema:
    b = tantivy.SchemaBuilder()
    b.add_text_field("id", stored=True, fast=True, tokenizer_name="raw")
    b.add_text_field("name", tokenizer_name=EN)  # stemmed: "skillets" finds "Skillet"
    b.add_text_field("name_plain", tokenizer_name="default")  # as written: fuzzy and prefix terms
    b.add_text_field("description", tokenizer_name=EN)
    b.add_text_field("category", fast=True, tokenizer_name="raw")
    b.add_text_field("attrs", fast=True, tokenizer_name="raw")  # "brand=Kestrel", one per facet attribute
    b.add_integer_field("price_minor", indexed=True, fast=True)
    b.add_integer_field("created_at", fast=True)
    b.add_boolean_field("live", indexed=True)
    b.add_float_field("weight", fast=True)
    b.add_bytes_field("source", stored=True)  # the Document as JSON
    return b.build()


SCHEMA = schema()


def _analyzer() -> tantivy.TextAnalyzer:
    builder = tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple())
    return builder.filter(tantivy.Filter.lowercase()).filter(tantivy.Filter.stemmer("english")).build()


class TantivyIndex(SearchIndex):
    def __init__(
        self, path: Path | None = None, *, reload_s: float = 0.5, heap_bytes: int = 50_000_000, lock_wait_s: float = 30
    ):
        self.path = path
        self.reload_s = reload_s
        self.heap_bytes = heap_bytes
        self.lock_wait_s = lock_wait_s
        self.en = _analyzer()
        self._write_lock = threading.Lock()
        self._index: tantivy.Index | None = None
        self._generation: str | None = None
        self._checked = 0.0
        if path is not None:
            path.mkdir(parents=True, exist_ok=True)

    # ------------------------------------------------------------------ opening and generations

    def _open(self, location: Path | None) -> tantivy.Index:
        index = tantivy.Index(SCHEMA, path=None if location is None else str(location), reuse=True)
        index.register_tokenizer(EN, _analyzer())
        return index

    @contextlib.contextmanager
    def _dir_lock(self) -> Iterator[None]:
        """Serialises creating and swapping generations between processes sharing the directory."""
        assert self.path is not None
        with open(self.path / ".swap.lock", "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _current(self) -> tantivy.Index:
        """The live generation's index, reopened when CURRENT moved, reloaded at most every ``reload_s``."""
        now = time.monotonic()
        if self._index is not None and now - self._checked < self.reload_s:
            return self._index
        self._checked = now
        if self.path is None:
            if self._index is None:
                self._index = self._open(None)
            self._index.reload()
            return self._index
        generation = self._read_current()
        if generation is None:
            with self._dir_lock():
                generation = self._read_current() or self._new_generation()
                if self._read_current() is None:
                    self._point_at(generation)
        if generation != self._generation:
            self._index, self._generation = self._open(self.path / generation), generation
        else:
            self._index.reload()  # type: ignore[union-attr]
        return self._index  # type: ignore[return-value]

    def _read_current(self) -> str | None:
        assert self.path is not None
        try:
            return (self.path / "CURRENT").read_text().strip() or None
        except FileNotFoundError:
            return None

    def _new_generation(self) -> str:
        assert self.path is not None
        numbers = [int(p.name[4:]) for p in self.path.glob("gen-*") if p.name[4:].isdigit()]
        name = f"gen-{max(numbers, default=0) + 1:06d}"
        (self.path / name).mkdir()
        return name

    def _point_at(self, generation: str) -> None:
        assert self.path is not None
        tmp = self.path / f"CURRENT.{os.getpid()}"
        tmp.write_text(generation + "\n")
        os.replace(tmp, self.path / "CURRENT")

    def _writer(self, index: tantivy.Index) -> tantivy.IndexWriter:
        """The index's writer, waiting while another process holds it (it does for one batch only)."""
        deadline = time.monotonic() + self.lock_wait_s
        while True:
            try:
                return index.writer(self.heap_bytes, 1)
            except ValueError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    # ------------------------------------------------------------------ writes

    async def apply(self, changes: Sequence[Change]) -> int:
        return await asyncio.to_thread(self._apply, changes)

    def _apply(self, changes: Sequence[Change]) -> int:
        with self._write_lock:
            self._checked = 0.0
            index = self._current()
            writer = self._writer(index)
            try:
                index.reload()  # read what the previous writer committed, under its lock
                searcher = index.searcher()
                merged: dict[str, Document] = {}
                for change in changes:
                    current = merged.get(change.product_id) or _find(searcher, change.product_id)
                    after = domain.merge(current, change)
                    if after is not None:
                        merged[change.product_id] = after
                for doc in merged.values():
                    writer.delete_documents_by_term("id", doc.product_id)
                    writer.add_document(_to_tantivy(doc))
                writer.commit()
            except BaseException:
                writer.rollback()
                raise
            finally:
                writer.wait_merging_threads()
            index.reload()
            return len(merged)

    async def rebuild(self, batches: Iterable[Sequence[Document]], progress: Progress | None = None) -> int:
        return await asyncio.to_thread(self._rebuild, batches, progress)

    def _rebuild(self, batches: Iterable[Sequence[Document]], progress: Progress | None) -> int:
        with self._write_lock:
            if self.path is None:
                index, generation = self._open(None), None
            else:
                with self._dir_lock():
                    generation = self._new_generation()
                    building = _building(self.path / generation)
                index = self._open(self.path / generation)
            try:
                writer = index.writer(max(self.heap_bytes, 100_000_000), 1)
                written = 0
                for batch in batches:
                    for doc in batch:
                        writer.add_document(_to_tantivy(doc))
                    written += len(batch)
                    if progress:
                        progress(written)
                writer.commit()
                writer.wait_merging_threads()
                index.reload()
                if generation is None:
                    self._index = index
                else:
                    with self._dir_lock():
                        self._point_at(generation)
                        self._forget_old_generations(keep={generation, self._generation or ""})
                    self._index, self._generation = index, generation
            finally:
                if generation is not None:
                    building.close()  # releases the lock: the generation is live now, or abandoned
            self._checked = time.monotonic()
            return written

    def _forget_old_generations(self, keep: set[str]) -> None:
        """Keep the new and the previous generation (readers may still have it open); drop older ones.

        A generation another rebuild is still writing (two reindexes of one directory overlapping) is left
        alone: its builder holds the lock on its ``.building`` file, which a crashed builder no longer does.
        """
        assert self.path is not None
        for old in self.path.glob("gen-*"):
            if old.name not in keep and not _being_built(old):
                shutil.rmtree(old, ignore_errors=True)

    # ------------------------------------------------------------------ reads

    async def search(self, query: SearchQuery) -> SearchResult:
        searcher = self._current().searcher()
        q = self._query(query)
        kwargs: dict[str, Any] = {"limit": query.page_size, "offset": query.offset}
        if query.sort == Sort.RELEVANCE:
            kwargs["weight_by_field"] = "weight"
        elif query.sort == Sort.NEWEST:
            kwargs.update(order_by_field="created_at", order=tantivy.Order.Desc)
        else:
            order = tantivy.Order.Asc if query.sort == Sort.PRICE else tantivy.Order.Desc
            kwargs.update(order_by_field="price_minor", order=order)
        found = searcher.search(q, **kwargs)
        items = [_from_tantivy(searcher.doc(address)) for _, address in found.hits]
        return SearchResult(items, found.count or 0, _facets(searcher.aggregate(q, FACET_AGGREGATIONS)))

    async def suggest(self, text: str, limit: int) -> list[Suggestion]:
        words = domain.tokens(text)
        if not words or len(words[-1]) < 1:
            return []
        clauses = [(Occur.Must, self._live())]
        clauses += [(Occur.Must, self._word(w, prefix=False)) for w in words[:-1]]
        clauses.append((Occur.Must, Query.phrase_prefix_query(SCHEMA, "name_plain", [words[-1]])))
        searcher = self._current().searcher()
        found = searcher.search(Query.boolean_query(clauses), limit * 3, weight_by_field="weight")
        out: list[Suggestion] = []
        for _, address in found.hits:
            doc = _from_tantivy(searcher.doc(address))
            if all(s.text != doc.name for s in out):
                out.append(Suggestion(doc.name, doc.product_id))
        return out[:limit]

    async def get(self, product_id: str) -> Document | None:
        return _find(self._current().searcher(), product_id)

    async def ids(self) -> set[str]:
        searcher = self._current().searcher()
        found = searcher.search(self._live(), max(searcher.num_docs, 1))
        return {searcher.doc(address)["id"][0] for _, address in found.hits}

    async def count(self) -> int:
        return self._current().searcher().search(self._live(), 1).count or 0

    async def ping(self) -> None:
        self._current().searcher()

    # ------------------------------------------------------------------ query building

    def _live(self) -> Query:
        return Query.term_query(SCHEMA, "live", True)

    def _query(self, query: SearchQuery) -> Query:
        clauses: list[tuple[Occur, Query]] = [(Occur.Must, self._live())]
        words = query.tokens
        if words:
            groups = [(Occur.Should, self._word(w, prefix=i == len(words) - 1)) for i, w in enumerate(words)]
            clauses.append((Occur.Must, Query.boolean_query(groups, domain.minimum_should_match(len(words)))))
        if query.category:
            clauses.append((Occur.Must, Query.term_query(SCHEMA, "category", query.category)))
        if query.price_min is not None or query.price_max is not None:
            price = Query.range_query(
                SCHEMA, "price_minor", tantivy.FieldType.Integer, query.price_min, query.price_max
            )
            clauses.append((Occur.Must, price))
        for key, values in query.attribute_groups().items():
            clauses.append((Occur.Must, Query.term_set_query(SCHEMA, "attrs", [f"{key}={v}" for v in values])))
        return Query.boolean_query(clauses)

    def _word(self, word: str, *, prefix: bool) -> Query:
        """One user word: its stem in the name (weighted) or description, the word within its fuzziness, a prefix."""
        options: list[tuple[Occur, Query]] = []
        for stem in self.en.analyze(word):
            options.append((Occur.Should, Query.boost_query(Query.term_query(SCHEMA, "name", stem), NAME_BOOST)))
            options.append((Occur.Should, Query.term_query(SCHEMA, "description", stem)))
        # tantivy scores a fuzzy match as a constant, so one clause per distance makes the closer spelling win
        for distance in range(1, domain.fuzziness(word) + 1):
            fuzzy = Query.fuzzy_term_query(SCHEMA, "name_plain", word, distance, True, False)
            options.append((Occur.Should, Query.boost_query(fuzzy, FUZZY_BOOST / distance)))
        if prefix:
            starts = Query.phrase_prefix_query(SCHEMA, "name_plain", [word])
            options.append((Occur.Should, Query.boost_query(starts, PREFIX_BOOST)))
        return Query.boolean_query(options) if options else Query.empty_query()


FACET_AGGREGATIONS = {
    "category": {"terms": {"field": "category", "size": 100}},
    "attrs": {"terms": {"field": "attrs", "size": 1000}},
    "price": {
        "range": {
            "field": "price_minor",
            "ranges": [
                {k: v for k, v in (("from", lo), ("to", hi)) if v is not None} for lo, hi in domain.PRICE_BUCKETS
            ],
        }
    },
}


BUILDING = ".building"  # in a generation's folder, locked by the rebuild writing it


def _building(generation: Path) -> IO[str]:
    """Mark ``generation`` as being written by this process until the returned file is closed."""
    handle = open(generation / BUILDING, "w")  # noqa: SIM115 - held open for the rebuild's whole length
    fcntl.flock(handle, fcntl.LOCK_EX)
    return handle


def _being_built(generation: Path) -> bool:
    """Whether a live rebuild holds ``generation``'s lock (a marker left by a crashed one does not count)."""
    try:
        with open(generation / BUILDING) as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            fcntl.flock(handle, fcntl.LOCK_UN)
            return False
    except FileNotFoundError:
        return False


def _facets(aggregations: dict[str, Any]) -> dict[str, list[FacetCount]]:
    facets: dict[str, list[FacetCount]] = {"category": [], **{k: [] for k in domain.FACET_ATTRIBUTES}, "price": []}
    for bucket in aggregations["category"]["buckets"]:
        facets["category"].append(FacetCount(bucket["key"], bucket["doc_count"]))
    for bucket in aggregations["attrs"]["buckets"]:
        key, _, value = bucket["key"].partition("=")
        facets[key].append(FacetCount(value, bucket["doc_count"]))
    for bucket in aggregations["price"]["buckets"]:
        low, high = bucket.get("from"), bucket.get("to")
        key = domain.price_bucket_key(None if low is None else int(low), None if high is None else int(high))
        facets["price"].append(FacetCount(key, bucket["doc_count"]))
    for key in domain.FACET_ATTRIBUTES:
        facets[key].sort(key=lambda f: (-f.count, f.value))
    facets["category"].sort(key=lambda f: (-f.count, f.value))
    facets["price"].sort(key=lambda f: [domain.price_bucket_key(*b) for b in domain.PRICE_BUCKETS].index(f.value))
    return facets


def _find(searcher: tantivy.Searcher, product_id: str) -> Document | None:
    found = searcher.search(Query.term_query(SCHEMA, "id", product_id), 1)
    return _from_tantivy(searcher.doc(found.hits[0][1])) if found.hits else None


def _to_tantivy(doc: Document) -> tantivy.Document:
    source = {**doc.__dict__, "created_at": doc.created_at.isoformat() if doc.created_at else None}
    return tantivy.Document(
        id=doc.product_id,
        name=doc.name,
        name_plain=doc.name,
        description=doc.description,
        category=doc.category,
        attrs=doc.facet_values(),
        price_minor=doc.price_minor,
        created_at=int(doc.created_at.timestamp()) if doc.created_at else 0,
        live=doc.live,
        weight=IN_STOCK_WEIGHT if doc.in_stock else 0.0,
        source=json.dumps(source, separators=(",", ":")).encode(),
    )


def _from_tantivy(stored: tantivy.Document) -> Document:
    source = json.loads(stored["source"][0])
    if source.get("created_at"):
        source["created_at"] = datetime.fromisoformat(source["created_at"])
    return Document(**source)
