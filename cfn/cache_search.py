"""The data layer's cache (API --> REDIS) and search index (SEARCH --> OPENSEARCH)."""

from __future__ import annotations

from collections.abc import Callable

from awacs import es
from awacs.aws import Allow, PolicyDocument, Principal, Statement
from troposphere import GetAtt, Ref, Split, Sub, Template, ec2, elasticache, logs, opensearchservice

from cfn.common import (
    IMPORTED_SUBNETS,
    add_size,
    arn,
    explain,
    export,
    imported,
    logical_id,
    name,
    suppress_guard,
    tags,
    waive_log_group,
)
from cfn.iam import role_arn
from cfn.network import subnet_export
from cfn.security import kms_export
from reference.access import CACHE, SEARCH_DOMAIN, Verb, grants

LAYER = "data"
KEY = kms_export("main")
CACHE_PORT = 6379
SEARCH_ENGINE = "OpenSearch_2.17"
TLS_POLICY = "Policy-Min-TLS-1-2-PFS-2023-10"
# (log group, name suffix, OpenSearch log type): audit logs (fine-grained access) and application error logs.
SEARCH_LOGS = (("SearchAuditLog", "audit", "AUDIT_LOGS"), ("SearchAppLog", "application", "ES_APPLICATION_LOGS"))
SecurityGroupFactory = Callable[..., ec2.SecurityGroup]


def add_cache(t: Template, security_group: SecurityGroupFactory) -> elasticache.ReplicationGroup:
    """Valkey, one shard with replicas in other AZs, TLS, and IAM-authenticated users (one per granted service)."""
    users = sorted({g.service for g in grants() if g.verb is Verb.CONNECT_CACHE})
    refs = tuple(g.because for g in grants() if g.verb is Verb.CONNECT_CACHE)
    sg = security_group(t, "cache", CACHE_PORT, "REDIS", *refs)
    subnets = elasticache.SubnetGroup(
        "CacheSubnets",
        Description="data subnets",
        SubnetIds=Split(",", imported(subnet_export("data"))),
    )
    t.add_resource(explain(subnets, "REDIS"))
    default = elasticache.User(
        "CacheDefaultUser",
        UserId=Sub("shop-${Stage}-default"),
        UserName="default",
        Engine="valkey",
        AccessString="off -@all",
        AuthenticationMode=elasticache.AuthenticationMode(Type="no-password-required"),
    )
    members = [t.add_resource(explain(default, "REDIS"))]
    for service in users:
        user = elasticache.User(
            logical_id("cache", "user", service),
            UserId=Sub(f"shop-${{Stage}}-{service}"),
            UserName=Sub(f"shop-${{Stage}}-{service}"),  # IAM users: the name must equal the id
            Engine="valkey",
            AccessString="on ~* +@all -@dangerous",
            AuthenticationMode=elasticache.AuthenticationMode(Type="iam"),
        )
        members.append(t.add_resource(explain(user, *refs)))
    group = elasticache.UserGroup(
        "CacheUsers", UserGroupId=Sub("shop-${Stage}-users"), Engine="valkey", UserIds=[Ref(u) for u in members]
    )
    t.add_resource(explain(group, "REDIS"))
    slow_log = logs.LogGroup(
        "CacheSlowLog",
        LogGroupName=Sub("/shop/${Stage}/elasticache/slow-log"),
        RetentionInDays=add_size(t, "LogRetentionDays", number=True),
        KmsKeyId=imported(KEY),
    )
    t.add_resource(explain(waive_log_group(slow_log), "REDIS"))
    replicas = add_size(t, "CacheReplicas", number=True)
    cache = elasticache.ReplicationGroup(
        "Cache",
        ReplicationGroupId=name(CACHE),
        ReplicationGroupDescription="response cache and rate limits",
        Engine="valkey",
        EngineVersion="8.0",
        CacheNodeType=add_size(t, "CacheNodeType"),
        NumNodeGroups=1,
        ReplicasPerNodeGroup=replicas,
        MultiAZEnabled=True,
        AutomaticFailoverEnabled=True,
        TransitEncryptionEnabled=True,
        AtRestEncryptionEnabled=True,
        KmsKeyId=imported(KEY),
        UserGroupIds=[Ref(group)],
        CacheSubnetGroupName=Ref(subnets),
        SecurityGroupIds=[Ref(sg)],
        Port=CACHE_PORT,
        SnapshotRetentionLimit=1,
        AutoMinorVersionUpgrade=True,
        LogDeliveryConfigurations=[
            elasticache.LogDeliveryConfigurationRequest(
                DestinationType="cloudwatch-logs",
                LogFormat="json",
                LogType="slow-log",
                DestinationDetails=elasticache.DestinationDetails(
                    CloudWatchLogsDetails=elasticache.CloudWatchLogsDestinationDetails(LogGroup=Ref(slow_log))
                ),
            )
        ],
        Tags=tags(LAYER),
    )
    t.add_resource(explain(cache, "REDIS", *refs))
    export(t, "cache-endpoint", GetAtt(cache, "PrimaryEndPoint.Address"), "Valkey primary endpoint (TLS)")
    return cache


