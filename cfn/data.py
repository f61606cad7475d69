"""Data layer: the managed data stores of the diagram (AUR, DDB, REDIS, OPENSEARCH, S3MEDIA).

Every store is encrypted with the main key, lives in the data subnets (no internet route) and
accepts connections only from the private subnets, where the EKS nodes run. Services
authenticate with IAM (Aurora IAM auth, ElastiCache IAM users, OpenSearch fine-grained access
mapped to IAM roles); the Aurora master secret rotates through the hosted PostgreSQL rotation.
"""

from __future__ import annotations

from typing import Any

from troposphere import GetAtt, ImportValue, Join, Ref, Split, Sub, Template, dynamodb, ec2, iam, rds, secretsmanager

from cfn.cache_search import add_cache, add_search
from cfn.common import add_size, explain, export, imported, logical_id, name, new_template, tags
from cfn.network import AZS, EXPORT_LOGS_BUCKET, EXPORT_VPC, EXPORT_VPC_CIDR, subnet_cidr_export, subnet_export
from cfn.security import kms_export, secret_export
from cfn.storage import add_bucket
from reference import RESOURCES, SERVICES
from reference.access import arrow
from reference.model import BucketRole, Table

LAYER = "data"
KEY = kms_export("main")
AURORA = "AuroraCluster"
AURORA_ENGINE_VERSION = "17.7"
POSTGRES_PORT = 5432
EXPORT_DATABASE_RESOURCE_ID = "database-resource-id"
EXPORT_MEDIA_BUCKET = "media-bucket"
EXPORT_MEDIA_DOMAIN = "media-bucket-domain"


def add_security_group(t: Template, store: str, port: int, *refs: str) -> ec2.SecurityGroup:
    """A store's security group: ``port`` from each private (node) subnet, nothing out."""
    ingress = [
        ec2.SecurityGroupRule(
            IpProtocol="tcp",
            FromPort=port,
            ToPort=port,
            CidrIp=imported(subnet_cidr_export("private", az)),
            Description=f"EKS pods in AZ {az}",
        )
        for az in range(AZS)
    ]
    sg = ec2.SecurityGroup(
        logical_id(store, "security", "group"),
        GroupDescription=f"{store}: port {port} from the EKS private subnets",
        VpcId=imported(EXPORT_VPC),
        SecurityGroupIngress=ingress,
        SecurityGroupEgress=[ec2.SecurityGroupRule(IpProtocol="-1", CidrIp="127.0.0.1/32", Description="no egress")],
        Tags=tags(LAYER),
    )
    return t.add_resource(explain(sg, *refs))


def data_subnets() -> Split:
    return Split(",", imported(subnet_export("data")))


