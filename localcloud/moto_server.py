"""moto's server, with DynamoDB's conditional writes made atomic as they are in AWS.

moto evaluates a write's ``ConditionExpression`` and then writes, without a lock, and its server
answers each request on a thread of its own: two conditional puts against the same version can both
pass the check, and one update is lost. Seen here: 12 parallel adds to one cart kept 11 on a loaded
machine (tests/integration/test_cart.py). DynamoDB applies a write's condition and the write as one
atomic step per item, and a transaction all at once; this launcher gives moto's DynamoDB the same
guarantee by serialising its writes (one lock for all tables: coarser than AWS, which locks per
item, but writes to the emulator are short), then runs moto's own server unchanged.
``python -m localcloud.moto_server -H 127.0.0.1 -p 5000`` takes moto.server's arguments.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any

from moto.dynamodb.models import DynamoDBBackend

WRITES = ("put_item", "update_item", "delete_item", "transact_write_items")
_lock = threading.RLock()


def _atomic(write: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(write)
    def locked(self: DynamoDBBackend, *args: Any, **kwargs: Any) -> Any:
        with _lock:
            return write(self, *args, **kwargs)

    locked.__atomic__ = True  # type: ignore[attr-defined]
    return locked


def make_writes_atomic() -> None:
    """Wrap each DynamoDB write of moto's backend in the lock (idempotent)."""
    for name in WRITES:
        write = getattr(DynamoDBBackend, name)
        if not getattr(write, "__atomic__", False):
            setattr(DynamoDBBackend, name, _atomic(write))


def main(argv: list[str] | None = None) -> None:
    make_writes_atomic()
    import moto.server

    from localcloud.moto_snapshot import with_snapshot_routes

    # The seed cache's routes (localcloud/moto_snapshot.py), answered before moto's own.
    moto.server.DomainDispatcherApplication = with_snapshot_routes(moto.server.DomainDispatcherApplication)
    moto.server.main(argv)


if __name__ == "__main__":
    main()
