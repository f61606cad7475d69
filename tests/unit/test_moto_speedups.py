"""The emulator's speed-ups answer as moto does (localcloud/moto_speedups.py).

Each test installs them into this process's moto and puts moto's own functions back afterwards, so no other test
runs against a patched moto it did not ask for.
"""

from __future__ import annotations

import datetime
import functools
import sys
import threading
import types

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.core.base_backend import BackendDict, backend_lock
from moto.core.serialize import AttributePicker, ResponseSerializer
from moto.dynamodb.comparisons import ConditionExpressionParser
from moto.dynamodb.models.dynamo_type import DynamoType, Item
from moto.dynamodb.models.table import Table
from moto.dynamodb.parsing import validators
from moto.dynamodb.parsing.ast_nodes import DepthFirstTraverser
from moto.dynamodb.parsing.expressions import UpdateExpressionParser
from moto.sqs.models import SQSBackend

from localcloud import moto_speedups

ACCOUNT = "123456789012"
# The cart's expressions (services/cart/adapters/dynamodb.py), others of moto's grammar, and some that do not parse.
UPDATES = [
    "SET #l.#p = if_not_exists(#l.#p, :zero) + :q, #v = #v + :one, updated_at = :now, expires_at = :exp",
    "SET #l.#p = :q, #v = #v + :one, updated_at = :now, expires_at = :exp",
    "SET #l.#p0 = #l.#p0 - :q0, #l.#p1 = #l.#p1 - :q1, #v = #v + :one, updated_at = :now, expires_at = :exp",
    "SET a = list_append(a, :x) REMOVE b, c[2] ADD n :one DELETE s :set",
    "SET a = b + c",
    "SET = :x",
    "SET a = :x SET b = :y",
    "DROP a",
]
CONDITIONS = [
    "attribute_exists(cart_id) AND expires_at > :now AND attribute_exists(#l) AND ((#l.#p BETWEEN :zero AND :bound"
    " AND size(#l) <= :lines) OR (attribute_not_exists(#l.#p) AND size(#l) < :lines))",
    "attribute_not_exists(cart_id) OR version = :v",
    "attribute_exists(cart_id) AND expires_at > :now AND #l.#p0 >= :q0 AND #l.#p1 >= :q1",
    "NOT (a IN (:x, :y)) AND begins_with(#n, :p) AND c <> :z AND d[1].e < :w",
    "a = :x AND",
    "a ! :x",
]


@pytest.fixture
def speedups(monkeypatch):
    """Installed, with moto's own functions put back after the test."""
    import moto.core.responses

    monkeypatch.setattr(moto.core.responses, "method_names_from_class", moto.core.responses.method_names_from_class)
    for cls, name in (
        (BackendDict, "_create_account_specific_backend"),
        (SQSBackend, "is_message_valid_based_on_retention_period"),
        (ConditionExpressionParser, "_lex_condition_expression"),
    ):
        monkeypatch.setattr(cls, name, cls.__dict__[name])
    monkeypatch.setattr(UpdateExpressionParser, "make", UpdateExpressionParser.__dict__["make"])
    monkeypatch.setattr(ResponseSerializer, "get_value", ResponseSerializer.__dict__["get_value"])
    monkeypatch.setattr(DepthFirstTraverser, "traverse_node_recursively", DepthFirstTraverser.traverse_node_recursively)
    monkeypatch.setattr(validators, "deepcopy", validators.deepcopy)
    import moto.core.utils
    import moto.sqs.models

    for name in ("unix_time", "unix_time_millis"):
        monkeypatch.setattr(moto.sqs.models, name, getattr(moto.core.utils, name))

    for module in list(sys.modules.values()):  # moto's own converter back in every module that holds it
        if getattr(module, "__name__", "").startswith("moto") and hasattr(module, "camelcase_to_underscores"):
            monkeypatch.setattr(module, "camelcase_to_underscores", moto.core.utils.camelcase_to_underscores)
    plain = {
        "lex": ConditionExpressionParser._lex_condition_expression,
        "make": UpdateExpressionParser.__dict__["make"].__func__,
        "retention": SQSBackend.is_message_valid_based_on_retention_period,
        "camel": moto.core.utils.camelcase_to_underscores,
    }
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    installed = moto_speedups.install(DomainDispatcherApplication(create_backend_app))
    yield installed, plain
    for module in list(sys.modules.values()):  # and in those imported meanwhile, which took the remembering one
        if getattr(module, "__name__", "").startswith("moto") and hasattr(
            getattr(module, "camelcase_to_underscores", None), "cache_info"
        ):
            module.camelcase_to_underscores = plain["camel"]


