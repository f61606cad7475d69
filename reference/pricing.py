"""What AWS charges (a dated price table) and how much each stage uses (the cost model's assumptions), as data.

PRICES ARE NOT LIVE. They are us-east-1 on-demand list prices in USD, written on ``AS_OF`` from the
author's knowledge of AWS's public pricing pages (``SOURCE``); the AWS Price List API cannot be
reached from the machine this was written on, so nothing here was fetched or checked against it.
Re-check the prices that dominate the total (NAT, EKS nodes, Aurora, OpenSearch, Cognito) before
using a figure for a budget. No free tier is subtracted anywhere: the figures are what an account
already past its free tier pays. Taxes, support plans, savings plans and reserved capacity are out.

``cfn/cost.py`` walks the rendered templates of a stage (sizes from ``cfn/presets.py``) and prices
each resource with these tables and that stage's ``USAGE``.
"""

from __future__ import annotations

from dataclasses import dataclass

AS_OF = "2026-11-29"
REGION = "us-east-1"
CURRENCY = "USD"
SOURCE = (
    "AWS public on-demand pricing pages for us-east-1 (aws.amazon.com/<service>/pricing), as known to the "
    f"author on {AS_OF}; not fetched from the AWS Price List API (unreachable here)"
)
HOURS_PER_MONTH = 730  # AWS's own convention for monthly estimates

# Unit prices: key -> (USD, unit).
PRICE: dict[str, tuple[float, str]] = {
    # Networking
    "nat.hour": (0.045, "NAT gateway-hour"),
    "nat.gb": (0.045, "GB processed by a NAT gateway"),
    "ipv4.hour": (0.005, "public IPv4 address-hour"),
    "endpoint.hour": (0.01, "interface endpoint-hour per AZ"),
    "endpoint.gb": (0.01, "GB processed by interface endpoints"),
    "flowlogs.s3.gb": (0.25, "GB of vended logs delivered to S3"),
    "alb.hour": (0.0225, "ALB-hour"),
    "alb.lcu": (0.008, "LCU-hour"),
    # Edge
    "cloudfront.gb": (0.085, "GB to the internet (first 10 TB, North America/Europe)"),
    "cloudfront.https": (0.01, "10,000 HTTPS requests"),
    "cloudfront.function": (0.10, "1M CloudFront Functions invocations"),
    "cloudfront.realtime_log": (0.01, "1M real-time log lines"),
    "cloudfront.metric": (0.30, "additional distribution metric-month (8 per distribution)"),
    "waf.acl": (5.00, "web ACL-month"),
    "waf.rule": (1.00, "rule or rule group-month"),
    "waf.requests": (0.60, "1M requests inspected"),
    "route53.queries": (0.40, "1M standard queries (alias queries to CloudFront are free)"),
    # Compute
    "eks.hour": (0.10, "EKS cluster-hour (standard support)"),
    "ebs.gp3.gb": (0.08, "GB-month of EBS gp3"),
    "lambda.gb_s": (0.0000166667, "GB-second"),
    # Data
    "aurora.storage.gb": (0.10, "GB-month of Aurora storage (Standard configuration)"),
    "aurora.io": (0.20, "1M Aurora I/O requests"),
    "aurora.backup.gb": (0.021, "GB-month of backup storage beyond the cluster's size"),
    "dynamodb.write": (0.625, "1M on-demand write request units"),
    "dynamodb.read": (0.125, "1M on-demand read request units"),
    "dynamodb.storage.gb": (0.25, "GB-month of table storage"),
    "dynamodb.pitr.gb": (0.20, "GB-month of continuous backups (PITR)"),
    "opensearch.gp3.gb": (0.122, "GB-month of OpenSearch gp3 storage"),
    "s3.gb": (0.023, "GB-month of S3 Standard"),
    "s3.put": (0.005, "1,000 PUT/COPY/POST/LIST requests"),
    "s3.get": (0.0004, "1,000 GET requests"),
    # Messaging and streaming
    "sqs.requests": (0.40, "1M standard queue requests (64 KB chunks)"),
    "sns.publish": (0.50, "1M publishes (deliveries to SQS are free)"),
    "kinesis.shard_hour": (0.015, "provisioned shard-hour"),
    "kinesis.put": (0.014, "1M PUT payload units (25 KB)"),
    "firehose.gb": (0.029, "GB ingested (5 KB increments)"),
    "firehose.parquet.gb": (0.018, "GB converted to Parquet"),
    "athena.tb": (5.00, "TB scanned"),
    "glue.objects": (1.00, "100,000 Data Catalog objects-month beyond the first million (free here)"),
    # Security
    "kms.key": (1.00, "customer managed key-month"),
    "kms.requests": (0.03, "10,000 requests"),
    "secrets.secret": (0.40, "secret-month"),
    "secrets.calls": (0.05, "10,000 API calls"),
    "cognito.plus.mau": (0.02, "monthly active user on the Plus tier (threat protection)"),
    # Observability
    "logs.ingest.gb": (0.50, "GB of logs ingested (standard class)"),
    "logs.vended.gb": (0.50, "GB of vended logs to CloudWatch Logs (WAF, first 10 TB)"),
    "logs.storage.gb": (0.03, "GB-month of archived (compressed) logs"),
    "cw.alarm": (0.10, "standard-resolution alarm-month"),
    "cw.dashboard": (3.00, "dashboard-month"),
    "cw.metric": (0.30, "custom metric-month (first 10,000)"),
    "xray.trace": (5.00, "1M traces recorded"),
}

