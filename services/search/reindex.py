"""Rebuild the search index from the catalog's tables: ``python -m services.search.reindex`` (``nox -s reindex``).

Reads the catalog schema read-only (an operator job with the database secret; the search
service itself never touches the database), writes a new index, swaps it in atomically
(a new tantivy generation, or a new OpenSearch index behind the alias), then catches up:
rows that changed while it was building, and products deleted meanwhile, are applied to
the new index with the same version guard events use. Changes whose events reached the
old index during the build are therefore not lost, and later events land in the new one.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Iterator, Sequence
from typing import Any

import sqlalchemy as sa

from services.common import secrets
from services.search.adapters import build_index
from services.search.domain import PRODUCT_FIELDS, Change, Document
from services.search.ports import SearchIndex
from services.search.settings import SearchSettings

ROWS = """
    select p.id, p.name, p.description, p.category_slug as category, p.price_minor, p.currency, p.attributes,
           p.image_key, p.created_at, p.version as product_version,
           i.on_hand - i.reserved as available, i.version as stock_version
    from catalog.products p left join catalog.inventory i on i.product_id = p.id
"""
VERSIONS = (
    "select p.id, p.version, i.version from catalog.products p left join catalog.inventory i on i.product_id = p.id"
)


def document(row: Any) -> Document:
    values = dict(row._mapping)
    image_key = values.pop("image_key")
    values["image_url"] = f"/{image_key}" if image_key else None  # as services.catalog.domain.image_url
    values["product_id"] = values.pop("id")
    if values["stock_version"] is None:
        values["stock_version"] = 0
    return Document(**values)


def change(doc: Document) -> Change:
    product = {k: getattr(doc, k) for k in PRODUCT_FIELDS}
    return Change(doc.product_id, product, doc.product_version, doc.available, doc.stock_version)


def database_url(settings: SearchSettings) -> str:
    return secrets.database_url(secrets.read_secret(settings.database_secret_id, settings.aws_region), "psycopg")


class Snapshot:
    """The catalog's products read in one repeatable-read transaction, in batches, remembering their versions."""

    def __init__(self, engine: sa.Engine, batch: int):
        self.engine = engine
        self.batch = batch
        self.versions: dict[str, tuple[int, int]] = {}

    def batches(self) -> Iterator[Sequence[Document]]:
        with self.engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn:
            result = conn.execute(sa.text(ROWS + " order by p.id"), execution_options={"stream_results": True})
            for rows in result.partitions(self.batch):
                docs = [document(r) for r in rows]
                self.versions.update({d.product_id: (d.product_version, d.stock_version) for d in docs})
                yield docs

    def changes_since(self) -> list[Change]:
        """What changed after the snapshot: rows with other versions, and tombstones for rows now gone."""
        with self.engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn:
            now = {r[0]: (r[1], r[2] or 0) for r in conn.execute(sa.text(VERSIONS))}
            changed = [pid for pid, v in now.items() if self.versions.get(pid) != v]
            rows = conn.execute(sa.text(ROWS + " where p.id = any(:ids)"), {"ids": changed}) if changed else []
            out = [change(document(r)) for r in rows]
            gone = set(self.versions) - set(now)
            if gone:  # a delete took a version no later than the sequence's last value
                last = conn.execute(sa.text("select last_value from catalog.change_seq")).scalar_one()
                out += [Change(pid, product_version=last, deleted=True) for pid in sorted(gone)]
        return out


async def reindex(index: SearchIndex, url: str, *, batch: int = 500, out: Any = sys.stdout) -> str:
    """Rebuild ``index`` from the catalog at ``url`` with progress lines; returns the summary line."""
    start = time.perf_counter()
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    try:
        snapshot = Snapshot(engine, batch)

        def progress(done: int) -> None:
            print(f"reindex: {done} products written ({time.perf_counter() - start:.2f} s)", file=out, flush=True)

        written = await index.rebuild(snapshot.batches(), progress)
        built = time.perf_counter() - start
        caught_up = await index.apply(await asyncio.to_thread(snapshot.changes_since))
    finally:
        engine.dispose()
    return (
        f"search index rebuilt in {time.perf_counter() - start:.2f} s: {written} products "
        f"(built and swapped in {built:.2f} s; {caught_up} changed meanwhile, applied after the swap)"
    )


def run(settings: SearchSettings | None = None, batch: int = 500) -> str:
    settings = settings or SearchSettings()
    index = build_index(settings)

    async def go() -> str:
        try:
            return await reindex(index, database_url(settings), batch=batch)
        finally:
            await index.close()

    return asyncio.run(go())


def main(argv: list[str] | None = None) -> int:
    from localcloud.state import use_running_stack

    parser = argparse.ArgumentParser(prog="python -m services.search.reindex", description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=int, default=500, help="products per progress line (default 500)")
    parser.add_argument("--stage", help="the running stack's stage (default SHOP_STAGE or local)")
    args = parser.parse_args(argv)
    if not use_running_stack(args.stage):
        print("no running stack found (start one with `nox -s up`); using the environment as it is", flush=True)
    print(run(batch=args.batch), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