def _shape(x, owner=None):
    """A syntax tree as plain data: each node's class and attributes, its ``parent`` as whether it is the node
    holding it (pickle's bytes would differ on which strings are shared, not on the tree)."""
    if isinstance(x, (list, tuple)):
        return [_shape(item, owner) for item in x]
    if hasattr(x, "__dict__"):
        return type(x).__name__, {
            k: (v is owner) if k == "parent" else _shape(v, x) for k, v in sorted(vars(x).items())
        }
    return x


def _outcome(call):
    try:
        return "ok", call()
    except Exception as exc:  # noqa: BLE001 - compared with what moto's own function raised
        return type(exc).__name__, str(exc)


def test_every_speedup_is_installed_once(speedups):
    installed, _ = speedups
    assert installed == [
        "host lookups",
        "backends by account",
        "sqs retention",
        "dynamodb expressions",
        "camelcase names",
        "response keys",
        "dynamodb validation",
        "sqs clock",
    ]
    wrapped = (BackendDict._create_account_specific_backend, UpdateExpressionParser.make)
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    assert moto_speedups.install(DomainDispatcherApplication(create_backend_app)) == installed
    assert (BackendDict._create_account_specific_backend, UpdateExpressionParser.make) == wrapped  # not wrapped twice


def test_switched_off_by_the_environment(monkeypatch):
    for off in ("0", "false", "No"):
        monkeypatch.setenv(moto_speedups.ENV, off)
        assert not moto_speedups.enabled()
    monkeypatch.delenv(moto_speedups.ENV)
    assert moto_speedups.enabled()


def test_remembered_lookups_answer_as_moto_does(speedups):
    import moto.core.responses
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
    from moto.sqs.responses import SQSResponse

    plain, remembered = DomainDispatcherApplication(create_backend_app), DomainDispatcherApplication(create_backend_app)
    moto_speedups.remember_lookups(remembered)
    hosts = ["sqs.us-east-1.amazonaws.com", "dynamodb", "moto_api", "s3.eu-west-1.amazonaws.com", "nowhere.example"]
    for _ in range(2):  # the second time from memory
        assert [remembered.get_backend_for_host(h) for h in hosts] == [plain.get_backend_for_host(h) for h in hosts]
    names = moto.core.responses.method_names_from_class(SQSResponse)
    assert "receive_message" in names
    assert moto.core.responses.method_names_from_class(SQSResponse) is names


def test_update_expressions_parse_as_moto_parses_them_and_each_call_gets_a_tree_of_its_own(speedups):
    _, plain = speedups
    for text in UPDATES * 2:  # the second time from memory
        mine = _outcome(functools.partial(UpdateExpressionParser.make, text))
        moto_s = _outcome(functools.partial(plain["make"], UpdateExpressionParser, text))
        assert mine[0] == moto_s[0], text
        if mine[0] == "ok":
            assert _shape(mine[1]) == _shape(moto_s[1]), text
        else:
            assert mine == moto_s
    first = UpdateExpressionParser.make(UPDATES[0])
    first.children.clear()  # what a validator's rewrite does to a tree: the next call's is whole
    assert _shape(UpdateExpressionParser.make(UPDATES[0])) == _shape(plain["make"](UpdateExpressionParser, UPDATES[0]))


