"""The indexer: a policy over the search-indexer queue (catalog-events) that applies each batch to the index.

The queue is read by the runtime's consumer (``rt.consumer``: the shared ``SqsSource``, stopped within the
service's grace); this module only decides what becomes of each message. Idempotent without a database:
each event carries the version of the catalog row it describes, and the index merges a part only when its
version is newer (``domain.merge``), so a redelivered, duplicated or late event changes nothing. A batch's
messages are settled (deleted) only after the index committed it; a failed batch stays on the queue, SQS
delivers it again, and after ``maxReceiveCount`` receives a message moves to the DLQ. A message that is
not a catalog event (poison) is left alone the same way.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from reference.events import Event, payload
from services.common.consumer import Outcome
from services.common.sqs import Message
from services.search.domain import PRODUCT_FIELDS, Change
from services.search.ports import SearchIndex

QUEUE = "search-indexer"
log = logging.getLogger("services.search.indexer")


def change_from(event: Event) -> Change:
    """The index change an event describes (raises ValueError / ValidationError if it is not one)."""
    data: dict[str, Any] = payload(event).model_dump()
    product_id = data["product_id"]
    if event.event_type == "ProductDeleted":
        return Change(product_id, product_version=int(data["product_version"]), deleted=True)
    available = data.get("available")
    stock = {"available": int(available), "stock_version": int(data["stock_version"])} if available is not None else {}
    if event.event_type == "StockChanged":
        return Change(product_id, **stock)
    if event.event_type != "ProductChanged":
        raise ValueError(f"not a catalog change: {event.event_type}")
    product = {k: data[k] for k in PRODUCT_FIELDS if k in data}
    if isinstance(product.get("created_at"), str):
        product["created_at"] = datetime.fromisoformat(product["created_at"])
    return Change(product_id, product=product, product_version=int(data["product_version"]), **stock)


class IndexPolicy:
    """Applies a batch of catalog events to the index in one write; the version guard makes it idempotent."""

    def __init__(self, index: SearchIndex):
        self.index = index

    async def decide(self, messages: Sequence[Message]) -> list[Outcome]:
        outcomes: list[Outcome] = []
        changes: list[Change] = []
        for message in messages:
            try:
                changes.append(change_from(Event.model_validate_json(message.body)))
                outcomes.append(Outcome.HANDLED)
            except (ValidationError, ValueError, KeyError, TypeError) as exc:
                log.error("poison message left for the DLQ: %s", str(exc)[:300])
                outcomes.append(Outcome.POISON)
        if not changes:
            return outcomes
        try:
            await self.index.apply(changes)
        except Exception:
            log.exception("applying %d changes failed; SQS will redeliver them", len(changes))
            return [Outcome.FAILED if o is Outcome.HANDLED else o for o in outcomes]
        return outcomes
