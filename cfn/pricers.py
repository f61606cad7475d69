"""One function per priced CloudFormation resource type: (context, logical id, resource) -> (item, USD a month).

``cfn/cost.py`` walks a stage's resolved templates and calls these; a type missing here must be in
``FREE`` with the reason it costs nothing. Prices and usage come from ``reference/pricing.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from reference import pricing
from reference.pricing import HOURS_PER_MONTH as HOURS
from reference.pricing import PRICE, Usage

# Resource types that cost nothing by themselves (or less than a cent a month here), and why.
FREE: dict[str, str] = {
    "AWS::IAM::Role": "IAM is free",
    "AWS::FIS::ExperimentTemplate": "a template is free; FIS bills action-minutes only while an experiment runs",
    "AWS::EKS::AccessEntry": "free",
    "AWS::EC2::SecurityGroup": "free",
    "AWS::EC2::SecurityGroupIngress": "free",
    "AWS::EC2::VPC": "free",
    "AWS::EC2::Subnet": "free",
    "AWS::EC2::RouteTable": "free",
    "AWS::EC2::Route": "free",
    "AWS::EC2::SubnetRouteTableAssociation": "free",
    "AWS::EC2::InternetGateway": "free (its traffic is in the CloudFront/NAT lines)",
    "AWS::EC2::VPCGatewayAttachment": "free",
    "AWS::S3::BucketPolicy": "free",
    "AWS::SQS::QueuePolicy": "free",
    "AWS::SNS::Subscription": "SNS to SQS deliveries are free (SQS bills the receive side)",
    "AWS::KMS::Alias": "free",
    "AWS::Cognito::UserPoolClient": "free (the pool bills by MAU)",
    "AWS::Cognito::UserPoolDomain": "free",
    "AWS::Cognito::UserPoolGroup": "free",
    "AWS::Lambda::Function": "the rotator runs a few 30-second invocations a month: under a cent",
    "AWS::Lambda::Permission": "free",
    "AWS::SecretsManager::RotationSchedule": "free",
    "AWS::SecretsManager::SecretTargetAttachment": "free",
    "AWS::RDS::DBClusterParameterGroup": "free",
    "AWS::RDS::DBSubnetGroup": "free",
    "AWS::ElastiCache::SubnetGroup": "free",
    "AWS::ElastiCache::User": "free",
    "AWS::ElastiCache::UserGroup": "free",
    "AWS::Logs::ResourcePolicy": "free",
    "AWS::Athena::NamedQuery": "free (the workgroup bills the scans)",
    "AWS::Glue::Database": "Data Catalog: first million objects free",
    "AWS::Glue::Table": "Data Catalog: first million objects free",
    "AWS::EKS::Addon": "free (what the CloudWatch add-on ingests is in the log groups' lines)",
    "AWS::EKS::PodIdentityAssociation": "free",
    "AWS::CloudFront::OriginAccessControl": "free",
    "AWS::CloudFront::ResponseHeadersPolicy": "free (a policy; the headers ride on requests already priced)",
    "AWS::WAFv2::IPSet": "free",
    "AWS::WAFv2::RegexPatternSet": "free (the rules that use a set are billed as rules of the web ACL)",
    "AWS::WAFv2::LoggingConfiguration": "billed as the WafLogs log group's vended logs",
    "AWS::QuickSight::DataSource": "QuickSight bills per author/reader subscription, outside these stacks",
    "AWS::QuickSight::DataSet": "a direct-query dataset over Athena: no SPICE capacity; Athena bills the scans",
}


@dataclass(frozen=True, slots=True)
class Context:
    stage: str
    usage: Usage
    resources: dict[str, dict[str, Any]]  # this layer's resolved resources
    nodes: float | None  # total worker nodes, when a capacity model says so (None: the preset's desired size)

    def count(self, kind: str, where: Callable[[dict[str, Any]], bool] = lambda r: True) -> int:
        return sum(1 for r in self.resources.values() if r["Type"] == kind and where(r))


Priced = Iterator[tuple[str, float]]


def price(key: str, quantity: float) -> float:
    return PRICE[key][0] * quantity


def model_ref(resource: dict[str, Any], prefix: str) -> str | None:
    """The ``prefix:<name>`` a resource's Metadata.Model names (bucket:media -> media)."""
    for ref in resource.get("Metadata", {}).get("Model", []):
        if ref.startswith(f"{prefix}:"):
            return ref.split(":", 1)[1]
    return None


def hourly(table: dict[str, float], kind: str, what: str) -> float:
    if kind not in table:
        raise KeyError(f"no price for {what} {kind!r}: add it to reference/pricing.py")
    return table[kind]


# --- pricers: (context, logical id, resource) -> (item, monthly) pairs ---------------------------------------


