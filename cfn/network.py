"""Network layer: the VPC the EKS cluster and the managed data stores live in, over three AZs.

Three tiers of subnets per AZ: public (NAT, the ALB), private (EKS nodes and pods) and data
(Aurora, ElastiCache, OpenSearch; no route to the internet). Gateway endpoints for S3 and
DynamoDB and interface endpoints for the APIs the pods call keep that traffic off the NAT.
The logs bucket lives here too: VPC flow logs are its first writer, every other layer logs into it.
"""

from __future__ import annotations

from ipaddress import ip_network
from itertools import islice

from awacs.aws import Allow, Principal, Statement
from awacs.s3 import PutObject
from troposphere import Equals, GetAtt, GetAZs, If, Join, Ref, Select, Sub, Template, ec2

from cfn.common import add_size, explain, export, logical_id, new_template, suppress_checkov, suppress_guard, tags
from cfn.storage import add_bucket, add_own_bucket_policy, objects
from reference import RESOURCES
from reference.model import BucketRole

LAYER = "network"
AZS = 3
VPC = "Vpc"
VPC_CIDR = "10.0.0.0/16"
TIERS = ("public", "private", "data")  # each tier gets one /20 per AZ
ONE_NAT = "OneNat"
DATA_STORES = ("AUR", "REDIS", "OPENSEARCH")  # the nodes that live in the data subnets
GATEWAY_ENDPOINTS = {"s3": "S3MEDIA", "dynamodb": "DDB"}
# Interface endpoints and the diagram node whose API each one reaches.
INTERFACE_ENDPOINTS = {
    "ecr.api": "EKS",
    "ecr.dkr": "EKS",
    "sts": "EKS",
    "sqs": "SQS",
    "sns": "SNS",
    "secretsmanager": "SECRETS",
    "kms": "KMS",
    "logs": "CW",
}
EXPORT_VPC = "vpc-id"
EXPORT_VPC_CIDR = "vpc-cidr"
EXPORT_LOGS_BUCKET = "logs-bucket"
EXPORT_LOGS_BUCKET_DOMAIN = "logs-bucket-domain"


def subnet_export(tier: str) -> str:
    return f"{tier}-subnet-ids"


def subnet_cidr_export(tier: str, az: int) -> str:
    return f"{tier}-subnet-{az}-cidr"


def subnet_cidrs() -> list[str]:
    """/20s carved from the VPC's /16 in order (public, private, data; AZ by AZ), as literal CIDRs."""
    return [str(net) for net in islice(ip_network(VPC_CIDR).subnets(new_prefix=20), AZS * len(TIERS))]


def add_vpc(t: Template) -> ec2.VPC:
    vpc = t.add_resource(
        explain(
            ec2.VPC(VPC, CidrBlock=VPC_CIDR, EnableDnsHostnames=True, EnableDnsSupport=True, Tags=tags(LAYER)), "EKS"
        )
    )
    igw = t.add_resource(explain(ec2.InternetGateway("InternetGateway", Tags=tags(LAYER)), "U --> R53"))
    t.add_resource(
        explain(
            ec2.VPCGatewayAttachment("InternetGatewayAttachment", VpcId=Ref(vpc), InternetGatewayId=Ref(igw)), "EKS"
        )
    )
    export(t, EXPORT_VPC, Ref(vpc), "the VPC")
    export(t, EXPORT_VPC_CIDR, VPC_CIDR, "its CIDR")
    return vpc


def add_subnets(t: Template, vpc: ec2.VPC) -> dict[str, list[ec2.Subnet]]:
    """One subnet per tier and AZ; the Kubernetes role tags tell the load balancer controller where ALBs go."""
    cidrs = subnet_cidrs()
    role_tag = {"public": {"kubernetes.io/role/elb": "1"}, "private": {"kubernetes.io/role/internal-elb": "1"}}
    subnets: dict[str, list[ec2.Subnet]] = {}
    for i, tier in enumerate(TIERS):
        subnets[tier] = []
        for az in range(AZS):
            subnet = ec2.Subnet(
                logical_id(tier, "subnet", str(az)),
                VpcId=Ref(vpc),
                AvailabilityZone=Select(az, GetAZs("")),
                CidrBlock=cidrs[i * AZS + az],
                MapPublicIpOnLaunch=False,
                Tags=tags(LAYER, tier=tier, **role_tag.get(tier, {})),
            )
            subnets[tier].append(t.add_resource(explain(subnet, *(DATA_STORES if tier == "data" else ("EKS",)))))
            export(t, subnet_cidr_export(tier, az), subnet.CidrBlock, f"{tier} subnet CIDR in AZ {az}")
        export(t, subnet_export(tier), Join(",", [Ref(s) for s in subnets[tier]]), f"{tier} subnets, one per AZ")
    return subnets


