"""Render reference.waf's web ACL as WAFv2 resources (scope CLOUDFRONT: deployed in us-east-1)."""

from __future__ import annotations

from troposphere import GetAtt, Ref, Sub, Template, logs, wafv2

from cfn.common import explain, imported, logical_id, name, tags
from cfn.security import kms_export
from reference.waf import (
    Action,
    AllOf,
    AnyOf,
    ByteMatch,
    FieldToMatch,
    GeoMatch,
    IpSetReference,
    LabelMatch,
    ManagedRuleGroup,
    Not,
    Override,
    Part,
    RateBased,
    Regex,
    RegexMatch,
    Rule,
    SizeConstraint,
    SqliMatch,
    Statement,
    WebAcl,
    XssMatch,
)

WEB_ACL = "WebAcl"
COMPARISONS = {">": "GT", ">=": "GE", "<": "LT", "<=": "LE", "==": "EQ", "!=": "NE"}
# CloudFront inspects the first 16 KiB of a body; a larger body counts as matching (fail closed).
OVERSIZE = "MATCH"


def ip_set_id(ip_set: str) -> str:
    return logical_id("ip", "set", ip_set)


def regex_set_id(regex_set: str) -> str:
    return logical_id("regex", "set", regex_set)


def field_to_match(field: FieldToMatch) -> wafv2.FieldToMatch:
    match field.part:
        case Part.QUERY:
            return wafv2.FieldToMatch(QueryString={})
        case Part.BODY:
            return wafv2.FieldToMatch(Body=wafv2.Body(OversizeHandling=OVERSIZE))
        case Part.URI:
            return wafv2.FieldToMatch(UriPath={})
        case Part.HEADER:
            return wafv2.FieldToMatch(SingleHeader=wafv2.SingleHeader(Name=field.name))
        case Part.HEADERS:
            pattern = wafv2.HeaderMatchPattern(ExcludedHeaders=list(field.excluded)) if field.excluded else None
            pattern = pattern or wafv2.HeaderMatchPattern(All={})
            # Headers past WAF's inspection limit (8 KiB, 200 headers) count as matching, like the body.
            return wafv2.FieldToMatch(
                Headers=wafv2.Headers(MatchPattern=pattern, MatchScope="VALUE", OversizeHandling=OVERSIZE)
            )
        case Part.ALL_QUERY_ARGUMENTS:
            return wafv2.FieldToMatch(AllQueryArguments={})
        case Part.JSON_BODY:
            return wafv2.FieldToMatch(
                JsonBody=wafv2.JsonBody(
                    MatchPattern=wafv2.JsonMatchPattern(All={}),
                    MatchScope=field.scope.value,
                    InvalidFallbackBehavior=field.invalid_json.value,
                    OversizeHandling=OVERSIZE,
                )
            )
        case Part.COOKIES:
            return wafv2.FieldToMatch(
                Cookies=wafv2.Cookies(
                    MatchPattern=wafv2.CookieMatchPattern(All={}), MatchScope="VALUE", OversizeHandling=OVERSIZE
                )
            )
        case Part.METHOD:
            return wafv2.FieldToMatch(Method={})
    raise ValueError(field.part)


def transformations(field: FieldToMatch) -> list[wafv2.TextTransformation]:
    kinds = [t.aws for t in field.transforms] or ["NONE"]
    return [wafv2.TextTransformation(Priority=i, Type=kind) for i, kind in enumerate(kinds)]


def statement(stmt: Statement) -> wafv2.Statement:
    """One model statement as a WAFv2 statement."""
    match stmt:
        case RateBased(limit=limit, window_s=window):
            return wafv2.Statement(
                RateBasedStatement=wafv2.RateBasedStatement(
                    Limit=limit, EvaluationWindowSec=window, AggregateKeyType="IP"
                )
            )
        case SizeConstraint(field=field, comparison=comparison, size=size):
            return wafv2.Statement(
                SizeConstraintStatement=wafv2.SizeConstraintStatement(
                    FieldToMatch=field_to_match(field),
                    ComparisonOperator=COMPARISONS[comparison],
                    Size=size,
                    TextTransformations=transformations(field),
                )
            )
        case SqliMatch(field=field, sensitivity=sensitivity):
            return wafv2.Statement(
                SqliMatchStatement=wafv2.SqliMatchStatement(
                    FieldToMatch=field_to_match(field),
                    TextTransformations=transformations(field),
                    SensitivityLevel=sensitivity.value,
                )
            )
        case RegexMatch(field=field, regex_set=regex_set):
            return wafv2.Statement(
                RegexPatternSetReferenceStatement=wafv2.RegexPatternSetReferenceStatement(
                    Arn=GetAtt(regex_set_id(regex_set), "Arn"),
                    FieldToMatch=field_to_match(field),
                    TextTransformations=transformations(field),
                )
            )
        case Regex(field=field, pattern=pattern):
            return wafv2.Statement(
                RegexMatchStatement=wafv2.RegexMatchStatement(
                    FieldToMatch=field_to_match(field), RegexString=pattern, TextTransformations=transformations(field)
                )
            )
        case ByteMatch(field=field, search=search, position=position):
            return wafv2.Statement(
                ByteMatchStatement=wafv2.ByteMatchStatement(
                    FieldToMatch=field_to_match(field),
                    PositionalConstraint=position.value,
                    SearchString=search,
                    TextTransformations=transformations(field),
                )
            )
        case XssMatch(field=field):
            return wafv2.Statement(
                XssMatchStatement=wafv2.XssMatchStatement(
                    FieldToMatch=field_to_match(field), TextTransformations=transformations(field)
                )
            )
        case IpSetReference(ip_set=ip_set):
            return wafv2.Statement(
                IPSetReferenceStatement=wafv2.IPSetReferenceStatement(Arn=GetAtt(ip_set_id(ip_set), "Arn"))
            )
        case GeoMatch(country_codes=codes):
            return wafv2.Statement(GeoMatchStatement=wafv2.GeoMatchStatement(CountryCodes=list(codes)))
        case LabelMatch(key=key):
            return wafv2.Statement(LabelMatchStatement=wafv2.LabelMatchStatement(Key=key, Scope="LABEL"))
        case ManagedRuleGroup(name=group, vendor=vendor, excluded_rules=excluded):
            overrides = [wafv2.RuleActionOverride(Name=r, ActionToUse=action(Action.COUNT)) for r in excluded]
            extra = {"RuleActionOverrides": overrides} if overrides else {}
            return wafv2.Statement(
                ManagedRuleGroupStatement=wafv2.ManagedRuleGroupStatement(Name=group, VendorName=vendor, **extra)
            )
        case AnyOf(statements=inner):
            return wafv2.Statement(OrStatement=wafv2.OrStatement(Statements=[statement(s) for s in inner]))
        case AllOf(statements=inner):
            return wafv2.Statement(AndStatement=wafv2.AndStatement(Statements=[statement(s) for s in inner]))
        case Not(statement=inner):
            return wafv2.Statement(NotStatement=wafv2.NotStatement(Statement=statement(inner)))
    raise TypeError(stmt)


