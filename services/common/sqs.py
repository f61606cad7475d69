"""One SQS queue as a source of messages: receive a batch (long poll), delete a batch.

It knows nothing of what a message means: ``services.common.consumer`` decides that (the
idempotent-consumer policy), and the search indexer has a policy of its own over the same
source. Looking the queue up is the only call at construction, so ``SqsSource.connect``
blocks and may fail while AWS is unreachable; the runtime retries it in the background.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import boto3

from reference import physical_name

T = TypeVar("T")
MAX_BATCH = 10  # SQS takes at most 10 entries per receive and per delete batch


@dataclass(frozen=True)
class Message:
    body: str
    receipt: str
    attributes: dict[str, Any] = field(default_factory=dict)
    receive_count: int = 1


class SqsSource:
    """Receive and delete on one queue (its URL looked up once, by ``connect``)."""

    def __init__(self, client: Any, queue_url: str, *, wait_s: int = 20):
        self.sqs = client
        self.queue_url = queue_url
        self.wait_s = wait_s

    @classmethod
    def connect(cls, queue: str, *, stage: str, region: str, wait_s: int = 20) -> SqsSource:
        """Look up the stage's queue named ``queue`` in reference/ (blocking; raises while AWS is unreachable)."""
        client = boto3.client("sqs", region_name=region)
        url = client.get_queue_url(QueueName=physical_name(queue, stage))["QueueUrl"]
        return cls(client, url, wait_s=wait_s)

    async def receive(self, wait_s: int | None = None, max_messages: int = MAX_BATCH) -> list[Message]:
        """Up to ``max_messages``; waits up to ``wait_s`` (default: the source's) for the first one."""
        got = await in_daemon_thread(
            self.sqs.receive_message,
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=max_messages,
            WaitTimeSeconds=self.wait_s if wait_s is None else wait_s,
            MessageAttributeNames=["All"],
            MessageSystemAttributeNames=["ApproximateReceiveCount"],
        )
        return [
            Message(
                body=m["Body"],
                receipt=m["ReceiptHandle"],
                attributes=m.get("MessageAttributes", {}),
                receive_count=int(m.get("Attributes", {}).get("ApproximateReceiveCount", 1)),
            )
            for m in got.get("Messages", [])
        ]

    async def delete(self, messages: Sequence[Message]) -> None:
        """Delete ``messages`` in batches of 10 (one call each); a message left undeleted comes back."""
        for start in range(0, len(messages), MAX_BATCH):
            chunk = messages[start : start + MAX_BATCH]
            entries = [{"Id": str(i), "ReceiptHandle": m.receipt} for i, m in enumerate(chunk)]
            await asyncio.to_thread(self.sqs.delete_message_batch, QueueUrl=self.queue_url, Entries=entries)

    def ping(self) -> None:
        self.sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])


def in_daemon_thread(fn: Callable[..., T], *args: Any, **kwargs: Any) -> asyncio.Future[T]:
    """Run a blocking call (an SQS long poll) in a daemon thread.

    Not ``asyncio.to_thread``: the interpreter joins executor threads at exit, so a long
    poll in flight would hold a stopping service for up to 20 s after its lifespan ended.
    """
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def settle(method: Callable[[Any], None], value: Any) -> None:
        if not future.done():  # the awaiting task may have been cancelled meanwhile
            method(value)

    def run() -> None:
        try:
            outcome: tuple[Callable[[Any], None], Any] = (future.set_result, fn(*args, **kwargs))
        except BaseException as exc:  # noqa: BLE001 - handed to the awaiting task
            outcome = (future.set_exception, exc)
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile: nobody is waiting any more
            loop.call_soon_threadsafe(settle, *outcome)

    threading.Thread(target=run, name="sqs-long-poll", daemon=True).start()
    return future