def add_aurora(t: Template) -> rds.DBCluster:
    """Aurora PostgreSQL: writer and reader in different AZs, IAM auth, Performance Insights, backups."""
    database_refs = tuple(arrow(s.node, "AUR") for s in SERVICES if s.node in ("CATALOG", "USER", "ORDER"))
    sg = add_security_group(t, "aurora", POSTGRES_PORT, "AUR", *database_refs)
    subnets = t.add_resource(
        explain(
            rds.DBSubnetGroup("AuroraSubnets", DBSubnetGroupDescription="data subnets", SubnetIds=data_subnets()), "AUR"
        )
    )
    params = rds.DBClusterParameterGroup(
        "AuroraParameters",
        Description="TLS only, log slow statements",
        Family="aurora-postgresql17",
        Parameters={"rds.force_ssl": "1", "log_min_duration_statement": "500"},
    )
    t.add_resource(explain(params, "AUR"))
    secret = imported(secret_export("database"))
    resolve = "{{resolve:secretsmanager:${Secret}:SecretString:%s}}"
    cluster = rds.DBCluster(
        AURORA,
        Engine="aurora-postgresql",
        EngineVersion=AURORA_ENGINE_VERSION,
        DBClusterIdentifier=name("aurora"),
        MasterUsername=Sub(resolve % "username", Secret=secret),
        MasterUserPassword=Sub(resolve % "password", Secret=secret),
        DatabaseName="shop",
        Port=POSTGRES_PORT,
        DBSubnetGroupName=Ref(subnets),
        VpcSecurityGroupIds=[Ref(sg)],
        DBClusterParameterGroupName=Ref(params),
        StorageEncrypted=True,
        KmsKeyId=imported(KEY),
        EnableIAMDatabaseAuthentication=True,
        BackupRetentionPeriod=add_size(t, "AuroraBackupDays", number=True),
        PreferredBackupWindow="02:00-03:00",
        CopyTagsToSnapshot=True,
        DeletionProtection=True,
        EnableCloudwatchLogsExports=["postgresql"],
        Tags=tags(LAYER),
        DeletionPolicy="Snapshot",
        UpdateReplacePolicy="Snapshot",
    )
    t.add_resource(explain(cluster, "AUR", *database_refs))
    monitoring = iam.Role(
        "AuroraMonitoringRole",
        AssumeRolePolicyDocument={
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "monitoring.rds.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                }
            ],
        },
        ManagedPolicyArns=[Sub("arn:${AWS::Partition}:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole")],
    )
    t.add_resource(explain(monitoring, "AUR", "EKS --> CW"))
    instance_class = add_size(t, "AuroraInstanceClass")
    for role in ("writer", "reader"):
        instance = rds.DBInstance(
            logical_id("aurora", role),
            DBClusterIdentifier=Ref(cluster),
            Engine="aurora-postgresql",
            DBInstanceClass=instance_class,
            PubliclyAccessible=False,
            AutoMinorVersionUpgrade=True,
            EnablePerformanceInsights=True,
            PerformanceInsightsKMSKeyId=imported(KEY),
            PerformanceInsightsRetentionPeriod=7,
            MonitoringInterval=60,
            MonitoringRoleArn=GetAtt(monitoring, "Arn"),
            Tags=tags(LAYER, role=role),
        )
        t.add_resource(explain(instance, "AUR"))
    add_database_rotation(t, cluster, sg, secret)
    export(t, "database-endpoint", GetAtt(cluster, "Endpoint.Address"), "Aurora writer endpoint")
    export(t, "database-reader-endpoint", GetAtt(cluster, "ReadEndpoint.Address"), "Aurora reader endpoint")
    export(t, EXPORT_DATABASE_RESOURCE_ID, GetAtt(cluster, "DBClusterResourceId"), "for rds-db:connect grants")
    export(t, "database-cluster-id", Ref(cluster), "for alarms")
    return cluster


def add_database_rotation(
    t: Template, cluster: rds.DBCluster, aurora_sg: ec2.SecurityGroup, secret: ImportValue
) -> None:
    """Fill the secret's host/port from the cluster and rotate it every 30 days (hosted rotation Lambda)."""
    t.set_transform("AWS::SecretsManager-2020-07-23")
    attachment = secretsmanager.SecretTargetAttachment(
        "DatabaseSecretAttachment", SecretId=secret, TargetId=Ref(cluster), TargetType="AWS::RDS::DBCluster"
    )
    t.add_resource(explain(attachment, "secret:database", "SECRETS --> KMS"))
    sg = ec2.SecurityGroup(
        "DatabaseRotationSecurityGroup",
        GroupDescription="rotation Lambda: PostgreSQL to Aurora, HTTPS to the VPC endpoints",
        VpcId=imported(EXPORT_VPC),
        SecurityGroupEgress=[
            ec2.SecurityGroupRule(
                IpProtocol="tcp",
                FromPort=443,
                ToPort=443,
                CidrIp=imported(EXPORT_VPC_CIDR),
                Description="VPC endpoints",
            ),
            ec2.SecurityGroupRule(
                IpProtocol="tcp",
                FromPort=POSTGRES_PORT,
                ToPort=POSTGRES_PORT,
                CidrIp=imported(EXPORT_VPC_CIDR),
                Description="Aurora",
            ),
        ],
        Tags=tags(LAYER),
    )
    t.add_resource(explain(sg, "secret:database"))
    t.add_resource(
        explain(
            ec2.SecurityGroupIngress(
                "AuroraFromRotation",
                GroupId=Ref(aurora_sg),
                IpProtocol="tcp",
                FromPort=POSTGRES_PORT,
                ToPort=POSTGRES_PORT,
                SourceSecurityGroupId=Ref(sg),
                Description="the rotation Lambda",
            ),
            "secret:database",
        )
    )
    schedule = secretsmanager.RotationSchedule(
        "DatabaseSecretRotation",
        SecretId=Ref(attachment),
        HostedRotationLambda=secretsmanager.HostedRotationLambda(
            RotationType="PostgreSQLSingleUser",
            RotationLambdaName=Sub("shop-${Stage}-rotate-database"),
            VpcSubnetIds=Join(",", data_subnets()),
            VpcSecurityGroupIds=Ref(sg),
            KmsKeyArn=imported(KEY),
        ),
        RotationRules=secretsmanager.RotationRules(ScheduleExpression="rate(30 days)"),
    )
    t.add_resource(explain(schedule, "secret:database"))


