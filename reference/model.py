"""Typed vocabulary of the architecture: diagram nodes and edges, and the concrete AWS resources.

Plain frozen dataclasses, no I/O: the local cloud, the CloudFormation templates, the
load harness and the docs all read instances of these classes, never raw strings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

PROJECT = "shop"


def physical_name(name: str, stage: str, sep: str = "-") -> str:
    """The deployed name of a logical resource: ``shop-<stage>-<name>``."""
    return sep.join((PROJECT, stage, name))


# --------------------------------------------------------------------------- diagram


class Layer(StrEnum):
    """The subgraphs of the diagram, plus the two lanes drawn outside any subgraph."""

    CLIENT = "client"
    EDGE = "edge"
    EKS = "eks"
    DATA = "data"
    MESSAGING = "messaging"
    SECURITY = "security"
    OBSERVABILITY = "observability"
    ANALYTICS = "analytics"


@dataclass(frozen=True, slots=True)
class Node:
    """One box of the diagram, under the id the mermaid source gives it."""

    id: str
    label: str
    layer: Layer
    aws_service: str | None = None  # e.g. "AWS::DynamoDB"; None for our own code or the customer


@dataclass(frozen=True, slots=True)
class Edge:
    """One arrow of the diagram: ``source --> target`` and what travels along it."""

    source: str
    target: str
    purpose: str


@dataclass(frozen=True, slots=True)
class Architecture:
    """The whole diagram: every node, every arrow, and the subgraph (group) arrows such as EKS --> CW."""

    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]
    groups: dict[str, Layer] = field(default_factory=dict)

    def node(self, node_id: str) -> Node:
        """The node with this id (KeyError if the diagram has none)."""
        for node in self.nodes:
            if node.id == node_id:
                return node
        raise KeyError(node_id)

    def targets_of(self, node_id: str) -> tuple[str, ...]:
        """Ids of the nodes this node has an arrow to."""
        return tuple(e.target for e in self.edges if e.source == node_id)


# --------------------------------------------------------------------------- resources


class AttrType(StrEnum):
    S = "S"
    N = "N"
    B = "B"


@dataclass(frozen=True, slots=True)
class Key:
    name: str
    type: AttrType = AttrType.S


@dataclass(frozen=True, slots=True)
class Table:
    """A DynamoDB table (on-demand billing in every environment)."""

    name: str
    partition_key: Key
    sort_key: Key | None = None
    ttl_attribute: str | None = None
    purpose: str = ""


@dataclass(frozen=True, slots=True)
class EventType:
    """A domain event: its name is the ``event_type`` message attribute subscribers filter on."""

    name: str
    version: int
    summary: str


@dataclass(frozen=True, slots=True)
class Topic:
    """An SNS topic and the events published to it."""

    name: str
    publishers: tuple[str, ...]  # service names
    events: tuple[EventType, ...]
    purpose: str = ""

    def event_names(self) -> tuple[str, ...]:
        return tuple(e.name for e in self.events)


@dataclass(frozen=True, slots=True)
class Queue:
    """An SQS queue consumed by one service, with its own dead-letter queue."""

    name: str
    consumer: str  # service name
    max_receive_count: int = 5
    visibility_timeout_s: int = 30
    retention_s: int = 4 * 24 * 3600
    dlq_retention_s: int = 14 * 24 * 3600
    receive_wait_s: int = 20
    purpose: str = ""

    @property
    def dlq_name(self) -> str:
        return f"{self.name}-dlq"


@dataclass(frozen=True, slots=True)
class Subscription:
    """Which topic feeds which queue, and which events pass its filter policy.

    ``event_types`` empty means every event of the topic (no filter policy).
    Delivery is raw, so consumers read the event body and its attributes unwrapped.
    """

    topic: str
    queue: str
    event_types: tuple[str, ...] = ()

    def filter_policy(self) -> dict[str, Any] | None:
        """The SNS filter policy (on message attributes) or None for 'everything'."""
        if not self.event_types:
            return None
        return {EVENT_TYPE_ATTRIBUTE: sorted(self.event_types)}


EVENT_TYPE_ATTRIBUTE = "event_type"


class BucketRole(StrEnum):
    STATIC_SITE = "static-site"
    MEDIA = "media"
    DATA_LAKE = "data-lake"
    LOGS = "logs"


@dataclass(frozen=True, slots=True)
class Bucket:
    """An S3 bucket. Every bucket is encrypted, versioned and blocks public access."""

    name: str
    role: BucketRole
    served_by_cloudfront: bool = False
    purpose: str = ""


@dataclass(frozen=True, slots=True)
class AppClient:
    name: str
    auth_flows: tuple[str, ...]
    access_token_minutes: int = 60
    refresh_token_days: int = 30


@dataclass(frozen=True, slots=True)
class UserPool:
    """A Cognito user pool: e-mail is the username, groups carry roles."""

    name: str
    clients: tuple[AppClient, ...]
    groups: tuple[str, ...] = ()
    password_min_length: int = 10
    mfa: str = "OPTIONAL"


@dataclass(frozen=True, slots=True)
class KmsKey:
    alias: str
    purpose: str
    # Services that seal data of their own with data keys of this key (envelope encryption, GenerateDataKey and
    # Decrypt), bound by the encryption context ``service=<name>``: the gateway's browser sessions (issue 22).
    sealers: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Secret:
    """A Secrets Manager secret, encrypted with a KMS key of the model.

    ``fields`` names the JSON keys of the secret value; ``generated`` the ones created
    randomly at provisioning (passwords, signing keys) rather than taken from a running server.
    """

    name: str
    kms_key: str
    fields: tuple[str, ...]
    generated: tuple[str, ...] = ()
    readers: tuple[str, ...] = ()
    purpose: str = ""


@dataclass(frozen=True, slots=True)
class Stream:
    """A Kinesis data stream."""

    name: str
    shards: int
    producers: tuple[str, ...]
    purpose: str = ""


@dataclass(frozen=True, slots=True)
class DeliveryStream:
    """A Firehose delivery stream from a Kinesis stream into a bucket prefix."""

    name: str
    source_stream: str
    bucket: str
    prefix: str


@dataclass(frozen=True, slots=True)
class EmailSender:
    """An SES identity the notification service sends from."""

    address: str


@dataclass(frozen=True, slots=True)
class Service:
    """One of the ten microservices on EKS (one Deployment each)."""

    name: str
    node: str  # diagram node id
    port: int  # local port; on EKS every pod listens on its container port behind a Service
    summary: str
    database: bool = False  # owns a database (schema) on Aurora PostgreSQL
    # Public routes: the gateway forwards /api/<prefix>/... to this service's /<prefix>/...
    # (paths under /internal/ are for other services and are never routed from outside).
    public_prefixes: tuple[str, ...] = ()
    # Seconds the gateway may cache an anonymous GET of this service's routes at most (0: never); an answer's own
    # Cache-Control (max-age less Age, no-store, private) can only shorten it.
    public_cache_s: int = 0
    # How long the gateway waits for this service's answer (None: the gateway's default).
    gateway_timeout_s: float | None = None


@dataclass(frozen=True, slots=True)
class Resources:
    """Every concrete resource the stack provisions, in AWS and in the local cloud alike."""

    tables: tuple[Table, ...]
    topics: tuple[Topic, ...]
    queues: tuple[Queue, ...]
    subscriptions: tuple[Subscription, ...]
    buckets: tuple[Bucket, ...]
    user_pool: UserPool
    kms_keys: tuple[KmsKey, ...]
    secrets: tuple[Secret, ...]
    streams: tuple[Stream, ...]
    delivery_streams: tuple[DeliveryStream, ...]
    email_senders: tuple[EmailSender, ...]

    def topic(self, name: str) -> Topic:
        return _one(self.topics, name)

    def queue(self, name: str) -> Queue:
        return _one(self.queues, name)

    def table(self, name: str) -> Table:
        return _one(self.tables, name)

    def bucket(self, role: BucketRole) -> Bucket:
        return next(b for b in self.buckets if b.role is role)

    def subscriptions_of(self, queue: str) -> tuple[Subscription, ...]:
        return tuple(s for s in self.subscriptions if s.queue == queue)


def _one(items: tuple[Any, ...], name: str) -> Any:
    for item in items:
        if item.name == name:
            return item
    raise KeyError(name)
