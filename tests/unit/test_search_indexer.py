"""The indexer's policy over a batch of queue messages: what is applied, what is poison, what comes back."""

from __future__ import annotations

from collections.abc import Sequence

from reference.events import new_event
from services.common.consumer import Outcome
from services.common.sqs import Message
from services.search.adapters.tantivy_index import TantivyIndex
from services.search.domain import Change
from services.search.indexer import IndexPolicy


def stock(product_id: str, available: int, version: int) -> Message:
    data = {"product_id": product_id, "available": available, "stock_version": version}
    event = new_event("StockChanged", source="catalog", subject=product_id, data=data)
    return Message(body=event.model_dump_json(), receipt=f"r-{product_id}-{version}")


class Broken(TantivyIndex):
    async def apply(self, changes: Sequence[Change]) -> int:
        raise OSError("disk full")


async def test_a_batch_is_applied_and_its_poison_message_is_left_for_the_dlq():
    index = TantivyIndex(None, reload_s=0)
    outcomes = await IndexPolicy(index).decide([stock("p1", 0, 3), Message("not json", "r-x"), stock("p2", 4, 5)])
    assert outcomes == [Outcome.HANDLED, Outcome.POISON, Outcome.HANDLED]
    assert (await index.get("p1")).available == 0
    assert (await index.get("p2")).available == 4


async def test_a_redelivered_or_older_event_is_settled_and_changes_nothing():
    index = TantivyIndex(None, reload_s=0)
    policy = IndexPolicy(index)
    await policy.decide([stock("p1", 7, 9)])
    outcomes = await policy.decide([stock("p1", 7, 9), stock("p1", 1, 2)])
    assert outcomes == [Outcome.HANDLED, Outcome.HANDLED]  # settled: deleted from the queue
    assert ((await index.get("p1")).available, (await index.get("p1")).stock_version) == (7, 9)


async def test_a_batch_the_index_refuses_comes_back_and_poison_stays_poison():
    outcomes = await IndexPolicy(Broken(None, reload_s=0)).decide([stock("p1", 1, 1), Message("{}", "r-y")])
    assert outcomes == [Outcome.FAILED, Outcome.POISON]
    assert not any(o.settled for o in outcomes)
