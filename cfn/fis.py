"""Chaos layer: AWS FIS experiment templates for the experiments of chaos/experiments/ that FIS has an action for.

Each template names its experiment (tag ``experiment``, the local file's stem, so ``nox -s chaos --
--target aws NAME`` finds it), acts on this stage's resources only (pods in namespace ``shop`` by
label, the Aurora cluster, the Valkey replication group, the private subnets by tag, a node group
by the ARN the cluster layer exports), and stops by itself when a shop-wide alarm of
reference/observability.py goes to ALARM (the stop conditions). The FIS role gets the managed FIS
policies it needs and an EKS access entry; the pod actions run as Kubernetes user ``fis-experiment``
with the namespace Role of ``rbac_manifests()`` (applied with the other manifests of cfn/k8s.py).

Faults FIS has no action for (poison messages, payment provider errors, outbox publish failures) stay
local experiments: chaos/README.md says which run where.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from troposphere import GetAtt, GetAZs, Join, Select, Sub, Template, eks, fis, iam, logs

from cfn.cluster import EXPORT_CLUSTER, NAMESPACE
from cfn.common import add_size, arn, explain, export, imported, logical_id, name, new_template, tags, waive_log_group
from cfn.security import kms_export
from reference.access import CACHE

LAYER = "fis"
KEY = kms_export("main")
ROLE = "FisRole"
K8S_USER = "fis-experiment"  # the Kubernetes user the FIS role maps to (EKS access entry)
SERVICE_ACCOUNT = "fis-experiment"  # the service account FIS's pod actions run their helper pods as
# Shop-wide alarms: any of them in ALARM stops every experiment (the blast radius grew past the SLO).
STOP_ALARMS = ("checkout-error-rate", "5xx-rate-cdn")
HOLD = "PT2M"


@dataclass(frozen=True, slots=True)
class Target:
    """A FIS target: the resource type, and how it is chosen (tags, ARNs, or pod labels)."""

    resource_type: str
    selection: str = "ALL"
    tags: dict[str, Any] = field(default_factory=dict)
    arns: tuple[Any, ...] = ()
    parameters: dict[str, Any] = field(default_factory=dict)
    filters: tuple[tuple[str, Any], ...] = ()


@dataclass(frozen=True, slots=True)
class Act:
    """One FIS action on one target, with its parameters."""

    action: str
    target_key: str  # "Pods", "Clusters", "ReplicationGroups", "Subnets", "Nodegroups"
    target: Target
    parameters: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class FisExperiment:
    name: str  # the local experiment's name (chaos/experiments/<name>.json), or an AWS-only scenario
    summary: str
    acts: tuple[Act, ...]


def pods(selector: str, selection: str = "ALL") -> Target:
    cluster = imported(EXPORT_CLUSTER)
    return Target(
        "aws:eks:pod",
        selection,
        parameters={"clusterIdentifier": cluster, "namespace": NAMESPACE, "selectorType": "labelSelector",
                    "selectorValue": selector},
    )  # fmt: skip


def pod_action(**parameters: Any) -> dict[str, Any]:
    return {"kubernetesServiceAccount": SERVICE_ACCOUNT, **parameters}


AURORA = Target("aws:rds:cluster", arns=(Sub(
    "arn:${AWS::Partition}:rds:${AWS::Region}:${AWS::AccountId}:cluster:${Id}", Id=imported("database-cluster-id")
),))  # fmt: skip
VALKEY = Target(
    "aws:elasticache:redis-replicationgroup",
    arns=(arn("elasticache", f"replicationgroup:shop-${{Stage}}-{CACHE}"),),
    parameters={"availabilityZoneIdentifier": Select(0, GetAZs(""))},
)
PRIVATE_SUBNETS = Target("aws:ec2:subnet", tags={"stage": Sub("${Stage}"), "tier": "private"})
FIRST_AZ_SUBNETS = Target(
    "aws:ec2:subnet", tags={"stage": Sub("${Stage}"), "tier": "private"},
    filters=(("AvailabilityZone", Select(0, GetAZs(""))),),
)  # fmt: skip
FIRST_AZ_NODES = Target("aws:eks:nodegroup", arns=(imported("nodegroup-0-arn"),))
SHOP_PODS = "app.kubernetes.io/part-of=shop"
TERMINATE = "instanceTerminationPercentage"

EXPERIMENTS = (
    FisExperiment("service-killed-mid-checkout", "a checkout pod deleted", (
        Act("aws:eks:pod-delete", "Pods", pods("app.kubernetes.io/name=checkout", "COUNT(1)"),
            pod_action(gracePeriodSeconds=0)),
    )),
    FisExperiment("database-latency-200ms", "200 ms on every pod's traffic to Aurora", (
        Act("aws:eks:pod-network-latency", "Pods", pods(SHOP_PODS),
            pod_action(duration=HOLD, delayMilliseconds="200", sources=imported("database-endpoint"))),
    )),
    FisExperiment("database-restarted", "an Aurora failover", (
        Act("aws:rds:failover-db-cluster", "Clusters", AURORA),
    )),
    FisExperiment("cache-down", "power cut to the Valkey nodes of the first AZ", (
        Act("aws:elasticache:interrupt-cluster-az-power", "ReplicationGroups", VALKEY, {"duration": HOLD}),
    )),
    FisExperiment("dynamodb-errors", "the private subnets lose DynamoDB", (
        Act("aws:network:disrupt-connectivity", "Subnets", PRIVATE_SUBNETS, {"duration": HOLD, "scope": "dynamodb"}),
    )),
    FisExperiment("cpu-stress-catalog", "CPU stress in one catalog pod", (
        Act("aws:eks:pod-cpu-stress", "Pods", pods("app.kubernetes.io/name=catalog", "COUNT(1)"),
            pod_action(duration=HOLD, percent="100", workers="2")),
    )),
    FisExperiment("half-the-services-lost", "half of the shop's pods deleted at once", (
        Act("aws:eks:pod-delete", "Pods", pods(SHOP_PODS, "PERCENT(50)"), pod_action(gracePeriodSeconds=0)),
    )),
    FisExperiment("nodegroup-instances-terminated", "half the instances of the first AZ's node group terminated", (
        Act("aws:eks:terminate-nodegroup-instances", "Nodegroups", FIRST_AZ_NODES, {TERMINATE: "50"}),
    )),
    FisExperiment("az-power-interruption", "the first AZ lost: nodes, network, Aurora's writer, Valkey's nodes", (
        Act("aws:eks:terminate-nodegroup-instances", "Nodegroups", FIRST_AZ_NODES, {TERMINATE: "100"}),
        Act("aws:network:disrupt-connectivity", "Subnets", FIRST_AZ_SUBNETS, {"duration": HOLD, "scope": "all"}),
        Act("aws:rds:failover-db-cluster", "Clusters", AURORA),
        Act("aws:elasticache:interrupt-cluster-az-power", "ReplicationGroups", VALKEY, {"duration": HOLD}),
    )),
)  # fmt: skip


def template_id(experiment: str) -> str:
    return logical_id("experiment", experiment)


def add_role(t: Template) -> iam.Role:
    """The role FIS assumes: the managed FIS policies for EKS, RDS, networks and EC2, and ElastiCache's AZ power."""
    trust = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "fis.amazonaws.com"}, "Action": "sts:AssumeRole",
        "Condition": {"StringEquals": {"aws:SourceAccount": Sub("${AWS::AccountId}")}},
    }]}  # fmt: skip
    managed = [Sub(f"arn:${{AWS::Partition}}:iam::aws:policy/service-role/{p}") for p in (
        "AWSFaultInjectionSimulatorEKSAccess", "AWSFaultInjectionSimulatorRDSAccess",
        "AWSFaultInjectionSimulatorNetworkAccess", "AWSFaultInjectionSimulatorEC2Access",
    )]  # fmt: skip
    cache = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["elasticache:InterruptClusterAzPower"], "Resource": [VALKEY.arns[0]]},
        {"Effect": "Allow", "Action": ["elasticache:DescribeReplicationGroups"], "Resource": [VALKEY.arns[0]]},
        {"Effect": "Allow", "Action": ["logs:CreateLogDelivery", "logs:PutResourcePolicy", "logs:DescribeLogGroups",
                                       "logs:DescribeResourcePolicies"],
         "Resource": [arn("logs", "log-group:/aws/fis/shop-${Stage}:*")]},
    ]}  # fmt: skip
    role = iam.Role(
        ROLE,
        RoleName=name("fis"),
        AssumeRolePolicyDocument=trust,
        ManagedPolicyArns=managed,
        Policies=[iam.Policy(PolicyName="cache-and-logs", PolicyDocument=cache)],
        Tags=tags(LAYER),
    )
    return t.add_resource(explain(role, "EKS", "AUR", "REDIS"))


