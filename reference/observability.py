"""What is watched and how closely: log retention, alarm thresholds, trace sampling.

One place for the numbers the templates (cfn/observability.py), the dashboards and the
load tests' SLO gates share.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from reference.slo import SLO


class Watched(StrEnum):
    """The kind of resource an alarm is repeated over."""

    DLQ = "dlq"  # every dead-letter queue of RESOURCES.queues
    QUEUE = "queue"  # every (source) queue of RESOURCES.queues
    TABLE = "table"  # every DynamoDB table
    STREAM = "stream"  # every Kinesis stream
    DATABASE = "database"  # the Aurora cluster
    CDN = "cdn"  # the CloudFront distribution
    SERVICE = "service"  # every service of reference/services.py (dimension Service)
    SHOP = "shop"  # the shop as a whole: one alarm, on the rule's own dimensions


class Missing(StrEnum):
    """CloudWatch's TreatMissingData: what a period without data counts as."""

    MISSING = "missing"  # not at all; no data in the whole range -> INSUFFICIENT_DATA
    IGNORE = "ignore"  # the alarm keeps its state when the missing points decide it
    BREACHING = "breaching"
    NOT_BREACHING = "notBreaching"


# The metrics the services write (services/common/metrics.py), namespace Shop. Per request, under
# Service and Service+Route: Latency (ms), Fault (1 for a 5xx), Error (1 for a 4xx). Business metrics:
NAMESPACE = "Shop"
CHECKOUT_FAILED = "CheckoutFailed"  # 0 or 1 per checkout run: Average is the failure rate, SampleCount the runs
CHECKOUT_FAILURES = "CheckoutFailures"  # 1 per failed checkout, dimension Reason (payment_declined, out_of_stock ...)
ORDERS_PLACED = "OrdersPlaced"  # 1 per checkout that confirmed its order
REVENUE = "Revenue"  # the placed order's total in currency units, dimension Currency
PAYMENT_DECLINES = "PaymentDeclines"  # 1 per authorization the provider declined (also by Reason)
DLQ_ARRIVALS = "DeadLetterArrivals"  # messages that reached a DLQ since the last poll, dimension QueueName
CHECKOUT_ROUTE = "POST /checkout"


@dataclass(frozen=True, slots=True)
class AlarmRule:
    """One CloudWatch alarm, repeated over every resource of kind ``watched``.

    ``datapoints_to_alarm`` of the last ``evaluation_periods`` periods must breach (M of N; None: all N);
    ``missing`` says what a period without data counts as. ``dimensions`` are fixed dimensions the
    alarm adds to the watched resource's own (none for ``Watched.SHOP`` unless given here).
    """

    name: str
    watched: Watched
    namespace: str
    metric: str
    statistic: str  # SampleCount, Sum, Average, Minimum, Maximum or a percentile such as p99
    comparison: str  # a CloudWatch ComparisonOperator
    threshold: float
    period_s: int = 60
    evaluation_periods: int = 1
    summary: str = ""
    datapoints_to_alarm: int | None = None
    missing: Missing = Missing.NOT_BREACHING
    dimensions: tuple[tuple[str, str], ...] = ()

    @property
    def m_of_n(self) -> tuple[int, int]:
        return self.datapoints_to_alarm or self.evaluation_periods, self.evaluation_periods