def add_routes(t: Template, vpc: ec2.VPC, subnets: dict[str, list[ec2.Subnet]]) -> list[ec2.RouteTable]:
    """Public subnets route to the internet gateway, private ones to a NAT, data ones nowhere outside the VPC."""
    nats = add_size(t, "NatGateways")
    t.parameters["NatGateways"].AllowedValues = ["1", "3"]
    t.add_condition(ONE_NAT, Equals(nats, "1"))
    public = t.add_resource(explain(ec2.RouteTable("PublicRouteTable", VpcId=Ref(vpc), Tags=tags(LAYER)), "EKS"))
    t.add_resource(
        explain(
            ec2.Route(
                "PublicDefaultRoute",
                DependsOn="InternetGatewayAttachment",
                RouteTableId=Ref(public),
                DestinationCidrBlock="0.0.0.0/0",
                GatewayId=Ref("InternetGateway"),
            ),
            "EKS",
        )
    )
    tables = []
    for az in range(AZS):
        t.add_resource(
            explain(
                ec2.SubnetRouteTableAssociation(
                    logical_id("public", "route", str(az)),
                    SubnetId=Ref(subnets["public"][az]),
                    RouteTableId=Ref(public),
                ),
                "EKS",
            )
        )
        condition = {} if az == 0 else {"Condition": f"Not{ONE_NAT}"}
        eip = t.add_resource(explain(ec2.EIP(logical_id("nat", "ip", str(az)), Domain="vpc", **condition), "EKS"))
        nat = ec2.NatGateway(
            logical_id("nat", str(az)),
            AllocationId=GetAtt(eip, "AllocationId"),
            SubnetId=Ref(subnets["public"][az]),
            Tags=tags(LAYER),
            **condition,
        )
        t.add_resource(explain(nat, "EKS"))
        table = t.add_resource(
            explain(
                ec2.RouteTable(logical_id("private", "route", "table", str(az)), VpcId=Ref(vpc), Tags=tags(LAYER)),
                "EKS",
            )
        )
        target = Ref(nat) if az == 0 else If(ONE_NAT, Ref("Nat0"), Ref(nat))
        t.add_resource(
            explain(
                ec2.Route(
                    logical_id("private", "default", "route", str(az)),
                    RouteTableId=Ref(table),
                    DestinationCidrBlock="0.0.0.0/0",
                    NatGatewayId=target,
                ),
                "EKS",
            )
        )
        t.add_resource(
            explain(
                ec2.SubnetRouteTableAssociation(
                    logical_id("private", "route", str(az)),
                    SubnetId=Ref(subnets["private"][az]),
                    RouteTableId=Ref(table),
                ),
                "EKS",
            )
        )
        tables.append(table)
    data = t.add_resource(explain(ec2.RouteTable("DataRouteTable", VpcId=Ref(vpc), Tags=tags(LAYER)), *DATA_STORES))
    for az in range(AZS):
        t.add_resource(
            explain(
                ec2.SubnetRouteTableAssociation(
                    logical_id("data", "route", str(az)), SubnetId=Ref(subnets["data"][az]), RouteTableId=Ref(data)
                ),
                *DATA_STORES,
            )
        )
    t.add_condition(f"Not{ONE_NAT}", {"Fn::Not": [{"Condition": ONE_NAT}]})
    return [*tables, data]


