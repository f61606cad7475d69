"""S3 buckets, the same way in every layer: encrypted, versioned, private, TLS-only, access-logged."""

from __future__ import annotations

from typing import Any

from awacs import s3 as awacs_s3
from awacs.aws import Bool, Condition, Deny, PolicyDocument, Principal, Statement
from troposphere import GetAtt, Join, Ref, Template, s3

from cfn.common import explain, logical_id, name, tags
from reference.model import Bucket

LOGS_PREFIX = "s3-access/"


def bucket_id(bucket: Bucket) -> str:
    return logical_id("bucket", bucket.name)


def add_bucket(
    t: Template,
    bucket: Bucket,
    layer: str,
    *refs: str,
    kms_key_arn: Any = None,
    logs_bucket: Any = None,
    lifecycle_days: int | None = None,
) -> s3.Bucket:
    """The bucket and a policy refusing plain HTTP; SSE-KMS with ``kms_key_arn``, else SSE-S3."""
    if kms_key_arn is None:
        default = s3.ServerSideEncryptionByDefault(SSEAlgorithm="AES256")
    else:
        default = s3.ServerSideEncryptionByDefault(SSEAlgorithm="aws:kms", KMSMasterKeyID=kms_key_arn)
    props: dict[str, Any] = {
        "BucketName": name(bucket.name),
        "BucketEncryption": s3.BucketEncryption(
            ServerSideEncryptionConfiguration=[
                s3.ServerSideEncryptionRule(ServerSideEncryptionByDefault=default, BucketKeyEnabled=True)
            ]
        ),
        "VersioningConfiguration": s3.VersioningConfiguration(Status="Enabled"),
        "PublicAccessBlockConfiguration": s3.PublicAccessBlockConfiguration(
            BlockPublicAcls=True, BlockPublicPolicy=True, IgnorePublicAcls=True, RestrictPublicBuckets=True
        ),
        "OwnershipControls": s3.OwnershipControls(
            Rules=[s3.OwnershipControlsRule(ObjectOwnership="BucketOwnerEnforced")]
        ),
        "Tags": tags(layer, purpose=bucket.purpose),
    }
    if logs_bucket is not None:
        props["LoggingConfiguration"] = s3.LoggingConfiguration(
            DestinationBucketName=logs_bucket, LogFilePrefix=f"{LOGS_PREFIX}{bucket.name}/"
        )
    if lifecycle_days is not None:
        props["LifecycleConfiguration"] = s3.LifecycleConfiguration(
            Rules=[
                s3.LifecycleRule(
                    Id="expire",
                    Status="Enabled",
                    ExpirationInDays=lifecycle_days,
                    NoncurrentVersionExpiration=s3.NoncurrentVersionExpiration(NoncurrentDays=30),
                    AbortIncompleteMultipartUpload=s3.AbortIncompleteMultipartUpload(DaysAfterInitiation=7),
                )
            ]
        )
    resource = s3.Bucket(bucket_id(bucket), DeletionPolicy="Retain", UpdateReplacePolicy="Retain", **props)
    explain(resource, f"bucket:{bucket.name}", *refs)
    t.add_resource(resource)
    return resource


def tls_only(bucket_arn: Any) -> Statement:
    """The statement every bucket policy starts with: no plain-HTTP access at all."""
    return Statement(
        Sid="TlsOnly",
        Effect=Deny,
        Principal=Principal("*"),
        Action=[awacs_s3.Action("*")],
        Resource=[bucket_arn, Join("", [bucket_arn, "/*"])],
        Condition=Condition(Bool("aws:SecureTransport", False)),
    )


def objects(bucket: s3.Bucket) -> Join:
    """The ARN of every object of a bucket of this template."""
    return Join("", [GetAtt(bucket, "Arn"), "/*"])


def add_bucket_policy(
    t: Template, title: str, bucket_name: Any, bucket_arn: Any, refs: tuple[str, ...], *statements: Statement
) -> s3.BucketPolicy:
    """A bucket's policy: TLS only, then ``statements``."""
    policy = s3.BucketPolicy(
        title,
        Bucket=bucket_name,
        PolicyDocument=PolicyDocument(Version="2012-10-17", Statement=[tls_only(bucket_arn), *statements]),
    )
    return t.add_resource(explain(policy, *refs))


def add_own_bucket_policy(t: Template, bucket: s3.Bucket, *statements: Statement) -> s3.BucketPolicy:
    """The policy of a bucket of this template."""
    refs = tuple(bucket.Metadata["Model"])
    return add_bucket_policy(t, f"{bucket.title}Policy", Ref(bucket), GetAtt(bucket, "Arn"), refs, *statements)