ALARMS = (
    AlarmRule(
        "dlq-not-empty",
        Watched.DLQ,
        "AWS/SQS",
        "ApproximateNumberOfMessagesVisible",
        "Maximum",
        "GreaterThanThreshold",
        0,
        summary="a message failed maxReceiveCount times: someone must look at it",
    ),
    AlarmRule(
        "queue-age",
        Watched.QUEUE,
        "AWS/SQS",
        "ApproximateAgeOfOldestMessage",
        "Maximum",
        "GreaterThanThreshold",
        300,
        evaluation_periods=5,
        datapoints_to_alarm=3,
        summary="a consumer is behind: its oldest message waited over 5 minutes in 3 of the last 5 minutes",
    ),
    AlarmRule(
        "checkout-error-rate",
        Watched.SHOP,
        NAMESPACE,
        CHECKOUT_FAILED,
        "Average",
        "GreaterThanThreshold",
        round(1 - SLO.min_checkout_success, 4),
        evaluation_periods=3,
        datapoints_to_alarm=2,
        summary="checkouts fail more often than the SLO allows (reference/slo.py) in 2 of the last 3 minutes",
    ),
    AlarmRule(
        "checkout-p99",
        Watched.SHOP,
        NAMESPACE,
        "Latency",
        "p99",
        "GreaterThanThreshold",
        SLO.group("checkout").p99_ms,
        evaluation_periods=5,
        datapoints_to_alarm=3,
        dimensions=(("Service", "checkout"), ("Route", CHECKOUT_ROUTE)),
        summary="checkout p99 above its SLO (reference/slo.py) in 3 of the last 5 minutes",
    ),
    AlarmRule(
        "payment-declines-spike",
        Watched.SHOP,
        NAMESPACE,
        PAYMENT_DECLINES,
        "Sum",
        "GreaterThanThreshold",
        20,
        period_s=300,
        summary="more than 20 declined authorizations in 5 minutes: a provider problem or card testing",
    ),
    AlarmRule(
        "service-5xx-rate",
        Watched.SERVICE,
        NAMESPACE,
        "Fault",
        "Average",
        "GreaterThanThreshold",
        SLO.max_error_rate,
        evaluation_periods=5,
        datapoints_to_alarm=3,
        summary="a service answers 5xx to more than the SLO's error rate in 3 of the last 5 minutes",
    ),
    AlarmRule(
        "5xx-rate",
        Watched.CDN,
        "AWS/CloudFront",
        "5xxErrorRate",
        "Average",
        "GreaterThanThreshold",
        1.0,
        period_s=300,
        summary="more than 1% of responses are server errors",
    ),
    AlarmRule(
        "p99-latency",
        Watched.CDN,
        "AWS/CloudFront",
        "OriginLatency",
        "p99",
        "GreaterThanThreshold",
        1000.0,
        period_s=300,
        evaluation_periods=3,
        summary="p99 origin latency above 1 s for 15 minutes",
    ),
    AlarmRule(
        "aurora-cpu",
        Watched.DATABASE,
        "AWS/RDS",
        "CPUUtilization",
        "Average",
        "GreaterThanThreshold",
        80.0,
        period_s=300,
        evaluation_periods=3,
        summary="the writer is saturated",
    ),
    AlarmRule(
        "dynamodb-throttles",
        Watched.TABLE,
        "AWS/DynamoDB",
        "ThrottledRequests",
        "Sum",
        "GreaterThanThreshold",
        0,
        period_s=300,
        summary="on-demand tables still throttle past twice their previous peak",
    ),
    AlarmRule(
        "kinesis-throttles",
        Watched.STREAM,
        "AWS/Kinesis",
        "WriteProvisionedThroughputExceeded",
        "Sum",
        "GreaterThanThreshold",
        0,
        period_s=300,
        summary="producers are throttled: add shards",
    ),
)


@dataclass(frozen=True, slots=True)
class Graph:
    """One dashboard graph: a metric's statistic per period, one line per watched resource (or one line)."""

    title: str
    namespace: str
    metric: str
    statistic: str
    watched: Watched = Watched.SHOP
    dimensions: tuple[tuple[str, str], ...] = ()
    period_s: int = 60
    unit: str = ""


# The dashboard's graphs, in order: the CloudFormation dashboard (cfn/observability.py) and the local
# one (localcloud/observability/dashboard.py) are both drawn from this list and ALARMS.
GRAPHS = (
    Graph("Requests per service", NAMESPACE, "Latency", "SampleCount", Watched.SERVICE, unit="requests"),
    Graph("5xx rate per service", NAMESPACE, "Fault", "Average", Watched.SERVICE, unit="fraction"),
    Graph("p99 latency per service", NAMESPACE, "Latency", "p99", Watched.SERVICE, unit="ms"),
    Graph(
        "Checkout p99",
        NAMESPACE,
        "Latency",
        "p99",
        dimensions=(("Service", "checkout"), ("Route", CHECKOUT_ROUTE)),
        unit="ms",
    ),
    Graph("Checkout failure rate", NAMESPACE, CHECKOUT_FAILED, "Average", unit="fraction"),
    Graph("Orders placed", NAMESPACE, ORDERS_PLACED, "Sum", unit="orders"),
    Graph("Payment declines", NAMESPACE, PAYMENT_DECLINES, "Sum", unit="declines"),
    Graph("Queue depth", "AWS/SQS", "ApproximateNumberOfMessagesVisible", "Maximum", Watched.QUEUE, unit="messages"),
    Graph("Oldest message age", "AWS/SQS", "ApproximateAgeOfOldestMessage", "Maximum", Watched.QUEUE, unit="s"),
    Graph("DLQ depth", "AWS/SQS", "ApproximateNumberOfMessagesVisible", "Maximum", Watched.DLQ, unit="messages"),
)

LOG_RETENTION_DAYS = {"dev": 7, "staging": 30, "prod": 365}


@dataclass(frozen=True, slots=True)
class SamplingRule:
    """An X-Ray sampling rule: ``reservoir`` traces per second, then ``rate`` of the rest."""

    name: str
    priority: int
    url_path: str
    rate: float
    reservoir: int
    http_method: str = "*"


SAMPLING_RULES = (
    SamplingRule("checkout", 100, "/api/checkout*", rate=0.5, reservoir=5),
    SamplingRule("health", 200, "/health*", rate=0.0, reservoir=0),
    SamplingRule("api", 1000, "/api/*", rate=0.05, reservoir=1),
)