def add_endpoints(
    t: Template, vpc: ec2.VPC, subnets: dict[str, list[ec2.Subnet]], tables: list[ec2.RouteTable]
) -> None:
    for service, node in GATEWAY_ENDPOINTS.items():
        endpoint = ec2.VPCEndpoint(
            logical_id("endpoint", service),
            VpcId=Ref(vpc),
            ServiceName=Sub(f"com.amazonaws.${{AWS::Region}}.{service}"),
            VpcEndpointType="Gateway",
            RouteTableIds=[Ref(rt) for rt in tables],
        )
        t.add_resource(explain(endpoint, node))
    sg = ec2.SecurityGroup(
        "EndpointSecurityGroup",
        GroupDescription="HTTPS from inside the VPC to the interface endpoints",
        VpcId=Ref(vpc),
        SecurityGroupIngress=[
            ec2.SecurityGroupRule(
                IpProtocol="tcp", FromPort=443, ToPort=443, CidrIp=VPC_CIDR, Description="AWS APIs from the VPC"
            )
        ],
        SecurityGroupEgress=[
            ec2.SecurityGroupRule(IpProtocol="-1", CidrIp="127.0.0.1/32", Description="endpoints answer, never call")
        ],
        Tags=tags(LAYER),
    )
    t.add_resource(explain(sg, *sorted(set(INTERFACE_ENDPOINTS.values()))))
    for service, node in INTERFACE_ENDPOINTS.items():
        endpoint = ec2.VPCEndpoint(
            logical_id("endpoint", service),
            VpcId=Ref(vpc),
            ServiceName=Sub(f"com.amazonaws.${{AWS::Region}}.{service}"),
            VpcEndpointType="Interface",
            PrivateDnsEnabled=True,
            SubnetIds=[Ref(s) for s in subnets["private"]],
            SecurityGroupIds=[Ref(sg)],
        )
        t.add_resource(explain(endpoint, node))


def add_logs_bucket(t: Template, vpc: ec2.VPC) -> None:
    """The logs bucket (SSE-S3: S3 server access logs and ALB logs cannot use KMS) and the VPC flow logs."""
    logs = RESOURCES.bucket(BucketRole.LOGS)
    bucket = add_bucket(t, logs, LAYER, "CF --> CW", "ALB --> CW", lifecycle_days=365)
    bucket.OwnershipControls.Rules[0].ObjectOwnership = "BucketOwnerPreferred"  # CloudFront standard logs use ACLs
    suppress_checkov(bucket, "CKV_AWS_18", "this is the access-log bucket: it does not log into itself")
    suppress_guard(
        bucket, "s3_bucket_logging_enabled_check", "this is the access-log bucket: it does not log into itself"
    )
    suppress_guard(
        bucket,
        "s3_bucket_default_encryption_kms_check",
        "SSE-S3, not SSE-KMS: the ALB's access logs are documented to support only SSE-S3 on their bucket, and "
        "S3 server access logs and CloudFront standard logs would need the key shared with their delivery services",
    )
    log_writers = {"logging.s3.amazonaws.com": "S3AccessLogs", "delivery.logs.amazonaws.com": "LogDelivery"}
    statements = [
        Statement(
            Sid=sid, Effect=Allow, Principal=Principal("Service", svc), Action=[PutObject], Resource=[objects(bucket)]
        )
        for svc, sid in sorted(log_writers.items())
    ]
    statements.append(
        Statement(
            Sid="AlbLogs",
            Effect=Allow,
            Principal=Principal("Service", "logdelivery.elasticloadbalancing.amazonaws.com"),
            Action=[PutObject],
            Resource=[objects(bucket)],
        )
    )
    add_own_bucket_policy(t, bucket, *statements)
    t.add_resource(
        explain(
            ec2.FlowLog(
                "VpcFlowLog",
                ResourceId=Ref(vpc),
                ResourceType="VPC",
                TrafficType="ALL",
                LogDestinationType="s3",
                LogDestination=Sub("${BucketLogs.Arn}/vpc-flow-logs/"),
                Tags=tags(LAYER),
            ),
            "EKS --> CW",
        )
    )
    export(t, EXPORT_LOGS_BUCKET, Ref(bucket), "bucket every layer writes access logs to")
    export(t, EXPORT_LOGS_BUCKET_DOMAIN, GetAtt(bucket, "DomainName"), "its domain, for CloudFront logging")


def build() -> Template:
    t = new_template(LAYER, "VPC over three AZs, subnets, NAT, VPC endpoints, flow logs and the logs bucket")
    vpc = add_vpc(t)
    subnets = add_subnets(t, vpc)
    tables = add_routes(t, vpc, subnets)
    add_endpoints(t, vpc, subnets, tables)
    add_logs_bucket(t, vpc)
    return t
