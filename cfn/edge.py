"""Edge layer: U --> R53 --> WAF --> CF --> S3FE / S3MEDIA / ALB.

CloudFront serves the single-page app from the static bucket and product images from the media
bucket, both through origin access control (the buckets stay private), and sends ``/api/*`` to
the ALB the AWS Load Balancer Controller creates for the ingress. The web ACL is rendered from
reference/waf.py. CloudFront's certificate and web ACL must live in us-east-1, so this stack is
deployed there (see docs/infrastructure.md).
"""

from __future__ import annotations

from awacs import kinesis as awacs_kinesis
from awacs import kms as awacs_kms
from awacs.aws import Allow, Condition, PolicyDocument, Principal, Statement, StringEquals
from awacs.s3 import GetObject
from awacs.sts import AssumeRole
from troposphere import GetAtt, Join, Parameter, Ref, Sub, Template, cloudfront, iam, route53

from cfn.analytics import stream_export
from cfn.common import add_size, explain, export, imported, new_template, suppress_guard, waive_log_group
from cfn.data import EXPORT_MEDIA_BUCKET, EXPORT_MEDIA_DOMAIN
from cfn.network import EXPORT_LOGS_BUCKET, EXPORT_LOGS_BUCKET_DOMAIN
from cfn.security import kms_export
from cfn.storage import add_bucket, add_bucket_policy, add_own_bucket_policy
from cfn.waf import WEB_ACL, add_web_acl
from reference import RESOURCES
from reference import edge as edge_model
from reference.model import BucketRole
from reference.waf import WEB_ACL as MODEL_WEB_ACL

LAYER = "edge"
KEY = kms_export("main")
DISTRIBUTION = "Distribution"
CLOUDFRONT_ZONE = "Z2FDTNDATAQYW2"  # the hosted zone id of every CloudFront alias record
# AWS managed CloudFront policies (ids are the same in every account), from reference/edge.py.
CACHING_OPTIMIZED = edge_model.CACHING_OPTIMIZED.id
CACHING_DISABLED = edge_model.CACHING_DISABLED.id
ALL_VIEWER_EXCEPT_HOST = edge_model.ALL_VIEWER_EXCEPT_HOST
RESPONSE_HEADERS = "SecurityHeaders"  # our response headers policy (reference/edge.py SECURITY_HEADERS)
REALTIME_FIELDS = edge_model.REALTIME_LOG_FIELDS  # the local edge writes the same fields, in the same order
SPA_FUNCTION = "SpaRoutes"
# The single-page app's routes (paths whose last segment has no file extension) are served
# index.html, on the static-site behaviour only: a distribution-wide custom error response
# would also turn the API's 404s and the media's 403s into index.html with status 200.
SPA_FUNCTION_CODE = """function handler(event) {
  var request = event.request;
  var last = request.uri.split('/').pop();
  if (last.indexOf('.') === -1) {
    request.uri = '/index.html';
  }
  return request;
}
"""
EDGE_STREAM = next(s for s in RESOURCES.streams if "CF" in s.producers)
# Path patterns of the non-default behaviours (the static site is the default one).
MEDIA_PATH = edge_model.MEDIA_PATH
API_PATH = edge_model.API_PATH


def add_parameters(t: Template) -> None:
    for key, kind, default, description in (
        ("DomainName", "String", "shop.example.com", "the shop's public name"),
        ("HostedZoneId", "AWS::Route53::HostedZone::Id", "Z0000000000000000000", "public hosted zone of DomainName"),
        (
            "CertificateArn",
            "String",
            "arn:aws:acm:us-east-1:123456789012:certificate/example",
            "ACM (us-east-1) for DomainName and origin.DomainName",
        ),
        (
            "AlbDnsName",
            "String",
            "k8s-shop-example.us-east-1.elb.amazonaws.com",
            "DNS name of the ALB the ingress created",
        ),
    ):
        t.add_parameter(Parameter(key, Type=kind, Default=default, Description=description))
    add_size(t, "LogRetentionDays", number=True)


def oac_statement(distribution_arn: object, objects_arn: object) -> Statement:
    return Statement(
        Sid="CloudFrontReads",
        Effect=Allow,
        Principal=Principal("Service", "cloudfront.amazonaws.com"),
        Action=[GetObject],
        Resource=[objects_arn],
        Condition=Condition(StringEquals("AWS:SourceArn", distribution_arn)),
    )