def test_condition_expressions_lex_and_parse_as_moto_does_them(speedups):
    _, plain = speedups
    names = {"#l": "lines", "#p": "P1", "#p0": "P0", "#p1": "P1", "#n": "name"}
    values = {k: {"N": "1"} for k in (":now", ":zero", ":bound", ":lines", ":v", ":q0", ":q1", ":x", ":y", ":z", ":w")}
    values[":p"] = {"S": "a"}
    for text in CONDITIONS * 2:
        parser = ConditionExpressionParser(text, names, values)
        mine = _outcome(lambda p=parser: list(p._lex_condition_expression()))
        moto_s = _outcome(lambda p=parser: list(plain["lex"](p)))
        assert mine == moto_s, text
    nodes = ConditionExpressionParser(CONDITIONS[0], names, values)._lex_condition_expression()
    nodes[0].children.append("changed")  # each call's nodes are its own
    again = ConditionExpressionParser(CONDITIONS[0], names, values)._lex_condition_expression()
    assert again[0].children == []
    assert len(again) == len(nodes)


def test_a_received_message_is_kept_exactly_as_long_as_moto_keeps_it(speedups):
    _, plain = speedups
    with mock_aws():
        from moto.sqs.models import sqs_backends

        backend = sqs_backends[ACCOUNT]["us-east-1"]
        backend.create_queue("kept", MessageRetentionPeriod="60")
        message = backend.send_message("kept", "body")
        for age_s in (0, 59, 60, 61, 3600):
            message.sent_timestamp = int((_unix_now() - age_s) * 1000)
            assert backend.is_message_valid_based_on_retention_period("kept", message) == plain["retention"](
                backend, "kept", message
            ), age_s


def test_sqs_reads_the_clock_moto_reads(speedups, monkeypatch):
    import moto.core.utils
    import moto.sqs.models

    fast = (moto.sqs.models.unix_time, moto.sqs.models.unix_time_millis)
    assert all(getattr(f, "__speedup__", False) for f in fast)
    for instant in (  # the clock stopped at each: moto's datetime reading and time.time() at the same instant
        datetime.datetime(2026, 11, 30, 17, 45, 1, 234567),
        datetime.datetime(2000, 2, 29, 0, 0, 0, 1),
        datetime.datetime(2038, 1, 19, 3, 14, 7, 999999),
    ):
        monkeypatch.setattr(moto.core.utils, "utcnow", lambda instant=instant: instant)
        stopped = instant.replace(tzinfo=datetime.UTC).timestamp()
        monkeypatch.setattr(moto_speedups, "time", types.SimpleNamespace(time=lambda stopped=stopped: stopped))
        assert fast[0]() == pytest.approx(moto.core.utils.unix_time(), abs=1e-6)  # datetime keeps microseconds
        assert fast[1]() == pytest.approx(moto.core.utils.unix_time_millis(), abs=1e-3)
        assert fast[0](instant) == moto.core.utils.unix_time(instant)  # a time given: moto's own conversion
        assert fast[1](instant) == moto.core.utils.unix_time_millis(instant)


def _queue_session() -> list:
    """A queue's life through SQS's API in in-process moto: what a consumer and an operator see at each step."""
    sqs = boto3.client("sqs", region_name="us-east-1")
    url = sqs.create_queue(QueueName="q", Attributes={"VisibilityTimeout": "30"})["QueueUrl"]
    seen = []

    def look(what):
        counts = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        seen.append((what, {k: v for k, v in counts.items() if k.startswith("ApproximateNumber")}))

    for i in range(3):
        sqs.send_message(QueueUrl=url, MessageBody=f"m{i}")
    sqs.send_message(QueueUrl=url, MessageBody="later", DelaySeconds=900)
    look("sent")
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=2)["Messages"]
    seen.append(("received", sorted(m["Body"] for m in got)))
    look("two in flight")
    seen.append(
        ("again", sorted(m["Body"] for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]))
    )
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=got[0]["ReceiptHandle"], VisibilityTimeout=0)
    look("one back")
    sqs.delete_message(QueueUrl=url, ReceiptHandle=got[1]["ReceiptHandle"])
    seen.append(
        ("the rest", sorted(m["Body"] for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]))
    )
    look("deleted one")
    return seen


