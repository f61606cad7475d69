"""Which service may do what to which resource, derived from the diagram's arrows and RESOURCES.

Nothing here is restated: a grant exists because an arrow points from a service's node to a
data node, or because a resource names the service (a topic's publishers, a queue's consumer,
a secret's readers, a stream's producers). The templates turn grants into IAM statements and
security group rules; the conformance test checks every grant says why it exists.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from reference.architecture import ARCHITECTURE
from reference.model import Architecture, BucketRole, Resources, Service
from reference.resources import RESOURCES
from reference.services import SERVICES


class Verb(StrEnum):
    """What a service does to a resource; cfn/iam.py maps each verb to IAM actions."""

    PUBLISH = "publish"  # topic
    CONSUME = "consume"  # queue
    READ_SECRET = "read-secret"  # secret  # noqa: S105 (a verb, not a password)
    PRODUCE = "produce"  # stream
    READ_WRITE_ITEMS = "read-write-items"  # table
    READ_WRITE_OBJECTS = "read-write-objects"  # bucket
    SEARCH = "search"  # OpenSearch domain
    CONNECT_DATABASE = "connect-database"  # Aurora, IAM authentication as the service's own user
    CONNECT_CACHE = "connect-cache"  # ElastiCache, IAM authentication as the service's own user
    SEND_EMAIL = "send-email"  # SES identity
    SEAL = "seal"  # KMS key: data keys for the service's own envelope encryption (context service=<name>)


@dataclass(frozen=True, slots=True)
class Grant:
    """``service`` may ``verb`` the ``kind`` resource named ``target``, ``because`` of an arrow or a field."""

    service: str
    verb: Verb
    kind: str  # table | bucket | domain | database | cache | topic | queue | secret | stream | email | key
    target: str
    because: str  # "CART --> DDB" or "Topic.publishers" etc.


# The logical names of the data stores that are one resource rather than a list in RESOURCES.
SEARCH_DOMAIN = "search"
DATABASE = "aurora"
CACHE = "cache"


def arrow(source: str, target: str) -> str:
    """An arrow as the conformance table prints it."""
    return f"{source} --> {target}"


def grants(
    arch: Architecture = ARCHITECTURE, res: Resources = RESOURCES, services: tuple[Service, ...] = SERVICES
) -> tuple[Grant, ...]:
    """Every grant of every service, in a stable order."""
    by_node = {s.node: s for s in services}
    out: list[Grant] = []
    for edge in arch.edges:
        svc = by_node.get(edge.source)
        if svc is None:
            continue
        why = arrow(edge.source, edge.target)
        match edge.target:
            case "DDB":
                out += [Grant(svc.name, Verb.READ_WRITE_ITEMS, "table", t.name, why) for t in res.tables]
            case "S3MEDIA":
                media = res.bucket(BucketRole.MEDIA).name
                out.append(Grant(svc.name, Verb.READ_WRITE_OBJECTS, "bucket", media, why))
            case "OPENSEARCH":
                out.append(Grant(svc.name, Verb.SEARCH, "domain", SEARCH_DOMAIN, why))
            case "REDIS":
                out.append(Grant(svc.name, Verb.CONNECT_CACHE, "cache", CACHE, why))
    # Aurora: the three arrows of the diagram, and every other service that owns a schema.
    out += [
        Grant(s.name, Verb.CONNECT_DATABASE, "database", DATABASE, _db_reason(arch, s)) for s in services if s.database
    ]
    out += [Grant(p, Verb.PUBLISH, "topic", t.name, "Topic.publishers") for t in res.topics for p in t.publishers]
    out += [Grant(q.consumer, Verb.CONSUME, "queue", q.name, "Queue.consumer") for q in res.queues]
    out += [Grant(r, Verb.READ_SECRET, "secret", s.name, "Secret.readers") for s in res.secrets for r in s.readers]
    names = {s.name for s in services}
    out += [
        Grant(p, Verb.PRODUCE, "stream", st.name, "Stream.producers")
        for st in res.streams
        for p in st.producers
        if p in names
    ]
    out += [
        Grant("notification", Verb.SEND_EMAIL, "email", e.address, "Resources.email_senders") for e in res.email_senders
    ]
    out += [Grant(s, Verb.SEAL, "key", k.alias, "KmsKey.sealers") for k in res.kms_keys for s in k.sealers]
    return tuple(out)


def _db_reason(arch: Architecture, svc: Service) -> str:
    if "AUR" in arch.targets_of(svc.node):
        return arrow(svc.node, "AUR")
    return "Service.database"


def grants_of(service: str, all_grants: tuple[Grant, ...] | None = None) -> tuple[Grant, ...]:
    """The grants of one service."""
    return tuple(g for g in (all_grants or grants()) if g.service == service)


class Routes(StrEnum):
    """Which of a callee's routes a call uses: the public ones (also behind the gateway) or ``/internal/...``."""

    PUBLIC = "public"
    INTERNAL = "internal"


@dataclass(frozen=True, slots=True)
class Call:
    """``caller`` calls ``callee``'s ``routes`` over HTTP, ``because`` of an arrow or a documented saga step."""

    caller: str
    callee: str
    routes: Routes
    because: str


# Service-to-service calls the diagram does not draw: it shows the BFF's arrows only, while the checkout
# saga (docs/commerce-core.md) calls five services' /internal routes and the cart prices its lines from the
# catalog's public product route. tests/unit/test_k8s_network_policy.py checks this table against the
# clients each service's app.py opens, so a new call cannot be added in code alone.
SAGA_CALLS = (
    Call("checkout", "profile", Routes.INTERNAL, "the shopper's e-mail and default address"),
    Call("checkout", "cart", Routes.INTERNAL, "read the cart, remove the bought lines"),
    Call("checkout", "catalog", Routes.INTERNAL, "reserve, commit, release stock"),
    Call("checkout", "order", Routes.INTERNAL, "create, confirm, cancel the order"),
    Call("checkout", "payment", Routes.INTERNAL, "authorize, capture, void the payment"),
    Call("cart", "catalog", Routes.PUBLIC, "price and stock of a line"),
)


def service_calls(arch: Architecture = ARCHITECTURE, services: tuple[Service, ...] = SERVICES) -> tuple[Call, ...]:
    """Every service-to-service call: the diagram's arrows (public routes, through the BFF) and SAGA_CALLS."""
    by_node = {s.node: s.name for s in services}
    drawn = tuple(
        Call(by_node[e.source], by_node[e.target], Routes.PUBLIC, arrow(e.source, e.target))
        for e in arch.edges
        if e.source in by_node and e.target in by_node
    )
    names = set(by_node.values())
    return drawn + tuple(c for c in SAGA_CALLS if c.caller in names and c.callee in names)


def calls(arch: Architecture = ARCHITECTURE, services: tuple[Service, ...] = SERVICES) -> tuple[tuple[str, str], ...]:
    """(caller, callee) service pairs: the service-to-service arrows (API --> CATALOG, ...) and the saga's calls."""
    return tuple(dict.fromkeys((c.caller, c.callee) for c in service_calls(arch, services)))
