"""Cluster layer: the EKS box of the diagram, its node groups and add-ons, and each pod's IAM.

Each of the ten services gets a role derived from reference.access grants (the arrows it has in
the diagram plus the resources that name it) and a pod identity association binding the role
to its Kubernetes service account. Add-ons that call AWS get their own roles the same way.
"""

from __future__ import annotations

from troposphere import Equals, GetAtt, If, Parameter, Ref, Select, Split, Sub, Template, ec2, eks, iam, logs

from cfn.common import (
    IMPORTED_KEY,
    add_size,
    explain,
    export,
    imported,
    logical_id,
    name,
    new_template,
    suppress_checkov,
    suppress_guard,
    tags,
    waive_log_group,
)
from cfn.data import EXPORT_DATABASE_RESOURCE_ID
from cfn.iam import pod_identity_trust, policy_for, role_name
from cfn.lb_controller import lb_controller_policy
from cfn.network import AZS, EXPORT_VPC, subnet_export
from cfn.security import kms_export, secret_export
from reference import RESOURCES, SERVICES
from reference.access import grants, grants_of

LAYER = "cluster"
KEY = kms_export("main")
CLUSTER = "Cluster"
NAMESPACE = "shop"
KUBERNETES_VERSION = "1.33"
PUBLIC_ENDPOINT = "PublicEndpoint"
CLUSTER_LOG_TYPES = ("api", "audit", "authenticator", "controllerManager", "scheduler")
AWS_MANAGED = "arn:${AWS::Partition}:iam::aws:policy/"
# Add-on -> (service account, AWS managed policies of its role); no account: it does not call AWS.
ADDONS: dict[str, tuple[str | None, tuple[str, ...]]] = {
    "eks-pod-identity-agent": (None, ()),
    "vpc-cni": ("aws-node", ("AmazonEKS_CNI_Policy",)),
    "kube-proxy": (None, ()),
    "coredns": (None, ()),
    "aws-ebs-csi-driver": ("ebs-csi-controller-sa", ("service-role/AmazonEBSCSIDriverPolicy",)),
    "amazon-cloudwatch-observability": ("cloudwatch-agent", ("CloudWatchAgentServerPolicy", "AWSXrayWriteOnlyAccess")),
}
EXPORT_CLUSTER = "cluster-name"
EXPORT_ALB_SG = "alb-security-group"


def managed(*policies: str) -> list[Sub]:
    return [Sub(AWS_MANAGED + p) for p in policies]


def service_role(title: str, principal: str, *policies: str) -> iam.Role:
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": principal}, "Action": "sts:AssumeRole"}],
    }
    return iam.Role(title, AssumeRolePolicyDocument=trust, ManagedPolicyArns=managed(*policies))


def add_cluster(t: Template) -> eks.Cluster:
    """Private endpoint always, public endpoint a parameter; secrets envelope-encrypted; all control plane logs."""
    t.add_parameter(
        Parameter(
            "EndpointPublicAccess",
            Type="String",
            AllowedValues=["true", "false"],
            Default="false",
            Description="expose the Kubernetes API publicly (the private endpoint is always on)",
        )
    )
    t.add_condition(PUBLIC_ENDPOINT, Equals(Ref("EndpointPublicAccess"), "true"))
    role = t.add_resource(explain(service_role("ClusterRole", "eks.amazonaws.com", "AmazonEKSClusterPolicy"), "EKS"))
    log_group = logs.LogGroup(
        "ClusterLogs",
        LogGroupName=Sub("/aws/eks/shop-${Stage}/cluster"),  # the name EKS writes to: created first to set retention
        RetentionInDays=add_size(t, "LogRetentionDays", number=True),
        KmsKeyId=imported(KEY),
    )
    t.add_resource(explain(waive_log_group(log_group), "EKS --> CW"))
    cluster = eks.Cluster(
        CLUSTER,
        DependsOn=[log_group.title],
        Name=name("eks"),
        Version=KUBERNETES_VERSION,
        RoleArn=GetAtt(role, "Arn"),
        ResourcesVpcConfig=eks.ResourcesVpcConfig(
            SubnetIds=Split(",", imported(subnet_export("private"))),
            EndpointPrivateAccess=True,
            EndpointPublicAccess=If(PUBLIC_ENDPOINT, True, False),
        ),
        EncryptionConfig=[eks.EncryptionConfig(Provider=eks.Provider(KeyArn=imported(KEY)), Resources=["secrets"])],
        Logging=eks.Logging(
            ClusterLogging=eks.ClusterLogging(EnabledTypes=[eks.LoggingTypeConfig(Type=k) for k in CLUSTER_LOG_TYPES])
        ),
        AccessConfig=eks.AccessConfig(AuthenticationMode="API", BootstrapClusterCreatorAdminPermissions=True),
        Tags=tags(LAYER),
    )
    suppress_guard(cluster, "eks_secrets_encrypted_check", "EncryptionConfig of 'secrets' is set: " + IMPORTED_KEY)
    t.add_resource(explain(cluster, "EKS", "EKS --> CW"))
    export(t, EXPORT_CLUSTER, Ref(cluster), "the EKS cluster")
    return cluster