def test_a_queues_messages_are_visible_delayed_and_counted_as_moto_counts_them(speedups, monkeypatch):
    import moto.sqs.models

    fast, plain = _fast_then_plain(monkeypatch, _queue_session, lambda: moto.sqs.models.unix_time)
    assert fast == plain
    assert fast[0] == (
        "sent",
        {
            "ApproximateNumberOfMessages": "3",
            "ApproximateNumberOfMessagesNotVisible": "0",
            "ApproximateNumberOfMessagesDelayed": "1",
        },
    )
    assert fast[2][1]["ApproximateNumberOfMessagesNotVisible"] == "2"


def _unix_now() -> float:
    from moto.core.utils import unix_time

    return unix_time()


def test_a_backend_found_by_account_takes_no_lock_and_a_new_account_is_still_added_and_listed(speedups):
    with mock_aws():
        from moto.sqs.models import sqs_backends

        first = sqs_backends[ACCOUNT]
        found: list = []
        with backend_lock:  # held by another request: a lookup of a known account does not wait for it
            reader = threading.Thread(target=lambda: found.append(sqs_backends[ACCOUNT]))
            reader.start()
            reader.join(timeout=30)
            assert found == [first]
        other = sqs_backends["210987654321"]
        assert other is sqs_backends["210987654321"]
        assert other is not first
        BackendDict.reset()  # as moto's reset: the accounts dropped and the backends unlisted
        assert ACCOUNT not in sqs_backends
        assert sqs_backends[ACCOUNT] is not first
        assert any(b is sqs_backends for b in BackendDict._instances)