def nat_gateway(c: Context, rid: str, r: dict) -> Priced:
    share = c.usage.nat_gb / c.count("AWS::EC2::NatGateway")
    yield f"{HOURS} h", price("nat.hour", HOURS)
    yield f"{share:,.0f} GB processed", price("nat.gb", share)


def eip(c: Context, rid: str, r: dict) -> Priced:
    yield f"public IPv4, {HOURS} h", price("ipv4.hour", HOURS)


def vpc_endpoint(c: Context, rid: str, r: dict) -> Priced:
    if r["Properties"].get("VpcEndpointType") != "Interface":
        yield "gateway endpoint", 0.0
        return
    azs = len(r["Properties"].get("SubnetIds", [])) or 1
    share = c.usage.endpoint_gb / c.count(
        "AWS::EC2::VPCEndpoint", lambda e: e["Properties"].get("VpcEndpointType") == "Interface"
    )
    yield f"{azs} AZ x {HOURS} h", price("endpoint.hour", azs * HOURS)
    yield f"{share:,.0f} GB processed", price("endpoint.gb", share)


def flow_log(c: Context, rid: str, r: dict) -> Priced:
    yield f"{c.usage.flow_log_gb:,.0f} GB to S3", price("flowlogs.s3.gb", c.usage.flow_log_gb)


def bucket(c: Context, rid: str, r: dict) -> Priced:
    name = model_ref(r, "bucket") or rid
    gb = c.usage.bucket_gb.get(name, 0.0)
    buckets = len(c.usage.bucket_gb)
    yield f"{gb:,.1f} GB stored", price("s3.gb", gb)
    yield (
        "requests (an even share)",
        price("s3.put", c.usage.s3_puts_k / buckets) + price("s3.get", c.usage.s3_gets_k / buckets),
    )


def kms_key(c: Context, rid: str, r: dict) -> Priced:
    yield "key", price("kms.key", 1)
    yield f"{c.usage.kms_requests_k:,.0f}k requests", price("kms.requests", c.usage.kms_requests_k / 10)


def secret(c: Context, rid: str, r: dict) -> Priced:
    calls = c.usage.secret_calls_k / c.count("AWS::SecretsManager::Secret")
    yield "secret", price("secrets.secret", 1)
    yield f"{calls:,.0f}k calls", price("secrets.calls", calls / 10)


def user_pool(c: Context, rid: str, r: dict) -> Priced:
    tier = r["Properties"].get("UserPoolTier", "ESSENTIALS")
    if tier != "PLUS":
        raise KeyError(f"no price for the Cognito {tier} tier: add it to reference/pricing.py")
    yield f"{c.usage.mau:,} MAU on the Plus tier", price("cognito.plus.mau", c.usage.mau)


def publishes_m(u: Usage) -> float:
    return u.orders * u.events_per_order / 1e6


def topic(c: Context, rid: str, r: dict) -> Priced:
    if model_ref(r, "topic") is None:  # the alarm topic: a handful of notifications
        yield "alarm notifications", 0.0
        return
    share = publishes_m(c.usage) / c.count("AWS::SNS::Topic", lambda t: model_ref(t, "topic") is not None)
    yield f"{share * 1e6:,.0f} publishes", price("sns.publish", share)


def queue(c: Context, rid: str, r: dict) -> Priced:
    if "RedrivePolicy" not in r["Properties"]:
        yield "dead-letter queue, idle unless messages fail", 0.0
        return
    queues = c.count("AWS::SQS::Queue", lambda q: "RedrivePolicy" in q["Properties"])
    deliveries = publishes_m(c.usage) * c.count("AWS::SNS::Subscription") / max(c.count("AWS::SNS::Topic"), 1) / queues
    polls = c.usage.pollers / queues * HOURS * 3600 / r["Properties"].get("ReceiveMessageWaitTimeSeconds", 20) / 1e6
    yield f"{deliveries * 1e6:,.0f} messages x 3 requests", price("sqs.requests", deliveries * 3)
    yield f"{polls * 1e6:,.0f} long polls", price("sqs.requests", polls)


def table(c: Context, rid: str, r: dict) -> Priced:
    tables = c.count("AWS::DynamoDB::Table")
    u = c.usage
    reads, writes, gb = u.dynamodb_reads_m / tables, u.dynamodb_writes_m / tables, u.dynamodb_gb / tables
    yield (
        f"{reads:,.1f}M reads, {writes:,.1f}M writes (on demand)",
        price("dynamodb.read", reads) + price("dynamodb.write", writes),
    )
    yield f"{gb:,.1f} GB stored", price("dynamodb.storage.gb", gb)
    if r["Properties"].get("PointInTimeRecoverySpecification", {}).get("PointInTimeRecoveryEnabled"):
        yield f"{gb:,.1f} GB PITR", price("dynamodb.pitr.gb", gb)


