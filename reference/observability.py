"""What is watched and how closely: log retention, alarm thresholds, trace sampling.

One place for the numbers the templates (cfn/observability.py), the dashboards and the
load tests' SLO gates share.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Watched(StrEnum):
    """The kind of resource an alarm is repeated over."""

    DLQ = "dlq"  # every dead-letter queue of RESOURCES.queues
    TABLE = "table"  # every DynamoDB table
    STREAM = "stream"  # every Kinesis stream
    DATABASE = "database"  # the Aurora cluster
    CDN = "cdn"  # the CloudFront distribution


@dataclass(frozen=True, slots=True)
class AlarmRule:
    """One CloudWatch alarm, repeated over every resource of kind ``watched``."""

    name: str
    watched: Watched
    namespace: str
    metric: str
    statistic: str  # Sum, Average, Maximum or a percentile such as p99
    comparison: str  # a CloudWatch ComparisonOperator
    threshold: float
    period_s: int = 60
    evaluation_periods: int = 1
    summary: str = ""


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
