"""Sizes per environment: every size is a template parameter, and these are its dev / staging / prod values.

The templates default to dev; ``nox -s deploy -- <env>`` passes the preset of ``<env>``.
"""

from __future__ import annotations

from reference.observability import LOG_RETENTION_DAYS

SIZES: dict[str, str] = {
    "NatGateways": "NAT gateways: 1 (shared, cheaper) or 3 (one per AZ, no cross-AZ dependency)",
    "NodeInstanceType": "EC2 instance type of the managed node groups",
    "NodesPerAz": "desired nodes in each AZ's node group",
    "NodesPerAzMax": "most nodes in each AZ's node group",
    "AuroraInstanceClass": "Aurora PostgreSQL instance class (writer and reader)",
    "AuroraBackupDays": "days of Aurora automated backups",
    "CacheNodeType": "ElastiCache node type",
    "CacheReplicas": "replicas per shard (at least 1 for multi-AZ failover)",
    "SearchInstanceType": "OpenSearch data node instance type",
    "SearchInstances": "OpenSearch data nodes (a multiple of 3: one per AZ)",
    "SearchVolumeGb": "EBS gp3 size of each OpenSearch data node",
    "LogRetentionDays": "CloudWatch Logs retention",
}

PRESETS: dict[str, dict[str, str]] = {
    "dev": {
        "NatGateways": "1",
        "NodeInstanceType": "t3.large",
        "NodesPerAz": "1",
        "NodesPerAzMax": "2",
        "AuroraInstanceClass": "db.t4g.medium",
        "AuroraBackupDays": "7",
        "CacheNodeType": "cache.t4g.small",
        "CacheReplicas": "1",
        "SearchInstanceType": "t3.medium.search",
        "SearchInstances": "3",
        "SearchVolumeGb": "20",
    },
    "staging": {
        "NatGateways": "3",
        "NodeInstanceType": "m6i.large",
        "NodesPerAz": "1",
        "NodesPerAzMax": "4",
        "AuroraInstanceClass": "db.r6g.large",
        "AuroraBackupDays": "7",
        "CacheNodeType": "cache.m6g.large",
        "CacheReplicas": "1",
        "SearchInstanceType": "m6g.large.search",
        "SearchInstances": "3",
        "SearchVolumeGb": "50",
    },
    "prod": {
        "NatGateways": "3",
        "NodeInstanceType": "m6i.xlarge",
        "NodesPerAz": "2",
        "NodesPerAzMax": "10",
        "AuroraInstanceClass": "db.r6g.xlarge",
        "AuroraBackupDays": "35",
        "CacheNodeType": "cache.r7g.large",
        "CacheReplicas": "2",
        "SearchInstanceType": "r6g.large.search",
        "SearchInstances": "6",
        "SearchVolumeGb": "200",
    },
}

for _stage, _sizes in PRESETS.items():
    _sizes["LogRetentionDays"] = str(LOG_RETENTION_DAYS[_stage])