def add_origin_buckets(t: Template) -> None:
    """The static bucket (ours) and the media bucket (the data layer's): readable by this distribution only."""
    static = add_bucket(
        t, RESOURCES.bucket(BucketRole.STATIC_SITE), LAYER, "S3FE", "CF --> S3FE", kms_key_arn=imported(KEY),
        logs_bucket=imported(EXPORT_LOGS_BUCKET),
    )  # fmt: skip
    distribution_arn = Sub(f"arn:${{AWS::Partition}}:cloudfront::${{AWS::AccountId}}:distribution/${{{DISTRIBUTION}}}")
    add_own_bucket_policy(t, static, oac_statement(distribution_arn, Sub("${BucketStaticSite.Arn}/*")))
    media_arn = Sub("arn:${AWS::Partition}:s3:::${Media}", Media=imported(EXPORT_MEDIA_BUCKET))
    media_policy = add_bucket_policy(
        t,
        "MediaBucketPolicy",
        imported(EXPORT_MEDIA_BUCKET),
        media_arn,
        ("S3MEDIA", "CF --> S3MEDIA"),
        oac_statement(distribution_arn, Join("", [media_arn, "/*"])),
    )
    suppress_guard(
        media_policy,
        "s3_bucket_policy_ssl_requests_only_check",
        "the TlsOnly statement is there, but the media bucket is the data layer's: its ARN is built from "
        "Fn::ImportValue, and the rule recognises only a GetAtt to a bucket of the same template",
    )
    oac = cloudfront.OriginAccessControl(
        "OriginAccessControl",
        OriginAccessControlConfig=cloudfront.OriginAccessControlConfig(
            Name=Sub("shop-${Stage}-buckets"),
            OriginAccessControlOriginType="s3",
            SigningBehavior="always",
            SigningProtocol="sigv4",
        ),
    )
    t.add_resource(explain(oac, "CF --> S3FE", "CF --> S3MEDIA"))


def security_headers(policy: edge_model.ResponseHeadersPolicy) -> dict[str, object]:
    """The policy's headers as CloudFront's config: its security headers where it has a field, custom ones else."""
    headers = dict(policy.headers)
    override = policy.override
    hsts = dict(
        part.strip().partition("=")[::2] for part in headers.pop("strict-transport-security").lower().split(";")
    )
    security = cloudfront.SecurityHeadersConfig(
        ContentSecurityPolicy=cloudfront.ContentSecurityPolicy(
            ContentSecurityPolicy=headers.pop("content-security-policy"), Override=override
        ),
        ContentTypeOptions=cloudfront.ContentTypeOptions(Override=override),
        FrameOptions=cloudfront.FrameOptions(FrameOption=headers.pop("x-frame-options"), Override=override),
        ReferrerPolicy=cloudfront.ReferrerPolicy(ReferrerPolicy=headers.pop("referrer-policy"), Override=override),
        StrictTransportSecurity=cloudfront.StrictTransportSecurity(
            AccessControlMaxAgeSec=int(hsts["max-age"]),
            IncludeSubdomains="includesubdomains" in hsts,
            Preload="preload" in hsts,
            Override=override,
        ),
        XSSProtection=cloudfront.XSSProtection(Protection=headers.pop("x-xss-protection") != "0", Override=override),
    )
    assert headers.pop("x-content-type-options") == "nosniff", "CloudFront's ContentTypeOptions sends nosniff only"
    custom = [cloudfront.CustomHeader(Header=k, Value=v, Override=override) for k, v in sorted(headers.items())]
    return {"SecurityHeadersConfig": security, "CustomHeadersConfig": cloudfront.CustomHeadersConfig(Items=custom)}


def add_response_headers(t: Template) -> None:
    """CF: the CSP and the other security headers on every answer, from reference/edge.py (issue 22)."""
    policy = edge_model.SECURITY_HEADERS
    config = cloudfront.ResponseHeadersPolicyConfig(
        Name=Sub(f"shop-${{Stage}}-{policy.name.removeprefix('shop-')}"),
        Comment="strict CSP, HSTS, nosniff, no framing, COOP, Permissions-Policy (reference/edge.py)",
        **security_headers(policy),
    )
    t.add_resource(
        explain(cloudfront.ResponseHeadersPolicy(RESPONSE_HEADERS, ResponseHeadersPolicyConfig=config), "CF")
    )