def _carts_table():
    """A DynamoDB client of in-process moto, with the cart's table made."""
    ddb = boto3.client("dynamodb", region_name="us-east-1")
    ddb.create_table(
        TableName="carts", KeySchema=[{"AttributeName": "cart_id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "cart_id", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST",
    )  # fmt: skip
    return ddb


def _dynamodb_session() -> list:
    """A cart's writes against in-process moto, as services/cart/adapters/dynamodb.py makes them; each answer."""
    ddb = _carts_table()
    answers = []

    def call(**kwargs):
        kwargs.setdefault("ReturnValues", "ALL_NEW")
        kwargs.setdefault("ReturnValuesOnConditionCheckFailure", "ALL_OLD")
        try:
            answers.append(ddb.update_item(TableName="carts", Key={"cart_id": {"S": "c1"}}, **kwargs)["Attributes"])
        except ClientError as exc:
            answers.append((exc.response["Error"]["Code"], exc.response.get("Item")))
        except ValueError as exc:  # moto's parser fails so on some malformed conditions (a 500 from its server)
            answers.append(("ValueError", str(exc)))

    ddb.put_item(
        TableName="carts",
        Item={"cart_id": {"S": "c1"}, "lines": {"M": {}}, "version": {"N": "0"}, "expires_at": {"N": "9999999999"}},
    )
    add = {
        "UpdateExpression": UPDATES[0],
        "ConditionExpression": CONDITIONS[0],
        "ExpressionAttributeNames": {"#l": "lines", "#p": "P1", "#v": "version"},
    }
    values = {":zero": {"N": "0"}, ":q": {"N": "2"}, ":one": {"N": "1"}, ":now": {"N": "100"}}
    values[":exp"] = {"N": "9999999999"}
    call(**add, ExpressionAttributeValues=values | {":bound": {"N": "8"}, ":lines": {"N": "3"}})
    call(**add, ExpressionAttributeValues=values | {":bound": {"N": "8"}, ":lines": {"N": "3"}})
    call(**add, ExpressionAttributeValues=values | {":bound": {"N": "1"}, ":lines": {"N": "3"}})  # over the most
    call(**add, ExpressionAttributeValues=values | {":bound": {"N": "8"}, ":lines": {"N": "0"}})  # too many lines
    take = {
        "UpdateExpression": "SET #l.#p0 = #l.#p0 - :q0, #v = #v + :one",
        "ConditionExpression": "attribute_exists(cart_id) AND #l.#p0 >= :q0",
        "ExpressionAttributeNames": {"#l": "lines", "#p0": "P1", "#v": "version"},
    }
    call(**take, ExpressionAttributeValues={":q0": {"N": "3"}, ":one": {"N": "1"}})
    call(**take, ExpressionAttributeValues={":q0": {"N": "9"}, ":one": {"N": "1"}})  # more than the cart holds
    call(UpdateExpression="SET = :x", ExpressionAttributeValues={":x": {"N": "1"}})  # does not parse
    call(UpdateExpression="SET a = :x", ConditionExpression="a = :x AND", ExpressionAttributeValues={":x": {"N": "1"}})
    return answers


def _aws_env(monkeypatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")


def _fast_then_plain(monkeypatch, session, replaced):
    """``session``'s answers from in-process moto with the speed-ups, then with moto's own functions (``replaced()``
    one of those put back)."""
    _aws_env(monkeypatch)
    with mock_aws():
        fast = session()
    monkeypatch.undo()  # moto's own functions back
    assert not getattr(replaced(), "__speedup__", False)
    _aws_env(monkeypatch)
    with mock_aws():
        plain = session()
    return fast, plain


def test_a_carts_writes_answer_the_same_with_the_speedups_as_without(speedups, monkeypatch):
    fast, plain = _fast_then_plain(monkeypatch, _dynamodb_session, lambda: UpdateExpressionParser.make)
    assert fast == plain
    refused = [a[0] for a in fast if isinstance(a, tuple)]
    assert refused == ["ConditionalCheckFailedException"] * 3 + ["ValidationException", "ValueError"]


def test_names_turn_to_snake_case_as_moto_turns_them_in_every_module_that_uses_them(speedups):
    import moto.core.responses
    import moto.core.utils
    import moto.sqs.models

    _, plain = speedups
    assert not hasattr(plain["camel"], "cache_info")
    names = ["ApproximateNumberOfMessages", "QueueArn", "SSEKMSKeyId", "theNewAttribute", "DBInstanceId", "", "a"]
    for name in names * 2:
        assert moto.sqs.models.camelcase_to_underscores(name) == plain["camel"](name), name
    for module in (moto.core.utils, moto.core.responses, moto.sqs.models):
        assert hasattr(module.camelcase_to_underscores, "cache_info"), module.__name__
    with mock_aws():
        from moto.sqs.models import sqs_backends

        backend = sqs_backends[ACCOUNT]["us-east-1"]
        queue = backend.create_queue("named", VisibilityTimeout="45")
        assert queue.attributes["VisibilityTimeout"] == 45
        assert queue.attributes["ApproximateNumberOfMessages"] == 0


EVERY_TYPE = {
    "cart_id": {"S": "c1"},
    "version": {"N": "3"},
    "blob": {"B": b"\x00\xffbytes"},
    "names": {"SS": ["a", "b"]},
    "numbers": {"NS": ["1", "2.5"]},
    "blobs": {"BS": [b"x", b"y"]},
    "lines": {"M": {"P1": {"N": "2"}, "nested": {"M": {"deep": {"L": [{"S": "x"}, {"NULL": True}]}}}}},
    "list": {"L": [{"BOOL": False}, {"M": {}}, {"L": []}, {"N": "0"}]},
    "nothing": {"NULL": True},
    "yes": {"BOOL": True},
    "empty": {"S": ""},
}


def _answer(response: dict) -> dict:
    return {k: v for k, v in response.items() if k != "ResponseMetadata"}


def _aws_session() -> list:
    """Answers moto's serializer builds: DynamoDB's of every kind, SQS's, and SNS's (which has response transformers,
    so it goes moto's own way)."""
    ddb = _carts_table()
    ddb.put_item(TableName="carts", Item=EVERY_TYPE)
    ddb.put_item(TableName="carts", Item={"cart_id": {"S": "c2"}, "version": {"N": "1"}})
    key = {"cart_id": {"S": "c1"}}
    listed = {"ExpressionAttributeNames": {"#n": "names"}, "ProjectionExpression": "lines.P1, #n"}
    table = ddb.describe_table(TableName="carts")["Table"]
    sqs, sns = boto3.client("sqs", region_name="us-east-1"), boto3.client("sns", region_name="us-east-1")
    queue = sqs.create_queue(QueueName="q", Attributes={"VisibilityTimeout": "30"})["QueueUrl"]
    sqs.send_message(
        QueueUrl=queue, MessageBody="hello", MessageAttributes={"a": {"DataType": "String", "StringValue": "b"}}
    )
    message = sqs.receive_message(QueueUrl=queue, MessageAttributeNames=["All"], AttributeNames=["All"])["Messages"][0]
    topic = sns.create_topic(Name="t")["TopicArn"]
    published = sns.publish_batch(TopicArn=topic, PublishBatchRequestEntries=[{"Id": "1", "Message": "m"}])
    return [
        ddb.get_item(TableName="carts", Key=key, ConsistentRead=True)["Item"],
        ddb.get_item(TableName="carts", Key={"cart_id": {"S": "none"}}).get("Item"),
        ddb.get_item(TableName="carts", Key=key, **listed)["Item"],
        ddb.update_item(TableName="carts", Key=key, UpdateExpression="SET version = version + :one",
                        ExpressionAttributeValues={":one": {"N": "1"}}, ReturnValues="UPDATED_NEW")["Attributes"],
        _answer(ddb.scan(TableName="carts", ReturnConsumedCapacity="TOTAL")),
        _answer(ddb.query(TableName="carts", KeyConditionExpression="cart_id = :c", Limit=1,
                          ExpressionAttributeValues={":c": {"S": "c1"}})),
        ddb.batch_get_item(RequestItems={"carts": {"Keys": [key, {"cart_id": {"S": "c2"}}]}})["Responses"],
        {k: table[k] for k in ("KeySchema", "AttributeDefinitions", "TableStatus", "ItemCount", "BillingModeSummary")
         if k in table},
        ddb.list_tables()["TableNames"],
        {k: message[k] for k in ("Body", "MD5OfBody", "MessageAttributes", "MD5OfMessageAttributes")},
        sorted(message["Attributes"]),
        [len(published["Successful"]), published["Successful"][0]["Id"], published.get("Failed")],
    ]  # fmt: skip


def test_responses_are_serialized_as_moto_serializes_them(speedups, monkeypatch):
    fast, plain = _fast_then_plain(monkeypatch, _aws_session, lambda: ResponseSerializer.get_value)
    assert fast == plain
    assert fast[0] == {k: ({"B": v["B"]} if "B" in v else v) for k, v in EVERY_TYPE.items()}


def test_a_dicts_member_names_are_worked_out_once_per_member(speedups, monkeypatch):
    _aws_env(monkeypatch)
    worked_out = []
    names = AttributePicker.get_possible_keys

    def counted(self, context):
        worked_out.append(context.key)
        return names(self, context)

    monkeypatch.setattr(AttributePicker, "get_possible_keys", counted)
    with mock_aws():
        ddb = _carts_table()
        ddb.put_item(TableName="carts", Item=EVERY_TYPE)
        ddb.get_item(TableName="carts", Key={"cart_id": {"S": "c1"}})
        first = len(worked_out)
        ddb.get_item(TableName="carts", Key={"cart_id": {"S": "c1"}})
        assert first > 0
        assert len(worked_out) == first  # the second answer asks for none: all were kept
        sns = boto3.client("sns", region_name="us-east-1")
        sns.create_topic(Name="t")  # SNS answers with response transformers: moto's own way, every time
        before = len(worked_out)
        sns.list_topics()
        middle = len(worked_out)
        sns.list_topics()
        assert middle > before
        assert len(worked_out) - middle == middle - before


def _validated(expression: str, names: dict, values: dict, attrs: dict):
    table = Table(
        "carts", account_id=ACCOUNT, region="us-east-1", schema=[{"AttributeName": "cart_id", "KeyType": "HASH"}],
        attr=[{"AttributeName": "cart_id", "AttributeType": "S"}],
    )  # fmt: skip
    item = Item(DynamoType({"S": "c1"}), None, {"cart_id": {"S": "c1"}} | attrs)
    tree = UpdateExpressionParser.make(expression)
    before = _shape(tree)
    try:
        done = validators.UpdateExpressionValidator(
            tree, expression_attribute_names=names, expression_attribute_values=values, item=item, table=table
        ).validate()
    except Exception as exc:  # noqa: BLE001 - compared with what moto's own validation raised
        return type(exc).__name__, str(exc)
    assert _shape(tree) == before  # the tree given is left as it was: the validator rewrote its copy
    return _shape(done)


VALIDATIONS = [
    (UPDATES[0], {"#l": "lines", "#p": "P1", "#v": "version"},
     {"lines": {"M": {"P1": {"N": "1"}}}, "version": {"N": "3"}}),
    (UPDATES[0], {"#l": "lines", "#p": "P9", "#v": "version"}, {"lines": {"M": {}}, "version": {"N": "0"}}),
    (UPDATES[2], {"#l": "lines", "#p0": "P1", "#p1": "P2", "#v": "version"},
     {"lines": {"M": {"P1": {"N": "4"}, "P2": {"N": "1"}}}, "version": {"N": "3"}}),
    ("SET a = list_append(a, :x), n = n + :one", {}, {"a": {"L": [{"S": "x"}]}, "n": {"N": "1"}}),
    ("SET a = :x, a = :one", {}, {}),  # two actions on one path
    ("SET cart_id = :x", {}, {}),  # the key
    ("SET n = n + :x", {}, {"n": {"S": "text"}}),  # a number added to a string
    ("SET #missing.deep = :x", {"#missing": "nothing"}, {}),  # a path that does not exist
    ("SET n = :undefined", {}, {}),
]  # fmt: skip


def test_update_expressions_validate_as_moto_validates_them(speedups, monkeypatch):
    values = {":zero": {"N": "0"}, ":q": {"N": "2"}, ":one": {"N": "1"}, ":now": {"N": "100"}, ":exp": {"N": "999"}}
    values |= {":q0": {"N": "3"}, ":q1": {"N": "1"}, ":x": {"L": [{"S": "y"}]}}
    fast = [_validated(text, names, values, attrs) for text, names, attrs in VALIDATIONS * 2]
    assert getattr(validators.deepcopy, "__speedup__", False)
    monkeypatch.undo()  # moto's own functions back
    assert not getattr(validators.deepcopy, "__speedup__", False)
    plain = [_validated(text, names, values, attrs) for text, names, attrs in VALIDATIONS * 2]
    assert fast == plain
    refused = [answer[0] for answer in plain[: len(VALIDATIONS)] if isinstance(answer[1], str)]
    assert refused == [
        "DuplicateUpdateExpression",
        "UpdateHashRangeKeyException",
        "IncorrectOperandType",
        "InvalidUpdateExpressionInvalidDocumentPath",
        "ExpressionAttributeValueNotDefined",
    ]


def test_a_validated_tree_is_copied_whole_and_shares_nothing_with_the_parsed_one(speedups):
    import copy

    tree = UpdateExpressionParser.make(UPDATES[0])
    copied = validators.deepcopy(tree)
    assert _shape(copied) == _shape(copy.deepcopy(tree))
    originals = {id(node) for node in _nodes(tree)}
    assert not originals & {id(node) for node in _nodes(copied)}
    assert validators.deepcopy([1, [2]]) == [1, [2]]  # anything but a tree goes to deepcopy itself


def _nodes(node):
    if not hasattr(node, "__dict__"):
        return  # a string or a number: immutable, and shared by a copy as by deepcopy
    yield node
    for child in getattr(node, "children", None) or []:
        yield from _nodes(child)