def add_node_groups(t: Template, cluster: eks.Cluster) -> list[eks.Nodegroup]:
    """One managed node group per AZ, so the cluster autoscaler can grow the AZ a pending pod needs."""
    role = service_role(
        "NodeRole", "ec2.amazonaws.com", "AmazonEKSWorkerNodePolicy", "AmazonEC2ContainerRegistryReadOnly"
    )
    t.add_resource(explain(role, "EKS"))
    size, most = add_size(t, "NodesPerAz", number=True), add_size(t, "NodesPerAzMax", number=True)
    instance_type = add_size(t, "NodeInstanceType")
    groups = []
    for az in range(AZS):
        group = eks.Nodegroup(
            logical_id("nodes", str(az)),
            ClusterName=Ref(cluster),
            NodeRole=GetAtt(role, "Arn"),
            Subnets=[Select(az, Split(",", imported(subnet_export("private"))))],
            AmiType="AL2023_x86_64_STANDARD",
            InstanceTypes=[instance_type],
            ScalingConfig=eks.ScalingConfig(MinSize=size, DesiredSize=size, MaxSize=most),
            UpdateConfig=eks.UpdateConfig(MaxUnavailable=1),
            Labels={"shop/az-index": str(az)},
            Tags={"project": "shop", "layer": LAYER},
        )
        groups.append(t.add_resource(explain(group, "EKS")))
        export(t, f"nodegroup-{az}-arn", GetAtt(group, "Arn"), f"node group of AZ {az} (FIS terminates its instances)")
    return groups


def add_addons(t: Template, cluster: eks.Cluster, nodes: list[eks.Nodegroup]) -> None:
    for addon, (account, policies) in ADDONS.items():
        props = {}
        if account is not None:
            role = iam.Role(
                logical_id(addon, "role"),
                AssumeRolePolicyDocument=pod_identity_trust(),
                ManagedPolicyArns=managed(*policies),
            )
            t.add_resource(explain(role, *_addon_refs(addon)))
            props["PodIdentityAssociations"] = [
                eks.PodIdentityAssociationProperty(RoleArn=GetAtt(role, "Arn"), ServiceAccount=account)
            ]
        if addon == "vpc-cni":  # the CNI enforces the NetworkPolicies of cfn/k8s.py only when this is on
            props["ConfigurationValues"] = '{"enableNetworkPolicy": "true"}'
        resource = eks.Addon(
            logical_id("addon", addon),
            DependsOn=[n.title for n in nodes]
            + ([] if addon == "eks-pod-identity-agent" else ["AddonEksPodIdentityAgent"]),
            AddonName=addon,
            ClusterName=Ref(cluster),
            ResolveConflicts="OVERWRITE",
            **props,
        )
        t.add_resource(explain(resource, *_addon_refs(addon)))


