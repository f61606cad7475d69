"""Contract tests of the SearchIndex port, run against every adapter (see search_support.index)."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

from search_support import documents

from services.search.adapters.tantivy_index import TantivyIndex
from services.search.domain import Change, make_query

pytest_plugins = ("search_support",)


def product(doc, **changes):
    fields = ("name", "description", "category", "price_minor", "currency", "attributes", "created_at", "image_url")
    return {k: getattr(doc, k) for k in fields} | changes


async def names(index, q, **filters):
    return [d.name for d in (await index.search(make_query(q, **filters))).items]


async def test_a_change_is_searchable_by_its_new_name_and_no_longer_by_the_old_one(index):
    docs = documents()
    await index.rebuild([docs])
    renamed = product(docs[3], name="Olivewood Casserole", description="The Olivewood Casserole.")
    await index.apply([Change("k4", renamed, product_version=5)])
    assert await names(index, "olivewood") == ["Olivewood Casserole"]
    assert "k4" not in [d.product_id for d in (await index.search(make_query("walnut saucepan"))).items]


async def test_an_older_or_repeated_event_changes_nothing(index):
    docs = documents(version=10)
    await index.rebuild([docs])
    assert await index.apply([Change("k4", product(docs[3], name="Stale Name"), product_version=9)]) == 0
    newer = Change("k4", product(docs[3], name="Fresh Name"), product_version=11)
    assert await index.apply([newer]) == 1
    assert await index.apply([newer]) == 0
    assert (await index.get("k4")).name == "Fresh Name"


async def test_stock_and_product_parts_are_versioned_apart(index):
    docs = documents(version=10)
    await index.rebuild([docs])
    await index.apply([Change("k1", available=0, stock_version=12)])
    await index.apply(
        [Change("k1", product(docs[0], name="Renamed Skillet"), product_version=11, available=7, stock_version=11)]
    )
    doc = await index.get("k1")
    assert (doc.name, doc.available, doc.in_stock) == ("Renamed Skillet", 0, False)


async def test_a_deleted_product_vanishes_and_a_late_change_does_not_bring_it_back(index):
    docs = documents(version=10)
    await index.rebuild([docs])
    await index.apply([Change("o1", product_version=20, deleted=True)])
    await index.apply([Change("o1", product(docs[20]), product_version=15)])
    assert await names(index, "tent") == []
    assert "o1" not in await index.ids()
    assert await index.count() == len(docs) - 1


async def test_a_product_first_seen_through_an_event_is_indexed(index):
    await index.rebuild([documents()[:3]])
    extra = documents()[10]
    await index.apply(
        [Change("new-1", product(extra, name="Solar Lantern"), product_version=3, available=4, stock_version=3)]
    )
    assert await names(index, "lantern") == ["Solar Lantern"]


async def test_out_of_stock_products_rank_lower_but_are_still_found(index):
    docs = documents()
    await index.rebuild([docs])
    before = await names(index, "headphones")
    await index.apply([Change("e1", available=0, stock_version=5), Change("e2", available=3, stock_version=5)])
    after = await names(index, "headphones")
    assert before == ["Wireless Headphones", "Noise-Cancelling Headphones"]
    assert after == ["Noise-Cancelling Headphones", "Wireless Headphones"]


async def test_filters_combine_and_facets_count_every_match(index):
    await index.rebuild([documents()])
    result = await index.search(
        make_query("", category="kitchen", price_max=5000, attributes=["brand:Ironclad", "brand:Nordvik"])
    )
    assert sorted(d.product_id for d in result.items) == ["k1", "k2", "k3"]
    assert result.total == 3
    assert {(f.value, f.count) for f in result.facets["brand"]} == {("Ironclad", 2), ("Nordvik", 1)}
    assert [(f.value, f.count) for f in result.facets["category"]] == [("kitchen", 3)]
    assert {f.value: f.count for f in result.facets["price"]}["2500-5000"] == 3


async def test_pages_do_not_overlap_and_cover_every_match(index):
    await index.rebuild([documents()])
    seen = []
    for page in (1, 2, 3):
        seen += [
            d.product_id for d in (await index.search(make_query("", sort="price", page=page, page_size=10))).items
        ]
    assert len(seen) == len(set(seen)) == 25
    prices = {d.product_id: d.price_minor for d in documents()}
    assert [prices[i] for i in seen] == sorted(prices[i] for i in seen)


async def test_empty_text_browses_everything_and_syntax_characters_are_plain_text(index):
    await index.rebuild([documents()])
    assert (await index.search(make_query(""))).total == 25
    for text in ['title:"skillet', "skillet)", "(((", "skil*", "a AND OR NOT", "~1 ^2 [x TO y]", "\\", "'", "-skillet"]:
        await index.search(make_query(text))
        await index.suggest(text, 5)
    assert "Carbon-Steel Skillet" in await names(index, "skillet)")


async def test_suggest_completes_the_last_word_and_ranks_sold_out_lower(index):
    await index.rebuild([documents()])
    found = [s.text for s in await index.suggest("head", 5)]
    assert found == ["Wireless Headphones", "Noise-Cancelling Headphones"]
    assert {s.text for s in await index.suggest("chelsea bo", 5)} == {"Leather Chelsea Boot", "Suede Chelsea Boot"}
    assert await index.suggest("", 5) == []


async def test_a_rebuild_replaces_the_whole_index_at_once(index):
    await index.rebuild([documents()])
    fewer = [replace(d, name=d.name + " Mk II") for d in documents()[:5]]
    assert await index.rebuild([fewer[:2], fewer[2:]]) == 5
    assert await index.count() == 5
    assert set(await names(index, "skillet")) == {
        'Cast-Iron Skillet 10" Mk II',
        "Carbon-Steel Skillet Mk II",
        'Cast-Iron Skillet 12" Mk II',
    }


async def test_two_processes_sharing_a_directory_see_each_others_writes(tmp_path: Path):
    writer, reader = TantivyIndex(tmp_path, reload_s=0), TantivyIndex(tmp_path, reload_s=0)
    await writer.rebuild([documents()])
    assert await reader.count() == 25
    docs = documents()
    both = [
        writer.apply([Change("k4", product(docs[3], name="Copper Saucepan"), product_version=2)]),
        reader.apply([Change("k5", product(docs[4], name="Steel Saucepan"), product_version=2)]),
    ]
    await asyncio.gather(*both)  # the writer lock makes the second wait, neither update is lost
    assert sorted(await names(reader, "saucepan")) == ["Copper Saucepan", "Steel Saucepan"]
    await reader.rebuild([docs[:3]])  # a rebuild elsewhere swaps the generation the other one reads
    assert await writer.count() == 3
    assert len(list(tmp_path.glob("gen-*"))) == 2


async def test_two_rebuilds_at_once_keep_each_others_generation(tmp_path: Path):
    """Two reindexes of one directory overlap (a seed and a reindex job; two stacks of one stage): the one that
    finishes first must not delete the generation the other is still writing, or its commit finds no files."""
    first, second = TantivyIndex(tmp_path, reload_s=0), TantivyIndex(tmp_path, reload_s=0)
    docs = documents()
    started = asyncio.Event()
    proceed = asyncio.Event()

    async def slow_batches():
        yield docs[:10]
        started.set()
        await proceed.wait()
        yield docs[10:]

    loop = asyncio.get_running_loop()
    batches = slow_batches()

    def pull():  # the rebuild's thread pulls each batch from the event loop, so the test decides when it ends
        while True:
            try:
                yield asyncio.run_coroutine_threadsafe(anext(batches), loop).result()
            except StopAsyncIteration:
                return

    slow = asyncio.create_task(second.rebuild(pull()))
    await started.wait()  # the second rebuild's generation exists and is half written
    assert await first.rebuild([docs[:3]]) == 3  # the first one finishes meanwhile and forgets old generations
    proceed.set()
    assert await slow == 25
    assert await first.count() == 25  # the slower rebuild committed and is now the live generation


async def test_a_generation_left_by_a_crashed_rebuild_is_forgotten(tmp_path: Path):
    index = TantivyIndex(tmp_path, reload_s=0)
    await index.rebuild([documents()[:2]])
    crashed = tmp_path / "gen-000099"
    crashed.mkdir()
    (crashed / ".building").write_text("")  # its builder died: nobody holds the lock
    await index.rebuild([documents()[:3]])
    assert not crashed.exists()
