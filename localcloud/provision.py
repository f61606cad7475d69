"""Create every resource of the reference model through the AWS APIs, idempotently.

Against the local emulator this is how the stack comes to exist; in AWS the
CloudFormation templates (cfn/) own the same resources, rendered from the same model.
Running it twice changes nothing the second time: each step looks before it creates
and brings attributes back in line (filter policies, redrive policies, TTL) if they drifted.
"""

from __future__ import annotations

import json
import secrets as random_secrets
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from typing import Any
from urllib.parse import urlsplit

from botocore.exceptions import ClientError

from localcloud.health import aws_client
from localcloud.observability import alarms
from localcloud.observability.settings import ObservabilitySettings
from reference import RESOURCES, physical_name
from reference.analytics import DATABASE as LAKE_DATABASE
from reference.analytics import PARTITION_KEYS, LakeTable, storage, table_parameters
from reference.analytics import TABLES as LAKE_TABLES
from reference.model import Queue, Resources, Secret, Subscription, Table, UserPool

Progress = Callable[[str], None]


@dataclass
class Outputs:
    """What provisioning created, keyed by logical name: the local twin of the stacks' outputs."""

    stage: str
    region: str
    endpoint_url: str | None
    account: str = ""
    kms_keys: dict[str, str] = field(default_factory=dict)  # alias -> key id
    tables: dict[str, str] = field(default_factory=dict)  # -> table name
    topics: dict[str, str] = field(default_factory=dict)  # -> topic ARN
    queues: dict[str, str] = field(default_factory=dict)  # -> queue URL
    dlqs: dict[str, str] = field(default_factory=dict)  # queue name -> its DLQ's URL
    subscriptions: dict[str, str] = field(default_factory=dict)  # "topic->queue" -> subscription ARN
    buckets: dict[str, str] = field(default_factory=dict)  # -> bucket name
    user_pool_id: str = ""
    user_pool_clients: dict[str, str] = field(default_factory=dict)  # -> client id
    secrets: dict[str, str] = field(default_factory=dict)  # -> secret ARN
    streams: dict[str, str] = field(default_factory=dict)  # -> stream ARN
    delivery_streams: dict[str, str] = field(default_factory=dict)  # -> delivery stream name
    glue_tables: dict[str, str] = field(default_factory=dict)  # -> "<database>.<table>"
    alarm_topic: str = ""  # the alarms' SNS topic ARN
    alarms: list[str] = field(default_factory=list)  # alarm names (reference/observability.py)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Outputs:
        return cls(**json.loads(text))

    def moved(self, endpoint_url: str | None) -> Outputs:
        """The same resources answering at ``endpoint_url``: a queue's URL carries the endpoint it was made at."""
        old = (self.endpoint_url or "").rstrip("/")
        new = (endpoint_url or "").rstrip("/")

        def move(url: str) -> str:
            return new + url[len(old) :] if old and url.startswith(old + "/") else url

        return replace(
            self,
            endpoint_url=endpoint_url,
            queues={k: move(v) for k, v in self.queues.items()},
            dlqs={k: move(v) for k, v in self.dlqs.items()},
        )


