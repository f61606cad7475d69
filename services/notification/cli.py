"""What was sent: ``python -m services.notification.cli [--limit N] [--order ID] [--emulator] [--json]``.

Reads the notification service's record of the running local stack (found through
``localcloud.state``, as ``nox -s dlq`` does) or of AWS (``SHOP_STAGE`` and the usual
credentials). ``--emulator`` also lists what the AWS emulator's SES kept: moto serves every
sent message at ``<endpoint>/moto-api/data.json`` (real SES keeps no copy to read back).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from typing import Any

import httpx

from services.common import db, secrets
from services.notification.adapters.postgres import PostgresSentEmails
from services.notification.app import SCHEMA
from services.notification.ports import SentEmail
from services.notification.settings import NotificationSettings


async def recorded(settings: NotificationSettings, limit: int, order_id: str | None) -> list[SentEmail]:
    secret = await asyncio.to_thread(secrets.read_secret, settings.database_secret_id, settings.aws_region)
    database = await db.Database.connect(secrets.database_url(secret, "psycopg"), SCHEMA, max_size=1)
    try:
        return await PostgresSentEmails(database).latest(limit, order_id=order_id)
    finally:
        await database.close()


def emulator_messages(endpoint_url: str) -> list[dict[str, Any]]:
    """Every e-mail moto's SES accepted since its last reset: ``{id, source, destinations, subject, body}``.

    moto keeps the HTML part as ``body`` when there is one (else the text part).
    """
    data = httpx.get(f"{endpoint_url.rstrip('/')}/moto-api/data.json", timeout=10).raise_for_status().json()
    return data.get("ses", {}).get("Message", [])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m services.notification.cli", description="Show the last e-mails the shop sent, newest first."
    )
    parser.add_argument("--limit", type=int, default=10, help="at most this many (1-100, default 10)")
    parser.add_argument("--order", help="only the e-mails of this order id")
    parser.add_argument("--emulator", action="store_true", help="also list what the AWS emulator's SES kept")
    parser.add_argument("--json", action="store_true", help="one JSON object per line")
    args = parser.parse_args(argv)
    if not 1 <= args.limit <= 100:
        parser.error("--limit must be between 1 and 100")

    from localcloud import state

    if not os.environ.get("AWS_ENDPOINT_URL") and not state.use_running_stack():
        print("note: no running local stack found (start one with `nox -s up`); using AWS credentials", file=sys.stderr)
    rows = asyncio.run(recorded(NotificationSettings(), args.limit, args.order))
    for row in rows:
        if args.json:
            print(json.dumps(_as_dict(row)))
        else:
            when = (row.sent_at or row.created_at).isoformat(timespec="seconds")
            to = row.to or f"(skipped: {row.skip_reason})"
            print(f"{when}  {row.status:<7}  {row.event_type:<16} {row.order_id:<24} {to:<32} {row.subject}")
    if not rows:
        print("no e-mails recorded yet")
    if args.emulator:
        endpoint = os.environ.get("AWS_ENDPOINT_URL")
        if not endpoint:
            print("--emulator: no emulator here (real SES keeps no copy of sent mail)", file=sys.stderr)
            return 1
        kept = emulator_messages(endpoint)
        print(f"\nthe emulator's SES kept {len(kept)} message(s); the last {min(args.limit, len(kept))}:")
        for message in kept[-args.limit :][::-1]:
            to = ",".join(message.get("destinations", {}).get("ToAddresses", []))
            print(f"  {message['id'][:24]}  {to:<32} {message['subject']}")
    return 0


def _as_dict(row: SentEmail) -> dict[str, Any]:
    return {
        "event_id": str(row.event_id), "event_type": row.event_type, "order_id": row.order_id, "to": row.to,
        "subject": row.subject, "status": row.status, "skip_reason": row.skip_reason, "message_id": row.message_id,
        "created_at": row.created_at.isoformat(), "sent_at": row.sent_at.isoformat() if row.sent_at else None,
    }  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
