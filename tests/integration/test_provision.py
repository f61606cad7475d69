"""Provisioning creates every resource of the reference model, with its settings, and only once."""

from __future__ import annotations

import json

from localcloud.provision import Outputs, Provisioner, database_secret
from reference import RESOURCES, physical_name


def test_every_table_exists_with_its_keys_billing_and_ttl(aws, provisioned: Outputs):
    ddb = aws.client("dynamodb")
    assert set(provisioned.tables) == {t.name for t in RESOURCES.tables}
    for table in RESOURCES.tables:
        desc = ddb.describe_table(TableName=physical_name(table.name, aws.stage))["Table"]
        assert desc["KeySchema"] == [{"AttributeName": table.partition_key.name, "KeyType": "HASH"}]
        assert desc["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
        ttl = ddb.describe_time_to_live(TableName=desc["TableName"])["TimeToLiveDescription"]
        assert (ttl["TimeToLiveStatus"], ttl["AttributeName"]) == ("ENABLED", table.ttl_attribute)


def test_every_queue_has_its_dlq_and_redrive_policy(aws, provisioned: Outputs):
    sqs = aws.client("sqs")
    assert set(provisioned.queues) == set(provisioned.dlqs) == {q.name for q in RESOURCES.queues}
    for queue in RESOURCES.queues:
        attrs = sqs.get_queue_attributes(QueueUrl=provisioned.queues[queue.name], AttributeNames=["All"])["Attributes"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=provisioned.dlqs[queue.name], AttributeNames=["QueueArn"])
        redrive = json.loads(attrs["RedrivePolicy"])
        assert redrive["deadLetterTargetArn"] == dlq_arn["Attributes"]["QueueArn"]
        assert redrive["deadLetterTargetArn"].endswith(physical_name(queue.dlq_name, aws.stage))
        assert int(redrive["maxReceiveCount"]) == queue.max_receive_count
        assert int(attrs["VisibilityTimeout"]) == queue.visibility_timeout_s
        policy = json.loads(attrs["Policy"])["Statement"][0]
        topics = {provisioned.topics[s.topic] for s in RESOURCES.subscriptions_of(queue.name)}
        assert set(policy["Condition"]["ArnEquals"]["aws:SourceArn"]) == topics


def test_every_topic_feeds_its_queues_through_the_modelled_filter_policy(aws, provisioned: Outputs):
    sns, sqs = aws.client("sns"), aws.client("sqs")
    assert set(provisioned.topics) == {t.name for t in RESOURCES.topics}
    for sub in RESOURCES.subscriptions:
        queue_arn = sqs.get_queue_attributes(QueueUrl=provisioned.queues[sub.queue], AttributeNames=["QueueArn"])
        found = [
            s
            for s in sns.list_subscriptions_by_topic(TopicArn=provisioned.topics[sub.topic])["Subscriptions"]
            if s["Endpoint"] == queue_arn["Attributes"]["QueueArn"]
        ]
        assert len(found) == 1, f"{sub.topic} -> {sub.queue}"
        attrs = sns.get_subscription_attributes(SubscriptionArn=found[0]["SubscriptionArn"])["Attributes"]
        assert json.loads(attrs["FilterPolicy"]) == sub.filter_policy()
        assert attrs["RawMessageDelivery"] == "true"


def test_every_bucket_is_encrypted_versioned_and_private(aws, provisioned: Outputs):
    s3 = aws.client("s3")
    assert set(provisioned.buckets) == {b.name for b in RESOURCES.buckets}
    for name in provisioned.buckets.values():
        rule = s3.get_bucket_encryption(Bucket=name)["ServerSideEncryptionConfiguration"]["Rules"][0]
        assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
        assert s3.get_bucket_versioning(Bucket=name)["Status"] == "Enabled"
        block = s3.get_public_access_block(Bucket=name)["PublicAccessBlockConfiguration"]
        assert all(block.values())


def test_the_user_pool_has_its_client_and_groups(aws, provisioned: Outputs):
    idp = aws.client("cognito-idp")
    pool = idp.describe_user_pool(UserPoolId=provisioned.user_pool_id)["UserPool"]
    assert pool["Name"] == physical_name(RESOURCES.user_pool.name, aws.stage)
    assert pool["UsernameAttributes"] == ["email"]
    assert pool["Policies"]["PasswordPolicy"]["MinimumLength"] == RESOURCES.user_pool.password_min_length
    for client in RESOURCES.user_pool.clients:
        desc = idp.describe_user_pool_client(
            UserPoolId=provisioned.user_pool_id, ClientId=provisioned.user_pool_clients[client.name]
        )["UserPoolClient"]
        assert set(desc["ExplicitAuthFlows"]) == set(client.auth_flows)
    groups = {g["GroupName"] for g in idp.list_groups(UserPoolId=provisioned.user_pool_id)["Groups"]}
    assert groups == set(RESOURCES.user_pool.groups)


def test_secrets_are_encrypted_with_the_model_key_and_hold_their_fields(aws, provisioned: Outputs, servers):
    sm = aws.client("secretsmanager")
    for secret in RESOURCES.secrets:
        arn = provisioned.secrets[secret.name]
        assert sm.describe_secret(SecretId=arn)["KmsKeyId"] == provisioned.kms_keys[secret.kms_key]
        value = json.loads(sm.get_secret_value(SecretId=arn)["SecretString"])
        assert set(value) == set(secret.fields)
        for generated in secret.generated:
            assert len(value[generated]) >= 32
    database = json.loads(sm.get_secret_value(SecretId=provisioned.secrets["database"])["SecretString"])
    assert database == database_secret(servers.postgres.url)


def test_the_kms_key_has_its_alias_and_rotation(aws, provisioned: Outputs):
    kms = aws.client("kms")
    for key in RESOURCES.kms_keys:
        key_id = provisioned.kms_keys[key.alias]
        aliases = {a["AliasName"]: a.get("TargetKeyId") for a in kms.list_aliases()["Aliases"]}
        assert aliases[f"alias/{physical_name(key.alias, aws.stage)}"] == key_id
        assert kms.get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"]


def test_streams_delivery_streams_and_sender_exist(aws, provisioned: Outputs):
    kinesis, firehose, ses = aws.client("kinesis"), aws.client("firehose"), aws.client("ses")
    for stream in RESOURCES.streams:
        summary = kinesis.describe_stream_summary(StreamName=physical_name(stream.name, aws.stage))
        assert summary["StreamDescriptionSummary"]["OpenShardCount"] == stream.shards
    for delivery in RESOURCES.delivery_streams:
        desc = firehose.describe_delivery_stream(DeliveryStreamName=provisioned.delivery_streams[delivery.name])
        source = desc["DeliveryStreamDescription"]["Source"]["KinesisStreamSourceDescription"]
        assert source["KinesisStreamARN"] == provisioned.streams[delivery.source_stream]
    identities = ses.list_identities()["Identities"]
    assert {s.address for s in RESOURCES.email_senders} <= set(identities)


def test_provisioning_twice_creates_nothing_new(aws, provisioned: Outputs, servers):
    again = Provisioner(
        endpoint_url=aws.endpoint_url, region=aws.region, stage=aws.stage, database_url=servers.postgres.url
    ).provision()
    assert again == provisioned
    assert len(aws.client("cognito-idp").list_user_pools(MaxResults=60)["UserPools"]) == 1
    assert len(aws.client("kms").list_keys()["Keys"]) == len(RESOURCES.kms_keys)
    assert len(aws.client("sns").list_subscriptions()["Subscriptions"]) == len(RESOURCES.subscriptions)
    assert len(aws.client("sqs").list_queues()["QueueUrls"]) == 2 * len(RESOURCES.queues)


def test_provisioning_repairs_a_filter_policy_that_drifted(aws, provisioned: Outputs, servers):
    sns = aws.client("sns")
    arn = provisioned.subscriptions["order-events->recommendations"]
    sns.set_subscription_attributes(
        SubscriptionArn=arn, AttributeName="FilterPolicy", AttributeValue=json.dumps({"event_type": ["OrderPlaced"]})
    )
    Provisioner(
        endpoint_url=aws.endpoint_url, region=aws.region, stage=aws.stage, database_url=servers.postgres.url
    ).provision()
    attrs = sns.get_subscription_attributes(SubscriptionArn=arn)["Attributes"]
    assert json.loads(attrs["FilterPolicy"]) == {"event_type": ["OrderConfirmed"]}


def test_generated_secret_values_survive_reprovisioning(aws, provisioned: Outputs, servers):
    sm = aws.client("secretsmanager")
    before = sm.get_secret_value(SecretId=provisioned.secrets["app-keys"])["SecretString"]
    Provisioner(
        endpoint_url=aws.endpoint_url, region=aws.region, stage=aws.stage, database_url=servers.postgres.url
    ).provision()
    assert sm.get_secret_value(SecretId=provisioned.secrets["app-keys"])["SecretString"] == before
