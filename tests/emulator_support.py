"""What an emulator holds, listed for comparing two emulators' states (tests/integration)."""

from __future__ import annotations

import json
from typing import Any

STAMPS = ("CreatedTimestamp", "LastModifiedTimestamp")


def inventory(aws: Any) -> dict[str, Any]:
    """Every resource the emulator holds, with the settings provisioning gives them (generated ids and values left
    out: two provisionings differ in those, and so may a restored state and a fresh one)."""
    sqs, sns, ddb, s3 = aws.client("sqs"), aws.client("sns"), aws.client("dynamodb"), aws.client("s3")
    idp, kms, secrets = aws.client("cognito-idp"), aws.client("kms"), aws.client("secretsmanager")
    kinesis, firehose, glue, ses = aws.client("kinesis"), aws.client("firehose"), aws.client("glue"), aws.client("ses")
    queues = sorted(sqs.list_queues().get("QueueUrls", []))
    pools = idp.list_user_pools(MaxResults=10)["UserPools"]
    return {
        "queues": {
            q: {k: v for k, v in sqs.get_queue_attributes(QueueUrl=q, AttributeNames=["All"])["Attributes"].items()
                if k not in STAMPS}
            for q in queues
        },
        "topics": sorted(t["TopicArn"] for t in sns.list_topics()["Topics"]),
        "subscriptions": sorted(
            (s["TopicArn"], s["Endpoint"], sns.get_subscription_attributes(SubscriptionArn=s["SubscriptionArn"])[
                "Attributes"
            ].get("FilterPolicy"))
            for s in sns.list_subscriptions()["Subscriptions"]
        ),
        "tables": {t: ddb.describe_table(TableName=t)["Table"]["KeySchema"] for t in ddb.list_tables()["TableNames"]},
        "buckets": sorted(b["Name"] for b in s3.list_buckets()["Buckets"]),
        "pools": {p["Name"]: sorted(c["ClientName"] for c in idp.list_user_pool_clients(
            UserPoolId=p["Id"])["UserPoolClients"]) for p in pools},
        "keys": sorted(a["AliasName"] for a in kms.list_aliases()["Aliases"] if "TargetKeyId" in a),
        "secrets": {s["Name"]: sorted(json.loads(secrets.get_secret_value(SecretId=s["ARN"])["SecretString"]))
                    for s in secrets.list_secrets()["SecretList"]},
        "streams": sorted(kinesis.list_streams()["StreamNames"]),
        "delivery_streams": sorted(firehose.list_delivery_streams()["DeliveryStreamNames"]),
        "glue": sorted(t["Name"] for d in glue.get_databases()["DatabaseList"]
                       for t in glue.get_tables(DatabaseName=d["Name"])["TableList"]),
        "senders": sorted(ses.list_identities()["Identities"]),
    }  # fmt: skip
