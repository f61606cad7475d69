"""Events reach exactly the queues whose filter policies admit them; poison messages end in the DLQ."""

from __future__ import annotations

import json
import uuid
from collections import defaultdict

from localcloud.provision import Outputs
from reference import RESOURCES


def publish(sns, topic_arn: str, event_type: str) -> str:
    event_id = str(uuid.uuid4())
    sns.publish(
        TopicArn=topic_arn,
        Message=json.dumps({"event_id": event_id, "event_type": event_type}),
        MessageAttributes={"event_type": {"DataType": "String", "StringValue": event_type}},
    )
    return event_id


def drain(sqs, url: str) -> list[dict]:
    bodies = []
    while True:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0, VisibilityTimeout=30)
        messages = got.get("Messages", [])
        if not messages:
            return bodies
        for message in messages:
            bodies.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


def test_each_event_reaches_exactly_the_queues_whose_filter_admits_it(aws, provisioned: Outputs):
    sns, sqs = aws.client("sns"), aws.client("sqs")
    expected: dict[str, set[str]] = defaultdict(set)
    for topic in RESOURCES.topics:
        for event in topic.events:
            event_id = publish(sns, provisioned.topics[topic.name], event.name)
            for sub in RESOURCES.subscriptions:
                if sub.topic == topic.name and event.name in sub.event_types:
                    expected[sub.queue].add(event_id)

    for queue in RESOURCES.queues:
        received = drain(sqs, provisioned.queues[queue.name])
        # Raw delivery: the body is the event itself, not an SNS envelope.
        assert all("event_id" in body for body in received)
        assert {body["event_id"] for body in received} == expected[queue.name], queue.name
    assert sum(len(ids) for ids in expected.values()) >= len(RESOURCES.subscriptions)


def test_an_event_no_filter_admits_reaches_no_queue(aws, provisioned: Outputs):
    sns, sqs = aws.client("sns"), aws.client("sqs")
    publish(sns, provisioned.topics["order-events"], "OrderPlaced")  # nobody subscribes to OrderPlaced
    for queue in RESOURCES.queues:
        assert drain(sqs, provisioned.queues[queue.name]) == []


def test_a_message_received_max_receive_count_times_moves_to_the_dlq(aws, provisioned: Outputs):
    sqs = aws.client("sqs")
    queue = RESOURCES.queue("notification")
    url, dlq_url = provisioned.queues[queue.name], provisioned.dlqs[queue.name]
    sqs.send_message(QueueUrl=url, MessageBody='{"poison": true}')

    receives = 0
    for _ in range(queue.max_receive_count + 2):
        got = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=0, VisibilityTimeout=0).get("Messages", [])
        receives += len(got)  # received and never deleted: the consumer 'failed' each time
    assert receives == queue.max_receive_count

    dead = sqs.receive_message(QueueUrl=dlq_url, WaitTimeSeconds=0).get("Messages", [])
    assert [json.loads(m["Body"]) for m in dead] == [{"poison": True}]
    assert sqs.receive_message(QueueUrl=url, WaitTimeSeconds=0).get("Messages", []) == []