def db_instance(c: Context, rid: str, r: dict) -> Priced:
    kind = r["Properties"]["DBInstanceClass"]
    yield f"{kind} x {HOURS} h", hourly(pricing.AURORA_HOURLY, kind, "Aurora class") * HOURS


def db_cluster(c: Context, rid: str, r: dict) -> Priced:
    u = c.usage
    days = int(r["Properties"].get("BackupRetentionPeriod", 1))
    backup = u.aurora_gb * u.aurora_daily_change * max(days - 1, 0)
    yield f"{u.aurora_gb:,.0f} GB stored", price("aurora.storage.gb", u.aurora_gb)
    yield f"{u.aurora_io_m:,.0f}M I/O", price("aurora.io", u.aurora_io_m)
    yield f"{backup:,.0f} GB backups beyond the cluster's size ({days} days)", price("aurora.backup.gb", backup)


def cache(c: Context, rid: str, r: dict) -> Priced:
    p = r["Properties"]
    nodes = int(p.get("NumNodeGroups", 1)) * (1 + int(p.get("ReplicasPerNodeGroup", 0)))
    kind = p["CacheNodeType"]
    yield f"{nodes} x {kind} x {HOURS} h", nodes * hourly(pricing.CACHE_HOURLY, kind, "cache node type") * HOURS


def search_domain(c: Context, rid: str, r: dict) -> Priced:
    cc = r["Properties"]["ClusterConfig"]
    data, kind = int(cc["InstanceCount"]), cc["InstanceType"]
    yield (
        f"{data} data nodes x {kind} x {HOURS} h",
        data * hourly(pricing.SEARCH_HOURLY, kind, "OpenSearch type") * HOURS,
    )
    if cc.get("DedicatedMasterEnabled"):
        masters, mkind = int(cc["DedicatedMasterCount"]), cc["DedicatedMasterType"]
        yield (
            f"{masters} masters x {mkind} x {HOURS} h",
            masters * hourly(pricing.SEARCH_HOURLY, mkind, "OpenSearch type") * HOURS,
        )
    gb = int(r["Properties"].get("EBSOptions", {}).get("VolumeSize", 0)) * data
    yield f"{gb:,} GB gp3", price("opensearch.gp3.gb", gb)


def stream(c: Context, rid: str, r: dict) -> Priced:
    shards = int(r["Properties"].get("ShardCount", 1))
    records = {"clickstream": c.usage.clickstream_records_m, "edge-logs": c.usage.edge_requests_m}
    puts = records.get(model_ref(r, "stream") or "", 0.0)
    yield f"{shards} shard x {HOURS} h", price("kinesis.shard_hour", shards * HOURS)
    yield f"{puts:,.1f}M PUT units", price("kinesis.put", puts)


def firehose(c: Context, rid: str, r: dict) -> Priced:
    gb = c.usage.lake_gb_in / c.count("AWS::KinesisFirehose::DeliveryStream")
    yield f"{gb:,.0f} GB ingested and converted to Parquet", price("firehose.gb", gb) + price("firehose.parquet.gb", gb)


def workgroup(c: Context, rid: str, r: dict) -> Priced:
    yield f"{c.usage.athena_tb:,.2f} TB scanned", price("athena.tb", c.usage.athena_tb)


def eks_cluster(c: Context, rid: str, r: dict) -> Priced:
    yield f"control plane x {HOURS} h", price("eks.hour", HOURS)


def nodegroup(c: Context, rid: str, r: dict) -> Priced:
    p = r["Properties"]
    groups = c.count("AWS::EKS::Nodegroup")
    nodes = c.nodes / groups if c.nodes is not None else float(p["ScalingConfig"]["DesiredSize"])
    kind = p["InstanceTypes"][0]
    yield f"{nodes:g} x {kind} x {HOURS} h", nodes * hourly(pricing.EC2_HOURLY, kind, "instance type") * HOURS
    yield f"{nodes:g} x {pricing.NODE_ROOT_GB} GB gp3 root", price("ebs.gp3.gb", nodes * pricing.NODE_ROOT_GB)


def alb(c: Context, rid: str, r: dict) -> Priced:
    """The ingress's ALB (not a template resource)."""
    yield f"made by the ingress, {HOURS} h", price("alb.hour", HOURS)
    yield f"{c.usage.alb_lcu:g} LCU x {HOURS} h", price("alb.lcu", c.usage.alb_lcu * HOURS)


def distribution(c: Context, rid: str, r: dict) -> Priced:
    u = c.usage
    yield f"{u.edge_gb:,.0f} GB to viewers", price("cloudfront.gb", u.edge_gb)
    yield f"{u.edge_requests_m:,.0f}M HTTPS requests", price("cloudfront.https", u.edge_requests_m * 100)


