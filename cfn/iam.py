"""Least-privilege IAM from reference.access grants: one statement per grant, on that resource only."""

from __future__ import annotations

from typing import Any

from awacs import dynamodb, es, kinesis, kms, rds_db, s3, secretsmanager, ses, sns, sqs
from awacs.aws import Action, Allow, Condition, PolicyDocument, Principal, Statement, StringEquals
from awacs.sts import AssumeRole, TagSession
from troposphere import Sub

from cfn.common import arn, logical_id
from reference.access import Grant, Verb

# What each verb lets a service do. Keys, not data: no wildcard actions beyond what the verb needs.
ACTIONS: dict[Verb, tuple[Action, ...]] = {
    Verb.PUBLISH: (sns.Publish,),
    Verb.CONSUME: (sqs.ReceiveMessage, sqs.DeleteMessage, sqs.ChangeMessageVisibility, sqs.GetQueueAttributes),
    Verb.READ_SECRET: (secretsmanager.GetSecretValue, secretsmanager.DescribeSecret),
    Verb.PRODUCE: (kinesis.PutRecord, kinesis.PutRecords, kinesis.DescribeStreamSummary),
    Verb.READ_WRITE_ITEMS: (
        dynamodb.GetItem,
        dynamodb.PutItem,
        dynamodb.UpdateItem,
        dynamodb.DeleteItem,
        dynamodb.Query,
        dynamodb.ConditionCheckItem,
    ),
    Verb.READ_WRITE_OBJECTS: (s3.GetObject, s3.PutObject, s3.DeleteObject),
    Verb.SEARCH: (es.ESHttpGet, es.ESHttpHead, es.ESHttpPost, es.ESHttpPut, es.ESHttpDelete),
    Verb.CONNECT_DATABASE: (rds_db.connect,),
    Verb.CONNECT_CACHE: (Action("elasticache", "Connect"),),
    Verb.SEND_EMAIL: (ses.SendEmail, ses.SendRawEmail),
    Verb.SEAL: (kms.GenerateDataKey, kms.Decrypt),
}
# Verbs whose resource is encrypted with the main key: the service needs the key too.
KMS_USE: dict[Verb, tuple[Action, ...]] = {
    Verb.PUBLISH: (kms.GenerateDataKey, kms.Decrypt),
    Verb.CONSUME: (kms.Decrypt,),
    Verb.READ_SECRET: (kms.Decrypt,),
    Verb.PRODUCE: (kms.GenerateDataKey,),
    Verb.READ_WRITE_ITEMS: (kms.Decrypt, kms.GenerateDataKey),
    Verb.READ_WRITE_OBJECTS: (kms.Decrypt, kms.GenerateDataKey),
}


def role_name(service: str) -> Sub:
    """Service roles have fixed names, so data stores can name them in resource policies without an import."""
    return Sub(f"shop-${{Stage}}-svc-{service}")


def role_arn(service: str) -> Sub:
    return Sub(f"arn:${{AWS::Partition}}:iam::${{AWS::AccountId}}:role/shop-${{Stage}}-svc-{service}")


def resource_arn(grant: Grant, imports: dict[str, Any]) -> Any:
    """The ARN a grant applies to; ``imports`` holds the few values only a deployed stack knows."""
    n = f"shop-${{Stage}}-{grant.target}"
    match grant.kind:
        case "topic":
            return arn("sns", n)
        case "queue":
            return arn("sqs", n)
        case "secret":
            return imports[f"secret:{grant.target}"]
        case "stream":
            return arn("kinesis", f"stream/{n}")
        case "table":
            return arn("dynamodb", f"table/{n}")
        case "bucket":
            return Sub(f"arn:${{AWS::Partition}}:s3:::{n}/*")
        case "domain":
            return arn("es", f"domain/{n}/*")
        case "database":
            return Sub(
                "arn:${AWS::Partition}:rds-db:${AWS::Region}:${AWS::AccountId}:dbuser:${Id}/" + grant.service,
                Id=imports["database-resource-id"],
            )
        case "cache":
            return [
                arn("elasticache", f"replicationgroup:{n}"),
                arn("elasticache", f"user:shop-${{Stage}}-{grant.service}"),
            ]
        case "email":
            return arn("ses", f"identity/{grant.target}")
    raise ValueError(grant.kind)


def policy_for(grants: tuple[Grant, ...], imports: dict[str, Any], key_arn: Any) -> PolicyDocument:
    """One statement per grant (Sid says which), plus the KMS use the encrypted ones need."""
    statements = []
    for g in grants:
        resource = key_arn if g.kind == "key" else resource_arn(g, imports)
        statement = Statement(
            Sid=logical_id(g.verb, g.target),
            Effect=Allow,
            Action=list(ACTIONS[g.verb]),
            Resource=resource if isinstance(resource, list) else [resource],
        )
        if g.verb is Verb.SEND_EMAIL:
            statement.Condition = Condition(StringEquals("ses:FromAddress", g.target))
        if g.verb is Verb.SEAL:  # only data keys bound to this service's own encryption context
            statement.Condition = Condition(StringEquals("kms:EncryptionContext:service", g.service))
        statements.append(statement)
    kms_actions = sorted({a.JSONrepr() for g in grants for a in KMS_USE.get(g.verb, ())})
    if kms_actions:
        statements.append(
            Statement(
                Sid="UseMainKey", Effect=Allow, Action=[Action(*a.split(":")) for a in kms_actions], Resource=[key_arn]
            )
        )
    return PolicyDocument(Version="2012-10-17", Statement=statements)


def pod_identity_trust() -> PolicyDocument:
    """EKS Pod Identity assumes the role (and tags the session with the pod's namespace and service account)."""
    return PolicyDocument(
        Version="2012-10-17",
        Statement=[
            Statement(
                Effect=Allow,
                Principal=Principal("Service", "pods.eks.amazonaws.com"),
                Action=[AssumeRole, TagSession],
            )
        ],
    )