def behavior(origin: str, path: str | None, *, api: bool = False) -> dict[str, object]:
    props: dict[str, object] = {
        "TargetOriginId": origin,
        "ViewerProtocolPolicy": "redirect-to-https",
        "Compress": True,
        "CachePolicyId": CACHING_DISABLED if api else CACHING_OPTIMIZED,
        "ResponseHeadersPolicyId": Ref(RESPONSE_HEADERS),
        "RealtimeLogConfigArn": Ref("RealtimeLogs"),
    }
    if api:
        props |= {
            "OriginRequestPolicyId": ALL_VIEWER_EXCEPT_HOST,
            "AllowedMethods": ["GET", "HEAD", "OPTIONS", "PUT", "PATCH", "POST", "DELETE"],
        }
    if path is not None:
        props["PathPattern"] = path
    return props


def add_distribution(t: Template) -> cloudfront.Distribution:
    s3_origin = {
        "S3OriginConfig": cloudfront.S3OriginConfig(OriginAccessIdentity=""),
        "OriginAccessControlId": GetAtt("OriginAccessControl", "Id"),
    }
    origins = [
        cloudfront.Origin(Id="static", DomainName=GetAtt("BucketStaticSite", "RegionalDomainName"), **s3_origin),
        cloudfront.Origin(Id="media", DomainName=imported(EXPORT_MEDIA_DOMAIN), **s3_origin),
        cloudfront.Origin(
            Id="api",
            DomainName=Sub("origin.${DomainName}"),
            CustomOriginConfig=cloudfront.CustomOriginConfig(
                OriginProtocolPolicy="https-only", OriginSSLProtocols=["TLSv1.2"], OriginReadTimeout=30
            ),
        ),
    ]
    config = cloudfront.DistributionConfig(
        Enabled=True,
        Comment=Sub("shop-${Stage}"),
        Aliases=[Ref("DomainName")],
        HttpVersion="http2and3",
        IPV6Enabled=True,
        PriceClass="PriceClass_100",
        DefaultRootObject="index.html",
        Origins=origins,
        DefaultCacheBehavior=cloudfront.DefaultCacheBehavior(
            **behavior("static", None),
            FunctionAssociations=[
                cloudfront.FunctionAssociation(
                    EventType="viewer-request", FunctionARN=GetAtt(SPA_FUNCTION, "FunctionARN")
                )
            ],
        ),
        CacheBehaviors=[
            cloudfront.CacheBehavior(**behavior("api", API_PATH, api=True)),
            cloudfront.CacheBehavior(**behavior("media", MEDIA_PATH)),
        ],
        ViewerCertificate=cloudfront.ViewerCertificate(
            AcmCertificateArn=Ref("CertificateArn"), SslSupportMethod="sni-only", MinimumProtocolVersion="TLSv1.2_2021"
        ),
        Logging=cloudfront.Logging(Bucket=imported(EXPORT_LOGS_BUCKET_DOMAIN), Prefix=Sub("cloudfront/shop-${Stage}/")),
        WebACLId=GetAtt(WEB_ACL, "Arn"),
    )
    spa = cloudfront.Function(
        SPA_FUNCTION,
        Name=Sub("shop-${Stage}-spa-routes"),
        AutoPublish=True,
        FunctionCode=SPA_FUNCTION_CODE,
        FunctionConfig=cloudfront.FunctionConfig(
            Comment="serve index.html for the app's routes", Runtime="cloudfront-js-2.0"
        ),
    )
    t.add_resource(explain(spa, "CF --> S3FE"))
    distribution = cloudfront.Distribution(DISTRIBUTION, DistributionConfig=config)
    suppress_guard(
        distribution,
        "cloudfront_access_logs_enabled_check",
        "standard logs go to the network layer's logs bucket (Logging.Bucket), named by Fn::ImportValue; "
        "the rule accepts only a literal bucket domain or a Ref to a bucket of the same template",
    )
    suppress_guard(
        distribution,
        "cloudfront_origin_failover_enabled_check",
        "an origin group needs a second copy of each origin: the buckets and the cluster live in one region "
        "(docs/infrastructure.md, 'One region'), so a failover origin would fail over to the same region",
    )
    t.add_resource(
        explain(distribution, "CF", "WAF --> CF", "CF --> S3FE", "CF --> S3MEDIA", "CF --> ALB", "CF --> CW")
    )
    t.add_resource(
        explain(
            cloudfront.MonitoringSubscription(
                "DistributionMetrics",
                DistributionId=Ref(distribution),
                MonitoringSubscription=cloudfront.MonitoringSubscriptionProperty(
                    RealtimeMetricsSubscriptionConfig=cloudfront.RealtimeMetricsSubscriptionConfig(
                        RealtimeMetricsSubscriptionStatus="Enabled"
                    )
                ),
            ),
            "CF --> CW",
        )
    )
    export(t, "distribution-id", Ref(distribution), "for alarms and invalidations")
    return distribution


