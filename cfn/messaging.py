"""Messaging layer: EVT --> SNS --> SQS --> consumers, and SQS --> DLQ, all from RESOURCES.

Every topic and queue is KMS-encrypted with the main key; each queue has its own DLQ and a
queue policy letting only the topics it subscribes to send to it; subscriptions deliver raw
messages through the subscription's filter policy on the ``event_type`` attribute.
"""

from __future__ import annotations

from awacs import sqs as awacs_sqs
from awacs.aws import Allow, ArnEquals, Condition, PolicyDocument, Principal, Statement
from troposphere import GetAtt, Ref, Template, sns, sqs

from cfn.common import (
    IMPORTED_KEY,
    arn,
    explain,
    export,
    imported,
    logical_id,
    name,
    new_template,
    suppress_guard,
    tags,
)
from cfn.security import kms_export
from reference import RESOURCES
from reference.model import Queue, Resources, Subscription, Topic

LAYER = "messaging"
KEY = kms_export("main")


def topic_id(topic: str) -> str:
    return logical_id("topic", topic)


def queue_id(queue: str) -> str:
    return logical_id("queue", queue)


def dlq_id(queue: str) -> str:
    return logical_id("dlq", queue)


def dlq_export(queue: str) -> str:
    return f"dlq-{queue}-name"


def add_topic(t: Template, topic: Topic) -> sns.Topic:
    resource = sns.Topic(
        topic_id(topic.name), TopicName=name(topic.name), KmsMasterKeyId=imported(KEY), Tags=tags(LAYER)
    )
    t.add_resource(explain(resource, "SNS", "EVT --> SNS", f"topic:{topic.name}"))
    export(t, f"topic-{topic.name}-arn", Ref(resource), topic.purpose or topic.name)
    return resource


def add_queue(t: Template, queue: Queue) -> tuple[sqs.Queue, sqs.Queue]:
    """The queue and its DLQ: after ``max_receive_count`` receives a message moves to the DLQ."""
    dlq = sqs.Queue(
        dlq_id(queue.name),
        QueueName=name(queue.dlq_name),
        MessageRetentionPeriod=queue.dlq_retention_s,
        KmsMasterKeyId=imported(KEY),
        Tags=tags(LAYER),
    )
    t.add_resource(explain(dlq, "DLQ", "SQS --> DLQ", f"queue:{queue.name}"))
    main = sqs.Queue(
        queue_id(queue.name),
        QueueName=name(queue.name),
        VisibilityTimeout=queue.visibility_timeout_s,
        MessageRetentionPeriod=queue.retention_s,
        ReceiveMessageWaitTimeSeconds=queue.receive_wait_s,
        KmsMasterKeyId=imported(KEY),
        RedrivePolicy=sqs.RedrivePolicy(
            deadLetterTargetArn=GetAtt(dlq, "Arn"), maxReceiveCount=queue.max_receive_count
        ),
        Tags=tags(LAYER),
    )
    t.add_resource(explain(main, "SQS", "SQS --> DLQ", f"queue:{queue.name}"))
    for encrypted in (dlq, main):
        suppress_guard(encrypted, "sqs_queue_encrypted_check", IMPORTED_KEY)
    # By name: a reference to the queue's ARN would be circular (the queue names its DLQ).
    dlq.RedriveAllowPolicy = {
        "redrivePermission": "byQueue",
        "sourceQueueArns": [arn("sqs", f"shop-${{Stage}}-{queue.name}")],
    }
    export(t, f"queue-{queue.name}-url", Ref(main), queue.purpose)
    export(t, dlq_export(queue.name), GetAtt(dlq, "QueueName"), f"dead letters of {queue.name}")
    return main, dlq


def add_queue_policy(t: Template, queue: Queue, main: sqs.Queue, res: Resources) -> None:
    """Only the topics this queue subscribes to may send to it."""
    sources = sorted({s.topic for s in res.subscriptions_of(queue.name)})
    policy = sqs.QueuePolicy(
        logical_id("queue", queue.name, "policy"),
        Queues=[Ref(main)],
        PolicyDocument=PolicyDocument(
            Version="2012-10-17",
            Statement=[
                Statement(
                    Sid="TopicsMaySend",
                    Effect=Allow,
                    Principal=Principal("Service", "sns.amazonaws.com"),
                    Action=[awacs_sqs.SendMessage],
                    Resource=[GetAtt(main, "Arn")],
                    Condition=Condition(ArnEquals("aws:SourceArn", [Ref(topic_id(s)) for s in sources])),
                )
            ],
        ),
    )
    t.add_resource(explain(policy, "SNS --> SQS", f"queue:{queue.name}"))


def add_subscription(t: Template, sub: Subscription, queues: dict[str, sqs.Queue]) -> None:
    props = {}
    policy = sub.filter_policy()
    if policy is not None:
        props = {"FilterPolicy": policy, "FilterPolicyScope": "MessageAttributes"}
    resource = sns.SubscriptionResource(
        logical_id("subscription", sub.topic, "to", sub.queue),
        TopicArn=Ref(topic_id(sub.topic)),
        Protocol="sqs",
        Endpoint=GetAtt(queues[sub.queue], "Arn"),
        RawMessageDelivery=True,
        **props,
    )
    consumer = RESOURCES.queue(sub.queue).consumer
    t.add_resource(explain(resource, "SNS --> SQS", f"subscription:{sub.topic}->{sub.queue}", f"service:{consumer}"))


def build(res: Resources = RESOURCES) -> Template:
    t = new_template(LAYER, "SNS topics, SQS queues with DLQs, queue policies and filtered subscriptions")
    for topic in res.topics:
        add_topic(t, topic)
    queues = {}
    for queue in res.queues:
        queues[queue.name], _ = add_queue(t, queue)
        add_queue_policy(t, queue, queues[queue.name], res)
    for sub in res.subscriptions:
        add_subscription(t, sub, queues)
    return t