def function(c: Context, rid: str, r: dict) -> Priced:
    calls = c.usage.edge_requests_m * (1 - c.usage.api_share)
    yield f"{calls:,.1f}M invocations (non-API requests)", price("cloudfront.function", calls)


def realtime_logs(c: Context, rid: str, r: dict) -> Priced:
    lines = c.usage.edge_requests_m * float(r["Properties"].get("SamplingRate", 100)) / 100
    yield f"{lines:,.1f}M log lines", price("cloudfront.realtime_log", lines)


def monitoring(c: Context, rid: str, r: dict) -> Priced:
    yield "8 additional metrics", price("cloudfront.metric", 8)


def web_acl(c: Context, rid: str, r: dict) -> Priced:
    rules = len(r["Properties"].get("Rules", []))
    yield "web ACL", price("waf.acl", 1)
    yield f"{rules} rules", price("waf.rule", rules)
    yield f"{c.usage.edge_requests_m:,.0f}M requests", price("waf.requests", c.usage.edge_requests_m)


def record(c: Context, rid: str, r: dict) -> Priced:
    if "AliasTarget" in r["Properties"]:
        yield "alias to CloudFront: queries free", 0.0
        return
    yield f"{c.usage.route53_queries_m:,.1f}M queries", price("route53.queries", c.usage.route53_queries_m)


def log_group(c: Context, rid: str, r: dict) -> Priced:
    u = c.usage
    gb = u.log_gb.get(rid, u.log_gb["*"])
    days = int(r["Properties"].get("RetentionInDays", 3650))
    stored = gb * days / 30 * u.log_compression
    vended = str(r["Properties"].get("LogGroupName", "")).startswith("aws-waf-logs")
    yield (
        f"{gb:,.1f} GB ingested{' (vended)' if vended else ''}",
        price("logs.vended.gb" if vended else "logs.ingest.gb", gb),
    )
    yield f"{stored:,.1f} GB archived ({days} days)", price("logs.storage.gb", stored)


def alarm(c: Context, rid: str, r: dict) -> Priced:
    yield "alarm", price("cw.alarm", 1)


def dashboard(c: Context, rid: str, r: dict) -> Priced:
    yield "dashboard", price("cw.dashboard", 1)


def sampling_rule(c: Context, rid: str, r: dict) -> Priced:
    traces = c.usage.traced_requests_m / c.count("AWS::XRay::SamplingRule")
    yield f"{traces:,.2f}M traces (an even share)", price("xray.trace", traces)


PRICERS: dict[str, Callable[[Context, str, dict], Priced]] = {
    "AWS::EC2::NatGateway": nat_gateway,
    "AWS::EC2::EIP": eip,
    "AWS::EC2::VPCEndpoint": vpc_endpoint,
    "AWS::EC2::FlowLog": flow_log,
    "AWS::S3::Bucket": bucket,
    "AWS::KMS::Key": kms_key,
    "AWS::SecretsManager::Secret": secret,
    "AWS::Cognito::UserPool": user_pool,
    "AWS::SNS::Topic": topic,
    "AWS::SQS::Queue": queue,
    "AWS::DynamoDB::Table": table,
    "AWS::RDS::DBInstance": db_instance,
    "AWS::RDS::DBCluster": db_cluster,
    "AWS::ElastiCache::ReplicationGroup": cache,
    "AWS::OpenSearchService::Domain": search_domain,
    "AWS::Kinesis::Stream": stream,
    "AWS::KinesisFirehose::DeliveryStream": firehose,
    "AWS::Athena::WorkGroup": workgroup,
    "AWS::EKS::Cluster": eks_cluster,
    "AWS::EKS::Nodegroup": nodegroup,
    "AWS::CloudFront::Distribution": distribution,
    "AWS::CloudFront::Function": function,
    "AWS::CloudFront::RealtimeLogConfig": realtime_logs,
    "AWS::CloudFront::MonitoringSubscription": monitoring,
    "AWS::WAFv2::WebACL": web_acl,
    "AWS::Route53::RecordSet": record,
    "AWS::Logs::LogGroup": log_group,
    "AWS::CloudWatch::Alarm": alarm,
    "AWS::CloudWatch::Dashboard": dashboard,
    "AWS::XRay::SamplingRule": sampling_rule,
}
# The ALB is the ingress's (the Load Balancer Controller makes it): priced where the template gives it a
# security group, under a name of its own.
ALB_SECURITY_GROUP = "AlbSecurityGroup"
ALB = ("IngressAlb", "AWS::ElasticLoadBalancingV2::LoadBalancer")
