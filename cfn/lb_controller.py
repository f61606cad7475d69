"""The AWS Load Balancer Controller's IAM policy, condensed by us.

It follows the controller's published policy in intent: read what it needs everywhere, create
load balancers, target groups and security groups only with its cluster tag, and change or
delete only resources carrying that tag. Compare it with the published ``iam_policy.json`` of
the controller version you install before a real deploy (see docs/infrastructure.md).
"""

from __future__ import annotations

from awacs.aws import Action, Allow, Condition, Null, PolicyDocument, Statement
from troposphere import Sub

TAG = "elbv2.k8s.aws/cluster"
EC2 = "ec2"
ELB = "elasticloadbalancing"

READ = [
    *(
        Action(EC2, a)
        for a in (
            "DescribeAccountAttributes",
            "DescribeAddresses",
            "DescribeAvailabilityZones",
            "DescribeInternetGateways",
            "DescribeVpcs",
            "DescribeSubnets",
            "DescribeSecurityGroups",
            "DescribeInstances",
            "DescribeNetworkInterfaces",
            "DescribeTags",
            "GetSecurityGroupsForVpc",
        )
    ),
    *(
        Action(ELB, "Describe" + a)
        for a in (
            "LoadBalancers",
            "LoadBalancerAttributes",
            "Listeners",
            "ListenerCertificates",
            "SSLPolicies",
            "Rules",
            "TargetGroups",
            "TargetGroupAttributes",
            "TargetHealth",
            "Tags",
            "ListenerAttributes",
        )
    ),
    Action("acm", "ListCertificates"),
    Action("acm", "DescribeCertificate"),
    Action("wafv2", "GetWebACL"),
    Action("wafv2", "GetWebACLForResource"),
    Action("wafv2", "AssociateWebACL"),
    Action("wafv2", "DisassociateWebACL"),
    Action("shield", "GetSubscriptionState"),
]
CREATE_TAGGED = [
    Action(EC2, "CreateSecurityGroup"),
    Action(ELB, "CreateLoadBalancer"),
    Action(ELB, "CreateTargetGroup"),
    Action(EC2, "CreateTags"),
    Action(ELB, "AddTags"),
]
CHANGE_TAGGED = [
    *(
        Action(EC2, a)
        for a in ("AuthorizeSecurityGroupIngress", "RevokeSecurityGroupIngress", "DeleteSecurityGroup", "DeleteTags")
    ),
    *(
        Action(ELB, a)
        for a in (
            "ModifyLoadBalancerAttributes",
            "SetIpAddressType",
            "SetSecurityGroups",
            "SetSubnets",
            "DeleteLoadBalancer",
            "ModifyTargetGroup",
            "ModifyTargetGroupAttributes",
            "DeleteTargetGroup",
            "RemoveTags",
            "RegisterTargets",
            "DeregisterTargets",
        )
    ),
]
LISTENERS = [
    Action(ELB, a)
    for a in (
        "CreateListener",
        "DeleteListener",
        "CreateRule",
        "DeleteRule",
        "ModifyListener",
        "ModifyRule",
        "AddListenerCertificates",
        "RemoveListenerCertificates",
        "SetWebAcl",
        "ModifyListenerAttributes",
    )
]


def lb_controller_policy() -> PolicyDocument:
    return PolicyDocument(
        Version="2012-10-17",
        Statement=[
            Statement(Sid="Read", Effect=Allow, Action=READ, Resource=["*"]),
            Statement(
                Sid="CreateWithClusterTag",
                Effect=Allow,
                Action=CREATE_TAGGED,
                Resource=["*"],
                Condition=Condition(Null(f"aws:RequestTag/{TAG}", "false")),
            ),
            Statement(
                Sid="ChangeOwnResources",
                Effect=Allow,
                Action=CHANGE_TAGGED,
                Resource=["*"],
                Condition=Condition(Null(f"aws:ResourceTag/{TAG}", "false")),
            ),
            # Listeners and rules carry no tag of their own: they live on load balancers the rules above guard.
            Statement(
                Sid="RegionalWebAcl",
                Effect=Allow,
                Action=[Action("wafv2", "AssociateWebACL"), Action("wafv2", "DisassociateWebACL")],
                Resource=[
                    Sub(f"arn:${{AWS::Partition}}:{ELB}:${{AWS::Region}}:${{AWS::AccountId}}:loadbalancer/app/*"),
                    Sub("arn:${AWS::Partition}:wafv2:${AWS::Region}:${AWS::AccountId}:regional/webacl/*/*"),
                ],
            ),
            Statement(
                Sid="ListenersAndRules",
                Effect=Allow,
                Action=LISTENERS,
                Resource=[
                    Sub(f"arn:${{AWS::Partition}}:{ELB}:${{AWS::Region}}:${{AWS::AccountId}}:{kind}/app/*")
                    for kind in ("loadbalancer", "listener", "listener-rule")
                ],
            ),
        ],
    )
