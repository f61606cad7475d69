"""Inspect and redrive dead letters: ``nox -s dlq -- list | show QUEUE | redrive QUEUE``.

Works on the running local stack (found through ``localcloud.state``) and on AWS alike
(with ``SHOP_STAGE`` and the usual AWS credentials). Redriving is safe because consumers
are idempotent by event id: a message that was in fact handled is skipped as a duplicate.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import boto3

from reference import RESOURCES, physical_name


@dataclass(frozen=True)
class QueuePair:
    name: str
    url: str
    dlq_url: str


class DeadLetters:
    def __init__(self, stage: str, region: str):
        self.stage = stage
        self.sqs = boto3.client("sqs", region_name=region)

    def pair(self, queue: str) -> QueuePair:
        model = RESOURCES.queue(queue)
        url = self.sqs.get_queue_url(QueueName=physical_name(model.name, self.stage))["QueueUrl"]
        dlq = self.sqs.get_queue_url(QueueName=physical_name(model.dlq_name, self.stage))["QueueUrl"]
        return QueuePair(queue, url, dlq)

    def depth(self, url: str) -> tuple[int, int]:
        attrs = self.sqs.get_queue_attributes(
            QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
        )["Attributes"]
        return int(attrs["ApproximateNumberOfMessages"]), int(attrs["ApproximateNumberOfMessagesNotVisible"])

    def summary(self) -> list[dict[str, Any]]:
        rows = []
        for queue in RESOURCES.queues:
            pair = self.pair(queue.name)
            (visible, in_flight), (dead, _) = self.depth(pair.url), self.depth(pair.dlq_url)
            rows.append({"queue": queue.name, "waiting": visible, "in_flight": in_flight, "dead": dead})
        return rows

    def peek(self, queue: str, limit: int) -> list[dict[str, Any]]:
        """Up to ``limit`` dead letters, made visible again at once (the DLQ keeps them)."""
        pair, seen, out = self.pair(queue), set(), []
        while len(out) < limit:
            got = self.sqs.receive_message(
                QueueUrl=pair.dlq_url,
                MaxNumberOfMessages=min(10, limit - len(out)),
                VisibilityTimeout=0,
                WaitTimeSeconds=0,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            fresh = [m for m in got if m["MessageId"] not in seen]
            if not fresh:
                break
            for m in fresh:
                seen.add(m["MessageId"])
                out.append(_describe(m))
        return out

    def redrive(self, queue: str, limit: int | None = None) -> int:
        """Move dead letters back to their queue (send, then delete); returns how many moved."""
        pair, moved = self.pair(queue), 0
        while limit is None or moved < limit:
            wanted = 10 if limit is None else min(10, limit - moved)  # never hide letters we will not move
            got = self.sqs.receive_message(
                QueueUrl=pair.dlq_url, MaxNumberOfMessages=wanted, VisibilityTimeout=60, WaitTimeSeconds=0,
                MessageAttributeNames=["All"],
            ).get("Messages", [])  # fmt: skip
            if not got:
                break
            for m in got:
                attrs = m.get("MessageAttributes", {})
                self.sqs.send_message(QueueUrl=pair.url, MessageBody=m["Body"], MessageAttributes=_clean(attrs))
                self.sqs.delete_message(QueueUrl=pair.dlq_url, ReceiptHandle=m["ReceiptHandle"])
                moved += 1
        return moved


def _clean(attrs: dict[str, Any]) -> dict[str, Any]:
    return {
        k: {kk: vv for kk, vv in v.items() if kk in ("DataType", "StringValue", "BinaryValue")}
        for k, v in attrs.items()
    }


def _describe(message: dict[str, Any]) -> dict[str, Any]:
    attrs = message.get("Attributes", {})
    sent = datetime.fromtimestamp(int(attrs.get("SentTimestamp", "0")) / 1000, UTC)
    try:
        body: Any = json.loads(message["Body"])
    except ValueError:
        body = message["Body"]
    event = body if isinstance(body, dict) else {}
    return {
        "message_id": message["MessageId"],
        "sent_at": sent.isoformat(timespec="seconds"),
        "receives": int(attrs.get("ApproximateReceiveCount", "0")),
        "event_type": event.get("event_type", "(not an event)"),
        "subject": event.get("subject", ""),
        "body": body,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="nox -s dlq --",
        description="Inspect and redrive the dead-letter queues of the shop's SQS consumers.",
        epilog="Queues: " + ", ".join(q.name for q in RESOURCES.queues) + ". Uses the running `nox -s up` stack "
        "of SHOP_STAGE (default local), or AWS when AWS credentials and SHOP_STAGE point there.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="messages waiting, in flight and dead, per queue")
    show = commands.add_parser("show", help="print dead letters of one queue (they stay in the DLQ)")
    show.add_argument("queue", choices=[q.name for q in RESOURCES.queues])
    show.add_argument("--limit", type=int, default=10)
    show.add_argument("--json", action="store_true", help="one JSON object per line, bodies included")
    redrive = commands.add_parser("redrive", help="move dead letters back to their queue")
    redrive.add_argument("queue", choices=[q.name for q in RESOURCES.queues])
    redrive.add_argument("--limit", type=int, default=None, help="at most this many (default: all)")
    args = parser.parse_args(argv)

    from localcloud import state

    if not os.environ.get("AWS_ENDPOINT_URL") and not state.use_running_stack() and not os.environ.get("AWS_PROFILE"):
        print("note: no running local stack found (start one with `nox -s up`); using AWS credentials", file=sys.stderr)
    dl = DeadLetters(os.environ.get("SHOP_STAGE", "local"), os.environ.get("AWS_REGION", "us-east-1"))
    if args.command == "list":
        print(f"{'queue':<18} {'waiting':>8} {'in flight':>10} {'dead':>6}")
        for row in dl.summary():
            print(f"{row['queue']:<18} {row['waiting']:>8} {row['in_flight']:>10} {row['dead']:>6}")
    elif args.command == "show":
        letters = dl.peek(args.queue, args.limit)
        for letter in letters:
            if args.json:
                print(json.dumps(letter))
            else:
                print(f"{letter['sent_at']}  x{letter['receives']}  {letter['event_type']:<18} {letter['subject']}  "
                      f"{json.dumps(letter['body'])[:80]}")  # fmt: skip
        if not letters:
            print(f"no dead letters for {args.queue}")
    else:
        print(f"redrove {dl.redrive(args.queue, args.limit)} message(s) from {args.queue}-dlq to {args.queue}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