def add_access(t: Template, role: iam.Role) -> None:
    """The FIS role in the cluster as user ``fis-experiment`` (bound to the namespace Role of ``rbac_manifests``)."""
    entry = eks.AccessEntry(
        "FisAccessEntry",
        ClusterName=imported(EXPORT_CLUSTER),
        PrincipalArn=GetAtt(role, "Arn"),
        Username=K8S_USER,
        Type="STANDARD",
        Tags=tags(LAYER),
    )
    t.add_resource(explain(entry, "EKS"))


def add_log_group(t: Template) -> logs.LogGroup:
    group = logs.LogGroup(
        "FisLogs",
        LogGroupName=Sub("/aws/fis/shop-${Stage}"),
        RetentionInDays=add_size(t, "LogRetentionDays", number=True),
        KmsKeyId=imported(KEY),
    )
    return t.add_resource(explain(waive_log_group(group), "CW"))


def _target(target: Target) -> fis.ExperimentTemplateTarget:
    props: dict[str, Any] = {"ResourceType": target.resource_type, "SelectionMode": target.selection}
    if target.tags:
        props["ResourceTags"] = target.tags
    if target.arns:
        props["ResourceArns"] = list(target.arns)
    if target.parameters:
        props["Parameters"] = target.parameters
    if target.filters:
        props["Filters"] = [fis.ExperimentTemplateTargetFilter(Path=p, Values=[v]) for p, v in target.filters]
    return fis.ExperimentTemplateTarget(**props)