def action(a: Action) -> wafv2.RuleAction:
    kinds = {Action.ALLOW: wafv2.AllowAction, Action.BLOCK: wafv2.BlockAction, Action.COUNT: wafv2.CountAction}
    return wafv2.RuleAction(**{a.value.capitalize(): kinds[a]()})


def rule(r: Rule) -> wafv2.WebACLRule:
    visibility = wafv2.VisibilityConfig(
        CloudWatchMetricsEnabled=True, MetricName=r.metric_name, SampledRequestsEnabled=True
    )
    props: dict[str, object] = {}
    if r.action is not None:
        props["Action"] = action(r.action)
    if r.override is not None:
        props["OverrideAction"] = wafv2.OverrideAction(**{"None" if r.override is Override.NONE else "Count": {}})
    if r.labels:
        props["RuleLabels"] = [wafv2.Label(Name=label) for label in r.labels]
    return wafv2.WebACLRule(
        Name=r.name, Priority=r.priority, Statement=statement(r.statement), VisibilityConfig=visibility, **props
    )


def add_web_acl(t: Template, acl: WebAcl) -> wafv2.WebACL:
    """The IP sets, the web ACL and its logging (a log group named aws-waf-logs-*, as WAF requires)."""
    for ip_set in acl.ip_sets:
        resource = wafv2.IPSet(
            ip_set_id(ip_set.name),
            Name=name(ip_set.name),
            Description=ip_set.purpose,
            Scope="CLOUDFRONT",
            IPAddressVersion="IPV4",
            Addresses=list(ip_set.addresses),
        )
        t.add_resource(explain(resource, "WAF", f"waf:{ip_set.name}"))
    for regex_set in acl.regex_sets:
        resource = wafv2.RegexPatternSet(
            regex_set_id(regex_set.name),
            Name=name(regex_set.name),
            Description=regex_set.purpose,
            Scope="CLOUDFRONT",
            RegularExpressionList=list(regex_set.patterns),
        )
        t.add_resource(explain(resource, "WAF", f"waf:{regex_set.name}"))
    default = {"Allow": wafv2.AllowAction()} if acl.default_action is Action.ALLOW else {"Block": wafv2.BlockAction()}
    web_acl = wafv2.WebACL(
        WEB_ACL,
        Name=name(acl.name),
        Scope="CLOUDFRONT",
        DefaultAction=wafv2.DefaultAction(**default),
        Rules=[rule(r) for r in sorted(acl.rules, key=lambda r: r.priority)],
        VisibilityConfig=wafv2.VisibilityConfig(
            CloudWatchMetricsEnabled=True, MetricName=acl.metric_name, SampledRequestsEnabled=True
        ),
        Tags=tags("edge"),
    )
    t.add_resource(explain(web_acl, "WAF", "R53 --> WAF", "WAF --> CF", *(f"waf:{r.name}" for r in acl.rules)))
    log_group = logs.LogGroup(
        "WafLogs",
        LogGroupName=Sub("aws-waf-logs-shop-${Stage}"),
        RetentionInDays=Ref("LogRetentionDays"),
        KmsKeyId=imported(kms_export("main")),
    )
    t.add_resource(explain(log_group, "WAF", "CF --> CW"))
    t.add_resource(
        explain(
            wafv2.LoggingConfiguration(
                "WafLogging", ResourceArn=GetAtt(web_acl, "Arn"), LogDestinationConfigs=[GetAtt(log_group, "Arn")]
            ),
            "WAF",
            "CF --> CW",
        )
    )
    return web_acl