def add_realtime_logs(t: Template) -> None:
    """CF --> KDS: every request as a record on the edge-logs stream."""
    stream_arn = imported(stream_export(EDGE_STREAM.name))
    role = iam.Role(
        "RealtimeLogsRole",
        AssumeRolePolicyDocument=PolicyDocument(
            Version="2012-10-17",
            Statement=[
                Statement(Effect=Allow, Principal=Principal("Service", "cloudfront.amazonaws.com"), Action=[AssumeRole])
            ],
        ),
        Policies=[
            iam.Policy(
                PolicyName="put-records",
                PolicyDocument=PolicyDocument(
                    Version="2012-10-17",
                    Statement=[
                        Statement(
                            Effect=Allow,
                            Action=[
                                awacs_kinesis.DescribeStreamSummary,
                                awacs_kinesis.DescribeStream,
                                awacs_kinesis.PutRecord,
                                awacs_kinesis.PutRecords,
                            ],
                            Resource=[stream_arn],
                        ),
                        Statement(Effect=Allow, Action=[awacs_kms.GenerateDataKey], Resource=[imported(KEY)]),
                    ],
                ),
            )
        ],
    )
    t.add_resource(explain(role, "CF --> KDS", f"stream:{EDGE_STREAM.name}"))
    config = cloudfront.RealtimeLogConfig(
        "RealtimeLogs",
        Name=Sub("shop-${Stage}-edge-logs"),
        SamplingRate=100,
        Fields=list(REALTIME_FIELDS),
        EndPoints=[
            cloudfront.EndPoint(
                StreamType="Kinesis",
                KinesisStreamConfig=cloudfront.KinesisStreamConfig(RoleArn=GetAtt(role, "Arn"), StreamArn=stream_arn),
            )
        ],
    )
    t.add_resource(explain(config, "CF --> KDS", f"stream:{EDGE_STREAM.name}"))


def add_dns(t: Template, distribution: cloudfront.Distribution) -> None:
    """U --> R53: the shop's name (IPv4 and IPv6) aliases the distribution; origin.<name> points at the ALB."""
    for kind in ("A", "AAAA"):
        record = route53.RecordSetType(
            f"Record{kind}",
            HostedZoneId=Ref("HostedZoneId"),
            Name=Ref("DomainName"),
            Type=kind,
            AliasTarget=route53.AliasTarget(DNSName=GetAtt(distribution, "DomainName"), HostedZoneId=CLOUDFRONT_ZONE),
        )
        t.add_resource(explain(record, "R53", "U --> R53", "R53 --> WAF"))
    origin = route53.RecordSetType(
        "RecordOrigin",
        HostedZoneId=Ref("HostedZoneId"),
        Name=Sub("origin.${DomainName}"),
        Type="CNAME",
        TTL="300",
        ResourceRecords=[Ref("AlbDnsName")],
    )
    t.add_resource(explain(origin, "CF --> ALB", "ALB"))


def build() -> Template:
    t = new_template(LAYER, "Route 53, WAF, CloudFront with origin access control, the static site bucket")
    add_parameters(t)
    add_origin_buckets(t)
    add_web_acl(t, MODEL_WEB_ACL)
    waive_log_group(t.resources["WafLogs"])  # the web ACL's log group (cfn/waf.py): imported key, short retention
    add_realtime_logs(t)
    add_response_headers(t)
    add_dns(t, add_distribution(t))
    return t
