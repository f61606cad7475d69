"""S3 buckets, the same way in every layer: encrypted, versioned, private, TLS-only, access-logged, tidied.

Every bucket's lifecycle expires replaced (noncurrent) versions and aborts stalled multipart uploads,
so versioning does not keep every overwritten object forever; every bucket sends its events to
EventBridge (free for AWS service events) for whoever wants to react to them.
"""

from __future__ import annotations

from typing import Any

from awacs import s3 as awacs_s3
from awacs.aws import Bool, Condition, Deny, PolicyDocument, Principal, Statement
from troposphere import GetAtt, Join, Ref, Template, s3

from cfn.common import explain, logical_id, name, suppress_guard, tags
from reference.model import Bucket, BucketRole

LOGS_PREFIX = "s3-access/"
NONCURRENT_DAYS = 30  # how long a replaced or deleted object's previous version stays recoverable
MULTIPART_DAYS = 7
# Why no bucket has S3 Object Lock (Control Tower's CT.S3.PR.9), bucket by bucket.
NO_OBJECT_LOCK = {
    BucketRole.STATIC_SITE: "each deploy replaces the site's files; versioning keeps the previous ones "
    f"{NONCURRENT_DAYS} days for a rollback, and a WORM retention would only pin outdated assets",
    BucketRole.MEDIA: "product images are replaced and deleted by the catalog; versioning keeps previous ones "
    f"{NONCURRENT_DAYS} days, and a WORM retention would keep withdrawn images against the shop's will",
    BucketRole.DATA_LAKE: "Firehose's Parquet files are rewritten when partitions are compacted or reprocessed, "
    f"which a WORM retention would refuse; versioning keeps replaced files {NONCURRENT_DAYS} days",
    BucketRole.LOGS: "S3 server access logging cannot deliver to a bucket with an Object Lock default retention "
    "(S3 user guide, server access logging requirements); the lifecycle, versioning and the TLS-only policy stay",
}
LOGGED_ELSEWHERE = (
    "logs to the network layer's logs bucket (LoggingConfiguration), named by Fn::ImportValue; "
    "the rule accepts only a literal bucket name or a Ref to a bucket of the same template"
)


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
    expire = {} if lifecycle_days is None else {"ExpirationInDays": lifecycle_days}
    props["LifecycleConfiguration"] = s3.LifecycleConfiguration(
        Rules=[
            s3.LifecycleRule(
                Id="expire" if expire else "tidy",
                Status="Enabled",
                NoncurrentVersionExpiration=s3.NoncurrentVersionExpiration(NoncurrentDays=NONCURRENT_DAYS),
                AbortIncompleteMultipartUpload=s3.AbortIncompleteMultipartUpload(DaysAfterInitiation=MULTIPART_DAYS),
                **expire,
            )
        ]
    )
    props["NotificationConfiguration"] = s3.NotificationConfiguration(
        EventBridgeConfiguration=s3.EventBridgeConfiguration(EventBridgeEnabled=True)
    )
    resource = s3.Bucket(bucket_id(bucket), DeletionPolicy="Retain", UpdateReplacePolicy="Retain", **props)
    explain(resource, f"bucket:{bucket.name}", *refs)
    suppress_guard(resource, "s3_bucket_object_lock_enabled_check", NO_OBJECT_LOCK[bucket.role])
    if logs_bucket is not None and not isinstance(logs_bucket, str | Ref):
        suppress_guard(resource, "s3_bucket_logging_enabled_check", LOGGED_ELSEWHERE)
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
        # The string "false", as IAM documents it: Control Tower's TLS-only check matches that exact form.
        Condition=Condition(Bool("aws:SecureTransport", "false")),
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