def add_experiment(t: Template, e: FisExperiment, role: iam.Role, group: logs.LogGroup) -> fis.ExperimentTemplate:
    targets, actions = {}, {}
    for n, act in enumerate(e.acts):
        key = f"{act.target_key}{n}"
        targets[key] = _target(act.target)
        actions[f"act{n}"] = fis.ExperimentTemplateAction(
            ActionId=act.action,
            Targets={act.target_key: key},
            **({"Parameters": act.parameters} if act.parameters else {}),
        )
    stops = [
        fis.ExperimentTemplateStopCondition(
            Source="aws:cloudwatch:alarm", Value=arn("cloudwatch", f"alarm:shop-${{Stage}}-{a}")
        )
        for a in STOP_ALARMS
    ]
    template = fis.ExperimentTemplate(
        template_id(e.name),
        Description=Sub(f"shop ${{Stage}}: {e.summary}"),
        RoleArn=GetAtt(role, "Arn"),
        Targets=targets,
        Actions=actions,
        StopConditions=stops,
        LogConfiguration=fis.ExperimentTemplateLogConfiguration(
            CloudWatchLogsConfiguration=fis.CloudWatchLogsConfiguration(LogGroupArn=GetAtt(group, "Arn")),
            LogSchemaVersion=2,
        ),
        ExperimentOptions=fis.ExperimentTemplateExperimentOptions(
            AccountTargeting="single-account", EmptyTargetResolutionMode="fail"
        ),
        Tags={
            "experiment": e.name,
            "stage": Sub("${Stage}"),
            "project": "shop",
            "layer": LAYER,
            "Name": Join("-", ["shop", Sub("${Stage}"), e.name]),
        },
    )
    return t.add_resource(explain(template, "EKS"))


def rbac_manifests() -> list[dict[str, Any]]:
    """The Kubernetes side of FIS's pod actions (AWS's documented minimum): a service account for its helper pods,
    and a Role in namespace ``shop`` bound to user ``fis-experiment``."""
    rules = [
        {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "create", "patch", "delete"]},
        {"apiGroups": [""], "resources": ["pods"], "verbs": ["create", "list", "get", "delete", "deletecollection"]},
        {"apiGroups": [""], "resources": ["pods/ephemeralcontainers"], "verbs": ["update"]},
        {"apiGroups": [""], "resources": ["pods/exec"], "verbs": ["create"]},
        {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["get"]},
    ]
    meta = {"namespace": NAMESPACE, "labels": {"app.kubernetes.io/part-of": "shop"}}
    return [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": SERVICE_ACCOUNT, **meta}},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": K8S_USER, **meta},
         "rules": rules},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": K8S_USER, **meta},
         "subjects": [{"kind": "User", "name": K8S_USER, "apiGroup": "rbac.authorization.k8s.io"},
                      {"kind": "ServiceAccount", "name": SERVICE_ACCOUNT, "namespace": NAMESPACE}],
         "roleRef": {"kind": "Role", "name": K8S_USER, "apiGroup": "rbac.authorization.k8s.io"}},
    ]  # fmt: skip


def build() -> Template:
    t = new_template(LAYER, "AWS FIS experiment templates of chaos/, their role, EKS access and log group")
    role = add_role(t)
    add_access(t, role)
    group = add_log_group(t)
    for e in EXPERIMENTS:
        template = add_experiment(t, e, role, group)
        export(t, f"fis-{e.name}", GetAtt(template, "Id"), e.summary[:100])
    return t
