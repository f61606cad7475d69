"""The local emulator's launcher makes moto's DynamoDB writes atomic (localcloud/moto_server.py)."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

from moto.dynamodb.models import DynamoDBBackend

from localcloud import moto_server


class _Table:
    hash_key_attr, range_key_attr = "id", None


class _Backend:
    def __init__(self) -> None:
        self.tables = {"carts": _Table()}


def _item(name: str) -> dict:
    return {"id": {"S": name}}


def test_dynamodb_writes_to_one_item_never_interleave_once_made_atomic_and_other_items_do_not_wait(monkeypatch):
    active: dict[str, int] = {}
    most: dict[str, int] = {}
    guard = threading.Lock()

    def slow_write(self, table_name, attrs=None, *args, key=None, **kwargs):  # a check, a thread switch, a write
        who = (attrs or key)["id"]["S"]
        with guard:
            active[who] = active.get(who, 0) + 1
            most[who] = max(most.get(who, 0), active[who])
        time.sleep(0.01)
        with guard:
            active[who] -= 1

    for name in moto_server.WRITES:
        monkeypatch.setattr(DynamoDBBackend, name, slow_write)
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda _: DynamoDBBackend.put_item(_Backend(), "carts", _item("x")), range(16)))
    assert most["x"] > 1, "the unwrapped writes did not overlap: the test would prove nothing"

    active.clear(), most.clear()
    moto_server.make_writes_atomic()
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda _: DynamoDBBackend.put_item(_Backend(), "carts", _item("x")), range(8)))
        list(pool.map(lambda _: DynamoDBBackend.update_item(_Backend(), "carts", key=_item("x")), range(8)))
    assert most["x"] == 1  # one item: one write at a time

    overlapping = threading.Barrier(2, timeout=5)  # two items: each write waits for the other to be running

    def meet(self, table_name, attrs=None, *args, **kwargs):
        overlapping.wait()

    monkeypatch.setattr(DynamoDBBackend, "put_item", meet)
    moto_server.make_writes_atomic()
    with ThreadPoolExecutor(2) as pool:  # a broken barrier (one waited behind the other) raises here
        list(pool.map(lambda n: DynamoDBBackend.put_item(_Backend(), "carts", _item(n)), _two_items_apart()))


def _two_items_apart() -> list[str]:
    """Two item names whose writes take different stripes (this process's string hashing decides which)."""
    first = moto_server._stripe(_Backend(), "carts", _item("a"))
    return [
        "a",
        next(n for n in map(str, range(1000)) if moto_server._stripe(_Backend(), "carts", _item(n)) is not first),
    ]


def test_a_transaction_waits_for_an_item_write_in_flight(monkeypatch):
    writing, release, transacted = threading.Event(), threading.Event(), threading.Event()

    def held_put(self, *args, **kwargs):  # an item write that stays in flight until released
        writing.set()
        assert release.wait(5)

    def transact(self, *args, **kwargs):
        transacted.set()

    monkeypatch.setattr(DynamoDBBackend, "put_item", held_put)
    monkeypatch.setattr(DynamoDBBackend, "transact_write_items", transact)
    moto_server.make_writes_atomic()
    with ThreadPoolExecutor(2) as pool:
        put = pool.submit(DynamoDBBackend.put_item, _Backend(), "carts", _item("x"))
        assert writing.wait(5)
        tx = pool.submit(DynamoDBBackend.transact_write_items, _Backend(), [])
        assert not transacted.wait(0.3)  # it waits for the item's stripe (unwrapped, it would run at once)
        release.set()
        put.result(5), tx.result(5)
    assert transacted.is_set()


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


# --------------------------------------------------------------------------- the environ under uvicorn


def _seen_by_moto(headers: list[tuple[bytes, bytes]], raw_path: bytes = b"/", query: bytes = b"") -> dict:
    """The environ moto's application gets from ``with_werkzeug_environ``, given what a2wsgi built."""
    from urllib.parse import unquote

    from a2wsgi.wsgi import build_environ

    scope = {"type": "http", "method": "PUT", "path": unquote(raw_path.decode()), "raw_path": raw_path,
             "query_string": query, "http_version": "1.1", "headers": headers}  # fmt: skip
    seen = {}

    def app(environ, start_response):
        seen.update(environ)
        return []

    moto_server.with_werkzeug_environ(app)(build_environ(scope, None), None)  # type: ignore[arg-type]
    return seen


def test_moto_gets_the_path_as_sent_an_encoded_slash_kept():
    environ = _seen_by_moto([(b"host", b"h")], raw_path=b"/bucket/a%2Fb", query=b"x=1%2F2")
    assert environ["RAW_URI"] == environ["REQUEST_URI"] == "/bucket/a%2Fb?x=1%2F2"
    assert environ["PATH_INFO"] == "/bucket/a/b"


def test_s3_metadata_with_an_underscore_keeps_its_name_and_other_underscored_headers_are_dropped():
    from moto.core.request import PRESERVED_HEADER_NAMES_ENVIRON_KEY

    environ = _seen_by_moto([(b"x-amz-meta-my_key", b"kept"), (b"x_forwarded_for", b"spoof"), (b"x-amz-meta-a", b"1")])
    assert environ["HTTP_X_AMZ_META_MY_KEY"] == "kept"
    assert environ[PRESERVED_HEADER_NAMES_ENVIRON_KEY] == {"HTTP_X_AMZ_META_MY_KEY": "x-amz-meta-my_key"}
    assert "HTTP_X_FORWARDED_FOR" not in environ
    assert environ["HTTP_X_AMZ_META_A"] == "1"


def test_an_underscored_header_never_stands_in_for_a_dashed_one():
    from moto.core.request import PRESERVED_HEADER_NAMES_ENVIRON_KEY

    environ = _seen_by_moto([(b"x-amz-meta-my-key", b"dashed"), (b"x-amz-meta-my_key", b"underscored")])
    assert environ["HTTP_X_AMZ_META_MY_KEY"] == "dashed"
    assert environ[PRESERVED_HEADER_NAMES_ENVIRON_KEY] == {}


def test_a_chunked_body_is_read_to_its_end():
    assert _seen_by_moto([(b"transfer-encoding", b"chunked")])["wsgi.input_terminated"] is True
    assert "wsgi.input_terminated" not in _seen_by_moto([(b"content-length", b"3")])


# --------------------------------------------------------------------------- the environ under granian


def _under_granian(sent_path: str, query: str = "", **headers: str) -> dict:
    """The environ moto's application gets from ``with_granian_environ``, given the environ granian builds for a
    request line's path ``sent_path``: percent-decoded, as bytes read as latin-1 (PEP 3333), the headers' names
    folded into ``HTTP_*`` keys."""
    from urllib.parse import unquote_to_bytes

    environ = {"PATH_INFO": unquote_to_bytes(sent_path).decode("latin-1"), "QUERY_STRING": query}
    environ |= {"HTTP_" + name.upper().replace("-", "_"): value for name, value in headers.items()}
    seen = {}

    def app(environ, start_response):
        seen.update(environ)
        return []

    moto_server.with_granian_environ(app)(environ, None)  # type: ignore[arg-type]
    return seen


def test_under_granian_moto_gets_the_path_botocore_sent_for_an_s3_key():
    from botocore.utils import percent_encode

    key = "a/b%2Fc é+=&?;x~y"  # a literal "%2F" in the key: botocore sends "%252F"
    sent = "/bucket/" + percent_encode(key, safe="/~")
    environ = _under_granian(sent, "x=1%2F2")
    assert environ["RAW_URI"] == environ["REQUEST_URI"] == f"{sent}?x=1%2F2"
    assert _under_granian("/bucket/k")["RAW_URI"] == "/bucket/k"


def test_under_granian_a_signed_underscored_metadata_name_is_put_back_unless_a_dashed_one_was_sent():
    from moto.core.request import PRESERVED_HEADER_NAMES_ENVIRON_KEY as NAMES

    auth = "AWS4-HMAC-SHA256 Credential=x/20261130/us-east-1/s3/aws4_request, SignedHeaders={}, Signature=ab"
    signed = _under_granian("/b/k", authorization=auth.format("host;x-amz-meta-a;x-amz-meta-my_key;x_other"))
    assert signed[NAMES] == {"HTTP_X_AMZ_META_MY_KEY": "x-amz-meta-my_key"}
    both = _under_granian("/b/k", authorization=auth.format("host;x-amz-meta-my-key;x-amz-meta-my_key"))
    assert both[NAMES] == {}
    presigned = _under_granian("/b/k", "X-Amz-SignedHeaders=host%3Bx-amz-meta-my_key&X-Amz-Signature=ab")
    assert presigned[NAMES] == {"HTTP_X_AMZ_META_MY_KEY": "x-amz-meta-my_key"}
    assert NAMES not in _under_granian("/b/k", authorization=auth.format("host;x-amz-meta-a"))
    assert NAMES not in _under_granian("/b/k")


def test_under_granian_the_processes_http_variables_never_read_as_headers(monkeypatch):
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.example:3128")  # granian copies os.environ into each environ
    assert "HTTP_PROXY" not in _under_granian("/", proxy="http://proxy.example:3128")
    assert _under_granian("/", proxy="sent")["HTTP_PROXY"] == "sent"