def _addon_refs(addon: str) -> tuple[str, ...]:
    return ("EKS --> CW", "EKS --> XR") if addon == "amazon-cloudwatch-observability" else ("EKS",)


def add_service_identities(t: Template, cluster: eks.Cluster) -> None:
    """A role per service with exactly its grants, bound to service account <service> in namespace shop."""
    everything = grants()
    imports = {f"secret:{s.name}": imported(secret_export(s.name)) for s in RESOURCES.secrets}
    imports["database-resource-id"] = imported(EXPORT_DATABASE_RESOURCE_ID)
    for svc in SERVICES:
        mine = grants_of(svc.name, everything)
        if not mine:
            continue
        role = iam.Role(
            logical_id("role", svc.name),
            RoleName=role_name(svc.name),
            AssumeRolePolicyDocument=pod_identity_trust(),
            Policies=[iam.Policy(PolicyName="grants", PolicyDocument=policy_for(mine, imports, imported(KEY)))],
            Tags=tags(LAYER, service=svc.name),
        )
        refs = sorted({g.because for g in mine} | {f"service:{svc.name}"})
        t.add_resource(explain(role, *refs))
        association = eks.PodIdentityAssociation(
            logical_id("identity", svc.name),
            ClusterName=Ref(cluster),
            Namespace=NAMESPACE,
            ServiceAccount=svc.name,
            RoleArn=GetAtt(role, "Arn"),
        )
        t.add_resource(explain(association, f"service:{svc.name}"))


def add_load_balancer_controller(t: Template, cluster: eks.Cluster) -> None:
    """What the AWS Load Balancer Controller needs: its role, and the ALB's security group (CloudFront only)."""
    t.add_parameter(
        Parameter(
            "CloudFrontPrefixListId",
            Type="String",
            Default="pl-3b927c52",
            Description="managed prefix list com.amazonaws.global.cloudfront.origin-facing in this region",
        )
    )
    role = iam.Role(
        "LoadBalancerControllerRole",
        AssumeRolePolicyDocument=pod_identity_trust(),
        Policies=[iam.Policy(PolicyName="controller", PolicyDocument=lb_controller_policy())],
    )
    suppress_checkov(
        role,
        "CKV_AWS_111",
        "the controller creates load balancers, target groups and security groups whose ARNs cannot be known "
        "in advance; every create requires and every change checks the elbv2.k8s.aws/cluster tag (IAM conditions "
        "checkov does not read); listeners and rules are limited to application load balancer ARNs",
    )
    t.add_resource(explain(role, "ALB", "ALB --> IN"))
    association = eks.PodIdentityAssociation(
        "IdentityLoadBalancerController",
        ClusterName=Ref(cluster),
        Namespace="kube-system",
        ServiceAccount="aws-load-balancer-controller",
        RoleArn=GetAtt(role, "Arn"),
    )
    t.add_resource(explain(association, "ALB", "ALB --> IN"))
    sg = ec2.SecurityGroup(
        "AlbSecurityGroup",
        GroupDescription="the ingress ALB: HTTPS from the CloudFront origin-facing addresses only",
        VpcId=imported(EXPORT_VPC),
        SecurityGroupIngress=[
            ec2.SecurityGroupRule(
                IpProtocol="tcp",
                FromPort=443,
                ToPort=443,
                SourcePrefixListId=Ref("CloudFrontPrefixListId"),
                Description="CloudFront origin-facing",
            )
        ],
        Tags=tags(LAYER),
    )
    t.add_resource(explain(sg, "CF --> ALB"))
    export(t, EXPORT_ALB_SG, Ref(sg), "security group the ingress annotation names")


def build() -> Template:
    t = new_template(LAYER, "EKS, managed node groups per AZ, add-ons, pod identities with least privilege")
    cluster = add_cluster(t)
    add_addons(t, cluster, add_node_groups(t, cluster))
    add_service_identities(t, cluster)
    add_load_balancer_controller(t, cluster)
    return t