def add_table(t: Template, table: Table) -> dynamodb.Table:
    """On-demand, TTL, point-in-time recovery, KMS."""
    keys = [table.partition_key] + ([table.sort_key] if table.sort_key else [])
    props: dict[str, Any] = {}
    if table.ttl_attribute:
        props["TimeToLiveSpecification"] = dynamodb.TimeToLiveSpecification(
            AttributeName=table.ttl_attribute, Enabled=True
        )
    resource = dynamodb.Table(
        logical_id("table", table.name),
        TableName=name(table.name),
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            dynamodb.AttributeDefinition(AttributeName=k.name, AttributeType=str(k.type)) for k in keys
        ],
        KeySchema=[
            dynamodb.KeySchema(AttributeName=k.name, KeyType=kt) for k, kt in zip(keys, ("HASH", "RANGE"), strict=False)
        ],
        PointInTimeRecoverySpecification=dynamodb.PointInTimeRecoverySpecification(PointInTimeRecoveryEnabled=True),
        SSESpecification=dynamodb.SSESpecification(SSEEnabled=True, SSEType="KMS", KMSMasterKeyId=imported(KEY)),
        DeletionProtectionEnabled=True,
        Tags=tags(LAYER, purpose=table.purpose[:250]),
        DeletionPolicy="Retain",
        UpdateReplacePolicy="Retain",
        **props,
    )
    t.add_resource(explain(resource, "DDB", "CART --> DDB", f"table:{table.name}"))
    export(t, f"table-{table.name}", Ref(resource), table.purpose[:100])
    return resource


def add_media_bucket(t: Template) -> None:
    """Product images: the catalog writes them (CATALOG --> S3MEDIA), CloudFront serves them (edge layer's policy)."""
    media = RESOURCES.bucket(BucketRole.MEDIA)
    bucket = add_bucket(
        t,
        media,
        LAYER,
        "S3MEDIA",
        "CATALOG --> S3MEDIA",
        kms_key_arn=imported(KEY),
        logs_bucket=imported(EXPORT_LOGS_BUCKET),
    )
    # No policy here: the edge layer writes it, since it names the distribution allowed to read.
    export(t, EXPORT_MEDIA_BUCKET, Ref(bucket), media.purpose)
    export(t, EXPORT_MEDIA_DOMAIN, GetAtt(bucket, "RegionalDomainName"), "origin domain for CloudFront")


def build() -> Template:
    t = new_template(LAYER, "Aurora PostgreSQL, DynamoDB, ElastiCache, OpenSearch and the media bucket")
    add_aurora(t)
    for table in RESOURCES.tables:
        add_table(t, table)
    add_cache(t, add_security_group)
    add_search(t, add_security_group)
    add_media_bucket(t)
    return t