class Provisioner:
    """Provisions ``Resources`` into one AWS endpoint (moto, another emulator, or an account)."""

    def __init__(self, *, endpoint_url: str | None, region: str, stage: str, database_url: str | None = None):
        self.endpoint_url = endpoint_url
        self.region = region
        self.stage = stage
        self.database_url = database_url
        self._clients: dict[str, Any] = {}

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = aws_client(service, endpoint_url=self.endpoint_url, region=self.region)
        return self._clients[service]

    def name(self, logical: str, sep: str = "-") -> str:
        return physical_name(logical, self.stage, sep)

    def provision(self, res: Resources = RESOURCES, progress: Progress = lambda _: None) -> Outputs:
        """Create or reconcile every resource; report one line per AWS service as it is done."""
        out = Outputs(self.stage, self.region, self.endpoint_url)
        out.account = self.client("sts").get_caller_identity()["Account"]
        for key in res.kms_keys:
            out.kms_keys[key.alias] = self.kms_key(key.alias, key.purpose)
        progress(f"kms: {len(out.kms_keys)} key(s)")
        for table in res.tables:
            out.tables[table.name] = self.table(table)
        progress(f"dynamodb: {len(out.tables)} tables with TTL")
        for topic in res.topics:
            out.topics[topic.name] = self.client("sns").create_topic(Name=self.name(topic.name))["TopicArn"]
        for queue in res.queues:
            out.queues[queue.name], out.dlqs[queue.name] = self.queue(queue, res, out.topics)
        for sub in res.subscriptions:
            out.subscriptions[f"{sub.topic}->{sub.queue}"] = self.subscription(sub, out)
        progress(
            f"sns/sqs: {len(out.topics)} topics, {len(out.queues)} queues + {len(out.dlqs)} DLQs, "
            f"{len(out.subscriptions)} filtered subscriptions"
        )
        for bucket in res.buckets:
            out.buckets[bucket.name] = self.bucket(bucket.name, out.kms_keys)
        progress(f"s3: {len(out.buckets)} buckets")
        out.user_pool_id, out.user_pool_clients = self.user_pool(res.user_pool)
        progress(f"cognito: pool {self.name(res.user_pool.name)} with {len(out.user_pool_clients)} client(s)")
        self.secrets(out, res)
        progress(f"secrets manager: {len(out.secrets)} secrets (KMS-encrypted)")
        for stream in res.streams:
            out.streams[stream.name] = self.stream(stream.name, stream.shards)
        for delivery in res.delivery_streams:
            out.glue_tables |= self.glue_table(delivery.name, out.buckets[delivery.bucket])
        for delivery in res.delivery_streams:
            out.delivery_streams[delivery.name] = self.delivery_stream(
                delivery.name, out.streams[delivery.source_stream], out.buckets[delivery.bucket], delivery.prefix, out
            )
        progress(
            f"kinesis/firehose/glue: {len(out.streams)} streams, {len(out.delivery_streams)} delivery streams, "
            f"{len(out.glue_tables)} Glue tables"
        )
        for sender in res.email_senders:
            self.client("ses").verify_email_identity(EmailAddress=sender.address)
        progress(f"ses: {len(res.email_senders)} sender identity")
        out.alarm_topic, out.alarms = alarms.provision(
            self.client("cloudwatch"), self.client("sns"), self.stage, ObservabilitySettings().alarm_period_s
        )
        progress(f"cloudwatch: {len(out.alarms)} alarms (reference/observability.py) to {out.alarm_topic}")
        return out

    # ----------------------------------------------------------------- KMS

    def kms_key(self, alias: str, purpose: str) -> str:
        kms = self.client("kms")
        alias_name = f"alias/{self.name(alias)}"
        for page in kms.get_paginator("list_aliases").paginate():
            for entry in page["Aliases"]:
                if entry["AliasName"] == alias_name and "TargetKeyId" in entry:
                    return entry["TargetKeyId"]
        key_id = kms.create_key(Description=purpose)["KeyMetadata"]["KeyId"]
        kms.enable_key_rotation(KeyId=key_id)
        kms.create_alias(AliasName=alias_name, TargetKeyId=key_id)
        return key_id

    # ----------------------------------------------------------------- DynamoDB

    def table(self, table: Table) -> str:
        ddb = self.client("dynamodb")
        name = self.name(table.name)
        keys = [table.partition_key] + ([table.sort_key] if table.sort_key else [])
        try:
            ddb.describe_table(TableName=name)
        except ddb.exceptions.ResourceNotFoundException:
            ddb.create_table(
                TableName=name,
                AttributeDefinitions=[{"AttributeName": k.name, "AttributeType": str(k.type)} for k in keys],
                KeySchema=[
                    {"AttributeName": k.name, "KeyType": kind} for k, kind in zip(keys, ("HASH", "RANGE"), strict=False)
                ],
                BillingMode="PAY_PER_REQUEST",
            )
            ddb.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 30})
        if table.ttl_attribute:
            ttl = ddb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
            if ttl.get("TimeToLiveStatus") != "ENABLED" or ttl.get("AttributeName") != table.ttl_attribute:
                ddb.update_time_to_live(
                    TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": table.ttl_attribute}
                )
        return name

    # ----------------------------------------------------------------- SQS and SNS

    def queue(self, queue: Queue, res: Resources, topic_arns: dict[str, str]) -> tuple[str, str]:
        """The queue and its DLQ, with the redrive policy and a policy letting its topics send to it."""
        dlq_url = self._queue(self.name(queue.dlq_name), {"MessageRetentionPeriod": str(queue.dlq_retention_s)})
        dlq_arn = self.queue_arn(dlq_url)
        url = self._queue(
            self.name(queue.name),
            {
                "VisibilityTimeout": str(queue.visibility_timeout_s),
                "MessageRetentionPeriod": str(queue.retention_s),
                "ReceiveMessageWaitTimeSeconds": str(queue.receive_wait_s),
                "RedrivePolicy": json.dumps(
                    {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": queue.max_receive_count}
                ),
            },
        )
        sources = sorted(topic_arns[s.topic] for s in res.subscriptions_of(queue.name))
        policy = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "topics-may-send",
                    "Effect": "Allow",
                    "Principal": {"Service": "sns.amazonaws.com"},
                    "Action": "sqs:SendMessage",
                    "Resource": self.queue_arn(url),
                    "Condition": {"ArnEquals": {"aws:SourceArn": sources}},
                }
            ],
        }
        self.client("sqs").set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(policy)})
        return url, dlq_url

    def _queue(self, name: str, attributes: dict[str, str]) -> str:
        sqs = self.client("sqs")
        try:
            url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
        except sqs.exceptions.QueueDoesNotExist:
            return sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        sqs.set_queue_attributes(QueueUrl=url, Attributes=attributes)
        return url

    def queue_arn(self, url: str) -> str:
        attrs = self.client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
        return attrs["Attributes"]["QueueArn"]

    def subscription(self, sub: Subscription, out: Outputs) -> str:
        """Subscribe the queue to the topic with raw delivery and the filter policy, or reconcile both."""
        sns = self.client("sns")
        topic_arn = out.topics[sub.topic]
        queue_arn = self.queue_arn(out.queues[sub.queue])
        policy = sub.filter_policy()
        wanted = {"RawMessageDelivery": "true"}
        if policy is not None:
            wanted |= {"FilterPolicy": json.dumps(policy), "FilterPolicyScope": "MessageAttributes"}
        for page in sns.get_paginator("list_subscriptions_by_topic").paginate(TopicArn=topic_arn):
            for existing in page["Subscriptions"]:
                if existing["Endpoint"] == queue_arn:
                    arn = existing["SubscriptionArn"]
                    for key, value in wanted.items():
                        sns.set_subscription_attributes(SubscriptionArn=arn, AttributeName=key, AttributeValue=value)
                    return arn
        return sns.subscribe(
            TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn, Attributes=wanted, ReturnSubscriptionArn=True
        )["SubscriptionArn"]

    # ----------------------------------------------------------------- S3

    def bucket(self, logical: str, kms_keys: dict[str, str]) -> str:
        s3 = self.client("s3")
        name = self.name(logical)
        try:
            s3.head_bucket(Bucket=name)
        except ClientError as exc:
            if exc.response["Error"]["Code"] not in ("404", "NoSuchBucket"):
                raise
            where = (
                {} if self.region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": self.region}}
            )
            s3.create_bucket(Bucket=name, **where)
        s3.put_public_access_block(
            Bucket=name,
            PublicAccessBlockConfiguration={
                "BlockPublicAcls": True,
                "IgnorePublicAcls": True,
                "BlockPublicPolicy": True,
                "RestrictPublicBuckets": True,
            },
        )
        s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
        key_id = next(iter(kms_keys.values()))
        s3.put_bucket_encryption(
            Bucket=name,
            ServerSideEncryptionConfiguration={
                "Rules": [
                    {
                        "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key_id},
                        "BucketKeyEnabled": True,
                    }
                ]
            },
        )
        return name

    # ----------------------------------------------------------------- Cognito

    def user_pool(self, pool: UserPool) -> tuple[str, dict[str, str]]:
        idp = self.client("cognito-idp")
        name = self.name(pool.name)
        pool_id = next(
            (
                p["Id"]
                for page in idp.get_paginator("list_user_pools").paginate(MaxResults=60)
                for p in page["UserPools"]
                if p["Name"] == name
            ),
            None,
        )
        if pool_id is None:
            pool_id = idp.create_user_pool(
                PoolName=name,
                UsernameAttributes=["email"],
                AutoVerifiedAttributes=["email"],
                Policies={
                    "PasswordPolicy": {
                        "MinimumLength": pool.password_min_length,
                        "RequireUppercase": True,
                        "RequireLowercase": True,
                        "RequireNumbers": True,
                        "RequireSymbols": False,
                    }
                },
                MfaConfiguration="OFF",  # MFA (OPTIONAL in AWS) needs SMS or TOTP set-up the emulator cannot do
            )["UserPool"]["Id"]
        existing_clients = {
            c["ClientName"]: c["ClientId"]
            for page in idp.get_paginator("list_user_pool_clients").paginate(UserPoolId=pool_id, MaxResults=60)
            for c in page["UserPoolClients"]
        }
        clients: dict[str, str] = {}
        for client in pool.clients:
            client_name = self.name(client.name)
            clients[client.name] = (
                existing_clients.get(client_name)
                or idp.create_user_pool_client(
                    UserPoolId=pool_id,
                    ClientName=client_name,
                    GenerateSecret=False,
                    ExplicitAuthFlows=list(client.auth_flows),
                    AccessTokenValidity=client.access_token_minutes,
                    IdTokenValidity=client.access_token_minutes,
                    RefreshTokenValidity=client.refresh_token_days,
                    TokenValidityUnits={"AccessToken": "minutes", "IdToken": "minutes", "RefreshToken": "days"},
                )["UserPoolClient"]["ClientId"]
            )
        groups = {
            g["GroupName"]
            for page in idp.get_paginator("list_groups").paginate(UserPoolId=pool_id)
            for g in page["Groups"]
        }
        for group in pool.groups:
            if group not in groups:
                idp.create_group(UserPoolId=pool_id, GroupName=group)
        return pool_id, clients

    # ----------------------------------------------------------------- Secrets Manager

    def secrets(self, out: Outputs, res: Resources = RESOURCES) -> None:
        """Create or bring up to date every secret: run again once ``database_url`` is known, or has changed."""
        for secret in res.secrets:
            out.secrets[secret.name] = self.secret(secret, out.kms_keys)

    def secret(self, secret: Secret, kms_keys: dict[str, str]) -> str:
        """Create the secret, or update it keeping the random values it already has."""
        sm = self.client("secretsmanager")
        name = self.name(secret.name, sep="/")
        try:
            current = json.loads(sm.get_secret_value(SecretId=name)["SecretString"])
            arn = sm.describe_secret(SecretId=name)["ARN"]
        except sm.exceptions.ResourceNotFoundException:
            current, arn = None, None
        value = self.secret_value(secret, current or {})
        if arn is None:
            return sm.create_secret(
                Name=name, KmsKeyId=kms_keys[secret.kms_key], SecretString=json.dumps(value), Description=secret.purpose
            )["ARN"]
        if value != current:
            sm.put_secret_value(SecretId=name, SecretString=json.dumps(value))
        return arn

    def secret_value(self, secret: Secret, current: dict[str, Any]) -> dict[str, Any]:
        value: dict[str, Any] = {}
        for key in secret.generated:
            value[key] = current.get(key) or random_secrets.token_urlsafe(32)
        if secret.name == "database" and self.database_url:
            value |= database_secret(self.database_url)
        return {k: value.get(k, current.get(k, "")) for k in secret.fields}

    # ----------------------------------------------------------------- Kinesis, Firehose

    def stream(self, logical: str, shards: int) -> str:
        kinesis = self.client("kinesis")
        name = self.name(logical)
        try:
            return kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["StreamARN"]
        except kinesis.exceptions.ResourceNotFoundException:
            kinesis.create_stream(StreamName=name, ShardCount=shards)
        kinesis.get_waiter("stream_exists").wait(StreamName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 30})
        return kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["StreamARN"]

    def delivery_stream(self, logical: str, stream_arn: str, bucket: str, prefix: str, out: Outputs) -> str:
        firehose = self.client("firehose")
        name = self.name(logical)
        try:
            firehose.describe_delivery_stream(DeliveryStreamName=name)
            return name
        except firehose.exceptions.ResourceNotFoundException:
            pass
        role = f"arn:aws:iam::{out.account}:role/{self.name('firehose')}"
        table = next(t for t in LAKE_TABLES if t.delivery_stream == logical)  # its settings are the table's
        destination: dict[str, Any] = {
            "RoleARN": role,
            "BucketARN": f"arn:aws:s3:::{bucket}",
            "Prefix": table.prefix,
            "ErrorOutputPrefix": table.error_prefix,
            "BufferingHints": {"IntervalInSeconds": table.buffer_interval_s, "SizeInMBs": table.buffer_mb},
            "CompressionFormat": "UNCOMPRESSED" if table.format == "parquet" else "GZIP",
        }
        if table.format == "parquet":
            destination["DataFormatConversionConfiguration"] = {
                "Enabled": True,
                "InputFormatConfiguration": {"Deserializer": {"OpenXJsonSerDe": {}}},
                "OutputFormatConfiguration": {"Serializer": {"ParquetSerDe": {}}},
                "SchemaConfiguration": {
                    "CatalogId": out.account,
                    "DatabaseName": self.name(LAKE_DATABASE, sep="_"),
                    "TableName": table.name,
                    "Region": self.region,
                    "RoleARN": role,
                    "VersionId": "LATEST",
                },
            }
        firehose.create_delivery_stream(
            DeliveryStreamName=name,
            DeliveryStreamType="KinesisStreamAsSource",
            KinesisStreamSourceConfiguration={"KinesisStreamARN": stream_arn, "RoleARN": role},
            ExtendedS3DestinationConfiguration=destination,
        )
        return name

    # ----------------------------------------------------------------- Glue (the lake's schema, reference/analytics.py)

    def glue_table(self, delivery: str, bucket: str) -> dict[str, str]:
        """The Glue table over what ``delivery`` writes (and the database), created or brought back in line."""
        glue = self.client("glue")
        database = self.name(LAKE_DATABASE, sep="_")
        try:
            glue.get_database(Name=database)
        except glue.exceptions.EntityNotFoundException:
            glue.create_database(DatabaseInput={"Name": database, "Description": "the shop's data lake"})
        table = next(t for t in LAKE_TABLES if t.delivery_stream == delivery)
        wanted = glue_table_input(table, f"s3://{bucket}/")
        try:
            glue.get_table(DatabaseName=database, Name=table.name)
            glue.update_table(DatabaseName=database, TableInput=wanted)
        except glue.exceptions.EntityNotFoundException:
            glue.create_table(DatabaseName=database, TableInput=wanted)
        return {table.name: f"{database}.{table.name}"}


def glue_table_input(table: LakeTable, bucket_url: str) -> dict[str, Any]:
    """Glue's TableInput of a lake table in the bucket at ``bucket_url`` (s3://name/), as cfn/analytics.py has it."""
    location = f"{bucket_url}{table.location}"
    return {
        "Name": table.name,
        "TableType": "EXTERNAL_TABLE",
        "Parameters": table_parameters(table, location),
        "PartitionKeys": [{"Name": k, "Type": "string"} for k in PARTITION_KEYS],
        "StorageDescriptor": {
            "Columns": [{"Name": c.name, "Type": c.type} | ({"Comment": c.comment} if c.comment else {})
                        for c in table.columns],
            "Location": location,
            **storage(table),
        },
    }  # fmt: skip


def database_secret(database_url: str) -> dict[str, Any]:
    """The fields of an RDS-style credentials secret, taken from a PostgreSQL URL."""
    parts = urlsplit(database_url)
    return {
        "engine": "postgres",
        "host": parts.hostname or "",
        "port": parts.port or 5432,
        "username": parts.username or "",
        "password": parts.password or "",
        "dbname": parts.path.lstrip("/") or "postgres",
    }