def add_search(t: Template, security_group: SecurityGroupFactory) -> opensearchservice.Domain:
    """OpenSearch in the VPC over three AZs, encrypted, HTTPS only, fine-grained access with IAM roles."""
    searchers = sorted({g.service for g in grants() if g.verb is Verb.SEARCH})
    refs = tuple(sorted({g.because for g in grants() if g.verb is Verb.SEARCH}))
    sg = security_group(t, "search", 443, "OPENSEARCH", *refs)
    groups = {}
    for title, kind, option in SEARCH_LOGS:
        group = logs.LogGroup(
            title,
            LogGroupName=Sub(f"/shop/${{Stage}}/opensearch/{kind}"),
            RetentionInDays=add_size(t, "LogRetentionDays", number=True),
            KmsKeyId=imported(KEY),
        )
        groups[option] = t.add_resource(explain(waive_log_group(group), "OPENSEARCH"))
    arns = ",".join(f'"${{{title}.Arn}}"' for title, _, _ in SEARCH_LOGS)
    log_policy = logs.ResourcePolicy(
        "SearchLogPolicy",
        PolicyName=Sub("shop-${Stage}-opensearch-logs"),
        PolicyDocument=Sub(
            '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"es.amazonaws.com"},'
            f'"Action":["logs:PutLogEvents","logs:CreateLogStream"],"Resource":[{arns}]}}]}}'
        ),
    )
    t.add_resource(explain(log_policy, "OPENSEARCH"))
    instance_type = add_size(t, "SearchInstanceType")
    domain_arn = arn("es", f"domain/shop-${{Stage}}-{SEARCH_DOMAIN}/*")
    domain = opensearchservice.Domain(
        "SearchDomain",
        DependsOn=[log_policy.title],
        DomainName=name(SEARCH_DOMAIN),
        EngineVersion=SEARCH_ENGINE,
        ClusterConfig=opensearchservice.ClusterConfig(
            InstanceType=instance_type,
            InstanceCount=add_size(t, "SearchInstances", number=True),
            ZoneAwarenessEnabled=True,
            ZoneAwarenessConfig=opensearchservice.ZoneAwarenessConfig(AvailabilityZoneCount=3),
            DedicatedMasterEnabled=True,
            DedicatedMasterType=instance_type,
            DedicatedMasterCount=3,
        ),
        EBSOptions=opensearchservice.EBSOptions(
            EBSEnabled=True, VolumeType="gp3", VolumeSize=add_size(t, "SearchVolumeGb", number=True)
        ),
        VPCOptions=opensearchservice.VPCOptions(
            SubnetIds=Split(",", imported(subnet_export("data"))), SecurityGroupIds=[Ref(sg)]
        ),
        EncryptionAtRestOptions=opensearchservice.EncryptionAtRestOptions(Enabled=True, KmsKeyId=imported(KEY)),
        NodeToNodeEncryptionOptions=opensearchservice.NodeToNodeEncryptionOptions(Enabled=True),
        DomainEndpointOptions=opensearchservice.DomainEndpointOptions(EnforceHTTPS=True, TLSSecurityPolicy=TLS_POLICY),
        AdvancedSecurityOptions=opensearchservice.AdvancedSecurityOptionsInput(
            Enabled=True,
            InternalUserDatabaseEnabled=False,
            # The search service creates and fills the index, so its role is the domain's master user.
            MasterUserOptions=opensearchservice.MasterUserOptions(MasterUserARN=role_arn(searchers[0])),
        ),
        AccessPolicies=PolicyDocument(
            Version="2012-10-17",
            Statement=[
                Statement(
                    Effect=Allow,
                    Principal=Principal("AWS", [role_arn(s) for s in searchers]),
                    Action=[es.ESHttpGet, es.ESHttpHead, es.ESHttpPost, es.ESHttpPut, es.ESHttpDelete],
                    Resource=[domain_arn],
                )
            ],
        ).JSONrepr(),  # the domain's property is typed as a plain dict
        LogPublishingOptions={
            option: opensearchservice.LogPublishingOption(CloudWatchLogsLogGroupArn=GetAtt(group, "Arn"), Enabled=True)
            for option, group in groups.items()
        },
        Tags=tags(LAYER),
    )
    suppress_guard(domain, "opensearch_in_vpc_only_check", "VPCOptions is set: " + IMPORTED_SUBNETS)
    suppress_guard(
        domain,
        "opensearch_https_required_check",
        f"HTTPS is enforced with {TLS_POLICY} (TLS 1.2+ with forward secrecy only), stricter than the rule's "
        "allow-list, which predates it and names only Policy-Min-TLS-1-2-2019-07",
    )
    t.add_resource(explain(domain, "OPENSEARCH", *refs))
    export(t, "search-endpoint", GetAtt(domain, "DomainEndpoint"), "OpenSearch HTTPS endpoint")
    return domain
