"""The indexer: consumes the search-indexer queue (catalog-events) and applies each change to the index.

Idempotent without a database: each event carries the version of the catalog row it
describes, and the index merges a part only when its version is newer (``domain.merge``),
so a redelivered, duplicated or late event changes nothing. A batch's messages are
deleted only after the index committed it; a failed batch stays on the queue, SQS
delivers it again, and after ``maxReceiveCount`` receives a message moves to the DLQ.
A message that is not a catalog event (poison) is left alone the same way.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import boto3
from pydantic import ValidationError

from reference import physical_name
from reference.events import Event, payload
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


@dataclass
class Outcome:
    applied: int = 0  # messages whose change was written (or was already older than the index)
    poison: int = 0
    failed: int = 0


class Indexer:
    """Long-polls the search-indexer queue and applies what it receives in batches of up to 10."""

    def __init__(self, index: SearchIndex, *, stage: str, region: str, wait_s: int = 20):
        self.index = index
        self.wait_s = wait_s
        self.sqs = boto3.client("sqs", region_name=region)
        self.queue_url = self.sqs.get_queue_url(QueueName=physical_name(QUEUE, stage))["QueueUrl"]

    async def poll_once(self, wait_s: int | None = None) -> Outcome:
        got = await asyncio.to_thread(
            self.sqs.receive_message,
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=self.wait_s if wait_s is None else wait_s,
        )
        outcome = Outcome()
        changes, handles = [], []
        for message in got.get("Messages", []):
            try:
                changes.append(change_from(Event.model_validate_json(message["Body"])))
                handles.append(message["ReceiptHandle"])
            except (ValidationError, ValueError, KeyError, TypeError) as exc:
                log.error("poison message left for the DLQ: %s", str(exc)[:300])
                outcome.poison += 1
        if not changes:
            return outcome
        try:
            await self.index.apply(changes)
        except Exception:
            log.exception("applying %d changes failed; SQS will redeliver them", len(changes))
            outcome.failed += len(changes)
            return outcome
        entries = [{"Id": str(i), "ReceiptHandle": h} for i, h in enumerate(handles)]
        await asyncio.to_thread(self.sqs.delete_message_batch, QueueUrl=self.queue_url, Entries=entries)
        outcome.applied += len(changes)
        return outcome

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.poll_once()
            except Exception:
                log.exception("indexer poll failed")
                await asyncio.sleep(1)
