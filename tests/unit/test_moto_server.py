"""The local emulator's launcher makes moto's DynamoDB writes atomic (localcloud/moto_server.py)."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

from moto.dynamodb.models import DynamoDBBackend

from localcloud import moto_server


def test_dynamodb_writes_never_interleave_once_made_atomic(monkeypatch):
    active, most = 0, 0
    guard = threading.Lock()

    def slow_put(self, *args, **kwargs):  # a condition check and a write with a thread switch between them
        nonlocal active, most
        with guard:
            active += 1
            most = max(most, active)
        time.sleep(0.01)
        with guard:
            active -= 1

    for name in moto_server.WRITES:
        monkeypatch.setattr(DynamoDBBackend, name, slow_put)
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda _: DynamoDBBackend.put_item(None), range(16)))
    assert most > 1, "the unwrapped writes did not overlap: the test would prove nothing"

    most = 0
    moto_server.make_writes_atomic()
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda _: DynamoDBBackend.put_item(None), range(16)))
    assert most == 1


def test_wrapping_twice_adds_no_second_layer(monkeypatch):
    for name in moto_server.WRITES:
        monkeypatch.setattr(DynamoDBBackend, name, getattr(DynamoDBBackend, name))
    moto_server.make_writes_atomic()
    once = DynamoDBBackend.put_item
    moto_server.make_writes_atomic()
    assert DynamoDBBackend.put_item is once
