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


def test_a_restored_snapshot_is_the_state_it_copied_and_later_changes_do_not_leak_into_it():
    from moto import mock_aws

    from localcloud.health import aws_client

    snapshots = moto_server.Snapshots()
    with mock_aws():
        sqs = aws_client("sqs", endpoint_url=None, region="us-east-1")
        kept = sqs.create_queue(QueueName="kept")["QueueUrl"]
        assert snapshots.take("one") >= 1
        sqs.send_message(QueueUrl=kept, MessageBody="after the snapshot")
        sqs.create_queue(QueueName="later")

        assert snapshots.restore("one")
        assert sqs.list_queues()["QueueUrls"] == [kept]
        attributes = sqs.get_queue_attributes(QueueUrl=kept, AttributeNames=["ApproximateNumberOfMessages"])
        assert attributes["Attributes"]["ApproximateNumberOfMessages"] == "0"

        sqs.send_message(QueueUrl=kept, MessageBody="into the copy")  # the copy works: its locks are fresh ones
        assert snapshots.restore("one")  # and it was a copy: the snapshot itself is unchanged
        assert "Messages" not in sqs.receive_message(QueueUrl=kept, WaitTimeSeconds=0)


def test_restoring_a_snapshot_never_taken_says_so_and_changes_nothing():
    from moto import mock_aws

    from localcloud.health import aws_client

    with mock_aws():
        sqs = aws_client("sqs", endpoint_url=None, region="us-east-1")
        sqs.create_queue(QueueName="stays")
        assert not moto_server.Snapshots().restore("never")
        assert len(sqs.list_queues()["QueueUrls"]) == 1