# On-demand hourly prices by instance type (Linux; Aurora PostgreSQL Standard; ElastiCache Valkey, which AWS
# prices 20 % below Redis OSS; OpenSearch). A preset naming a type that is missing here fails the cost test.
EC2_HOURLY = {
    "t3.medium": 0.0416,
    "t3.large": 0.0832,
    "t3.xlarge": 0.1664,
    "m6i.large": 0.096,
    "m6i.xlarge": 0.192,
    "m6i.2xlarge": 0.384,
    "m7i.large": 0.1008,
    "m7i.xlarge": 0.2016,
    "c6i.large": 0.085,
    "c6i.xlarge": 0.17,
    "r6i.large": 0.126,
}
AURORA_HOURLY = {
    "db.t4g.medium": 0.073,
    "db.t4g.large": 0.146,
    "db.r6g.large": 0.26,
    "db.r6g.xlarge": 0.519,
    "db.r6g.2xlarge": 1.038,
    "db.r7g.large": 0.276,
    "db.r7g.xlarge": 0.552,
}
CACHE_HOURLY = {
    "cache.t4g.micro": 0.0128,
    "cache.t4g.small": 0.0256,
    "cache.t4g.medium": 0.0520,
    "cache.m6g.large": 0.1192,
    "cache.m7g.large": 0.1264,
    "cache.r6g.large": 0.1648,
    "cache.r7g.large": 0.1752,
}
SEARCH_HOURLY = {
    "t3.small.search": 0.036,
    "t3.medium.search": 0.073,
    "m6g.large.search": 0.128,
    "m6g.xlarge.search": 0.256,
    "r6g.large.search": 0.167,
    "r6g.xlarge.search": 0.335,
}
NODE_ROOT_GB = 20  # EKS managed node groups' default root volume (gp3) when no launch template sets one


@dataclass(frozen=True, slots=True)
class Usage:
    """How much a stage uses in a month: the cost model's assumptions, one number per line of the bill."""

    edge_requests_m: float  # requests CloudFront answers, millions
    edge_gb: float  # GB CloudFront sends to viewers
    api_share: float  # share of edge requests that go to /api/* (through the ALB)
    nat_gb: float  # GB through NAT gateways (image pulls, third-party APIs)
    endpoint_gb: float  # GB through interface endpoints (SQS, SNS, KMS, Logs, ECR, ...)
    flow_log_gb: float  # GB of VPC flow logs
    orders: int  # orders placed
    events_per_order: float  # events published per order (order, payment, notification, ...)
    pollers: int  # long-polling consumer loops (one per queue per replica)
    dynamodb_reads_m: float
    dynamodb_writes_m: float
    dynamodb_gb: float
    aurora_gb: float
    aurora_io_m: float
    aurora_daily_change: float  # share of the database that changes a day (backup storage beyond its size)
    bucket_gb: dict[str, float]  # by bucket name (reference RESOURCES.buckets)
    s3_puts_k: float
    s3_gets_k: float
    clickstream_records_m: float  # API events for analytics, millions
    lake_gb_in: float  # GB Firehose delivers to the lake (both streams)
    athena_tb: float
    mau: int  # monthly active users signing in (Cognito)
    kms_requests_k: float
    secret_calls_k: float
    log_gb: dict[str, float]  # GB ingested per log group logical id; "*" for the others
    log_compression: float  # archived size / ingested size
    traced_requests_m: float  # requests the X-Ray sampling rules record, millions
    alb_lcu: float  # average LCUs the ALB uses
    route53_queries_m: float


