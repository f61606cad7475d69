"""The emulator's HTTP server (localcloud/moto_server.py, granian by default) keeps what moto's own server did.

S3 keys with an encoded slash, metadata names with an underscore, a chunked upload and a large body; SQS long
polls, which hold a request each for up to 20 s, never keep other requests waiting; and a stop signal ends the
emulator at once, a long poll running or not, on each server.
"""

from __future__ import annotations

import os
import signal
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import botocore.exceptions
import httpx
import psutil
import pytest

from localcloud import backends, health, moto_server
from localcloud.processes import wait_until

LONG_POLLS = 40  # more than the four queues' consumers of a stack, and more than a2wsgi's default pool (10)


def test_s3_keys_metadata_and_bodies_arrive_as_sent(aws):
    s3 = aws.client("s3")
    bucket = f"srv-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="a/b%2Fc", Body=b"slash", Metadata={"my_key": "kept", "other": "too"})
    head = s3.head_object(Bucket=bucket, Key="a/b%2Fc")
    assert head["Metadata"] == {"my_key": "kept", "other": "too"}
    assert s3.get_object(Bucket=bucket, Key="a/b%2Fc")["Body"].read() == b"slash"

    large = bytes(range(256)) * (6 * 4096)  # 6 MiB: boto3 asks for 100-continue
    s3.put_object(Bucket=bucket, Key="large", Body=large)
    assert s3.get_object(Bucket=bucket, Key="large")["Body"].read() == large

    chunks = [b"x" * 70_000, b"y" * 3, b"z" * 200_000]  # no length given: sent chunked
    response = httpx.put(f"{aws.endpoint_url}/{bucket}/chunked", content=iter(chunks), timeout=30)
    assert response.status_code == 200, response.text
    assert response.request.headers.get("transfer-encoding") == "chunked"
    assert s3.get_object(Bucket=bucket, Key="chunked")["Body"].read() == b"".join(chunks)


def test_long_polls_never_keep_other_requests_waiting(aws):
    sqs = aws.client("sqs")
    waiting = sqs.create_queue(QueueName=f"idle-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    other = sqs.create_queue(QueueName=f"busy-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    clients = [aws.client("sqs") for _ in range(LONG_POLLS)]
    started = threading.Barrier(LONG_POLLS + 1)

    def poll(client) -> int:
        started.wait()
        return len(client.receive_message(QueueUrl=waiting, WaitTimeSeconds=20).get("Messages", []))

    with ThreadPoolExecutor(LONG_POLLS) as pool:
        polls = [pool.submit(poll, c) for c in clients]
        started.wait()
        for n in range(5):  # while every long poll waits (none can end before a message arrives, or 20 s)
            sqs.send_message(QueueUrl=other, MessageBody=str(n))
        got = sqs.receive_message(QueueUrl=other, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
        assert got, "nothing received from the other queue"
        assert not any(p.done() for p in polls), "the other requests waited for the long polls to end"
        for n in range(LONG_POLLS):  # release them: one message each at least
            sqs.send_message(QueueUrl=waiting, MessageBody=str(n))
        assert sum(p.result(timeout=60) for p in polls) == LONG_POLLS


@pytest.mark.parametrize("server", moto_server.SERVERS)
def test_a_stop_signal_ends_the_emulator_at_once_abandoning_a_long_poll(server, tmp_path, monkeypatch):
    monkeypatch.setenv("SHOP_MOTO_SERVER", server)
    with backends.embedded_moto("us-east-1", tmp_path) as endpoint:
        assert endpoint.child is not None
        main = psutil.Process(endpoint.child.pid)
        tree = [main, *main.children(recursive=True)]  # granian: its worker too
        sqs = health.aws_client("sqs", endpoint_url=endpoint.url, region="us-east-1", timeout_s=30, retries=0)
        queue = sqs.create_queue(QueueName="stop")["QueueUrl"]
        before = _peers(tree)  # the connections open now (the readiness probe's may close meanwhile: not counted)
        poller = health.aws_client("sqs", endpoint_url=endpoint.url, region="us-east-1", timeout_s=30, retries=0)
        with ThreadPoolExecutor(1) as pool:
            poll = pool.submit(poller.receive_message, QueueUrl=queue, WaitTimeSeconds=20)
            wait_until(endpoint.child, lambda: _new(_peers(tree), before), timeout_s=10, what="the poll")
            os.kill(main.pid, signal.SIGTERM)  # the process alone, not its group: it stops what it started
            with pytest.raises(botocore.exceptions.ConnectionClosedError):
                poll.result(timeout=30)  # had the server waited for it, the poll would have answered, empty
        main.wait(timeout=30)
        # A killed worker may take a moment to be gone after its launcher: wait for it rather than race it.
        _, alive = psutil.wait_procs(tree, timeout=10)
        assert not [p for p in alive if _running(p)]


def _running(process: psutil.Process) -> bool:
    """Still running: neither gone (perhaps between two looks) nor a zombie waiting to be reaped."""
    try:
        return process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _new(now: set[int], before: set[int]) -> None:
    if not now - before:
        raise AssertionError(f"no connection but those open before (client ports {sorted(before)})")


def _peers(tree: list[psutil.Process]) -> set[int]:
    """The client ports of the server's established connections: a new one is a new client, whatever closed."""
    return {
        c.raddr.port for p in tree for c in p.net_connections("tcp") if c.status == psutil.CONN_ESTABLISHED and c.raddr
    }