USAGE: dict[str, Usage] = {
    "dev": Usage(
        edge_requests_m=1,
        edge_gb=20,
        api_share=0.3,
        nat_gb=30,
        endpoint_gb=5,
        flow_log_gb=2,
        orders=1_000,
        events_per_order=4,
        pollers=4,
        dynamodb_reads_m=1,
        dynamodb_writes_m=0.2,
        dynamodb_gb=1,
        aurora_gb=5,
        aurora_io_m=5,
        aurora_daily_change=0.05,
        bucket_gb={"static-site": 0.1, "media": 5, "data-lake": 2, "logs": 10},
        s3_puts_k=50,
        s3_gets_k=200,
        clickstream_records_m=0.5,
        lake_gb_in=1,
        athena_tb=0.01,
        mau=50,
        kms_requests_k=300,
        secret_calls_k=20,
        log_gb={"*": 0.5, "ClusterLogs": 3, "LogsApplication": 3, "LogsPerformance": 5, "LogsDataplane": 1},
        log_compression=0.15,
        traced_requests_m=0.05,
        alb_lcu=1,
        route53_queries_m=0.1,
    ),
    "staging": Usage(
        edge_requests_m=10,
        edge_gb=200,
        api_share=0.4,
        nat_gb=100,
        endpoint_gb=30,
        flow_log_gb=10,
        orders=20_000,
        events_per_order=4,
        pollers=4,
        dynamodb_reads_m=15,
        dynamodb_writes_m=3,
        dynamodb_gb=5,
        aurora_gb=20,
        aurora_io_m=50,
        aurora_daily_change=0.05,
        bucket_gb={"static-site": 0.1, "media": 20, "data-lake": 20, "logs": 50},
        s3_puts_k=300,
        s3_gets_k=1_000,
        clickstream_records_m=5,
        lake_gb_in=10,
        athena_tb=0.1,
        mau=500,
        kms_requests_k=1_000,
        secret_calls_k=100,
        log_gb={"*": 2, "ClusterLogs": 15, "LogsApplication": 20, "LogsPerformance": 15, "LogsDataplane": 5},
        log_compression=0.15,
        traced_requests_m=0.5,
        alb_lcu=2,
        route53_queries_m=1,
    ),
    "prod": Usage(
        edge_requests_m=150,
        edge_gb=3_000,
        api_share=0.4,
        nat_gb=500,
        endpoint_gb=300,
        flow_log_gb=100,
        orders=300_000,
        events_per_order=4,
        pollers=8,
        dynamodb_reads_m=300,
        dynamodb_writes_m=40,
        dynamodb_gb=50,
        aurora_gb=200,
        aurora_io_m=500,
        aurora_daily_change=0.03,
        bucket_gb={"static-site": 0.2, "media": 200, "data-lake": 500, "logs": 1_000},
        s3_puts_k=3_000,
        s3_gets_k=20_000,
        clickstream_records_m=100,
        lake_gb_in=150,
        athena_tb=1,
        mau=50_000,
        kms_requests_k=10_000,
        secret_calls_k=2_000,
        log_gb={"*": 10, "ClusterLogs": 60, "LogsApplication": 300, "LogsPerformance": 60, "LogsDataplane": 30},
        log_compression=0.15,
        traced_requests_m=3,
        alb_lcu=10,
        route53_queries_m=20,
    ),
}
