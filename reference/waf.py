"""The web ACL in front of CloudFront, as data: cfn/edge renders it, a local evaluator can run it.

The vocabulary is the part of AWS WAFv2 the shop uses, kept engine-neutral: a rule has a
priority, a statement and an action (or, for a managed rule group, an override action).
Statements match one part of the request (``FieldToMatch``) after text transformations.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum


class Action(StrEnum):
    ALLOW = "allow"
    BLOCK = "block"
    COUNT = "count"


class Override(StrEnum):
    """What happens to a managed rule group's own actions: keep them (NONE) or only count."""

    NONE = "none"
    COUNT = "count"


class Part(StrEnum):
    """The part of the request a statement inspects."""

    QUERY = "query"  # the query string
    BODY = "body"
    URI = "uri"  # the path
    HEADER = "header"  # one header, named by FieldToMatch.name
    HEADERS = "headers"  # every header's value, but those named in FieldToMatch.excluded


class Transform(StrEnum):
    """Text transformations, applied in order before matching."""

    URL_DECODE = "url-decode"
    HTML_ENTITY_DECODE = "html-entity-decode"
    LOWERCASE = "lowercase"
    COMPRESS_WHITE_SPACE = "compress-white-space"


class Comparison(StrEnum):
    GT = ">"
    GE = ">="
    LT = "<"
    LE = "<="
    EQ = "=="
    NE = "!="


@dataclass(frozen=True, slots=True)
class FieldToMatch:
    part: Part
    name: str | None = None  # the header name when part is HEADER (lower case)
    transforms: tuple[Transform, ...] = ()
    excluded: tuple[str, ...] = ()  # headers HEADERS leaves out (lower case)


@dataclass(frozen=True, slots=True)
class RateBased:
    """More than ``limit`` requests from one client IP within ``window_s`` seconds."""

    limit: int
    window_s: int = 300


@dataclass(frozen=True, slots=True)
class SizeConstraint:
    """The size in bytes of a part of the request, compared with ``size``."""

    field: FieldToMatch
    comparison: Comparison
    size: int


@dataclass(frozen=True, slots=True)
class SqliMatch:
    field: FieldToMatch


@dataclass(frozen=True, slots=True)
class XssMatch:
    field: FieldToMatch


@dataclass(frozen=True, slots=True)
class IpSetReference:
    ip_set: str  # the name of one of WebAcl.ip_sets


@dataclass(frozen=True, slots=True)
class GeoMatch:
    country_codes: tuple[str, ...]  # ISO 3166-1 alpha-2


@dataclass(frozen=True, slots=True)
class LabelMatch:
    """Matches when an earlier rule (of this web ACL) added the label ``key`` to the request."""

    key: str


@dataclass(frozen=True, slots=True)
class ManagedRuleGroup:
    """A rule group maintained by AWS; the local edge approximates it (localcloud/edge/managed.py)."""

    name: str
    vendor: str = "AWS"
    excluded_rules: tuple[str, ...] = ()  # rules of the group that only count


@dataclass(frozen=True, slots=True)
class AnyOf:
    """Matches when any of its statements matches (WAF's OrStatement)."""

    statements: tuple[Statement, ...]


Statement = (
    RateBased
    | SizeConstraint
    | SqliMatch
    | XssMatch
    | IpSetReference
    | GeoMatch
    | LabelMatch
    | ManagedRuleGroup
    | AnyOf
)


@dataclass(frozen=True, slots=True)
class Rule:
    """One rule: lower priorities are evaluated first; the first terminating match decides."""

    name: str
    priority: int
    statement: Statement
    action: Action | None = None  # None for a managed rule group
    override: Override | None = None  # only for a managed rule group
    summary: str = ""
    labels: tuple[str, ...] = ()  # added to a matching request (WAF's RuleLabels), e.g. for a later LabelMatch

    @property
    def metric_name(self) -> str:
        """The CloudWatch metric name (VisibilityConfig.MetricName): ``rate-per-ip`` -> ``WafRatePerIp``."""
        return "Waf" + "".join(w[0].upper() + w[1:] for w in re.split(r"[^A-Za-z0-9]+", self.name) if w)


@dataclass(frozen=True, slots=True)
class IpSet:
    name: str
    addresses: tuple[str, ...] = ()  # CIDRs, IPv4
    purpose: str = ""


@dataclass(frozen=True, slots=True)
class WebAcl:
    name: str
    default_action: Action
    rules: tuple[Rule, ...]
    ip_sets: tuple[IpSet, ...] = ()
    metric_name: str = "shop-web-acl"  # the WebACL dimension of its CloudWatch metrics

    def rule(self, name: str) -> Rule:
        return next(r for r in self.rules if r.name == name)


def check_web_acl(acl: WebAcl) -> list[str]:
    """Every inconsistency of the web ACL as a sentence; empty when it can be rendered and evaluated."""
    problems: list[str] = []
    priorities = [r.priority for r in acl.rules]
    if len(set(priorities)) != len(priorities):
        problems.append("two rules share a priority")
    ip_sets = {s.name for s in acl.ip_sets}
    for rule in acl.rules:
        managed = isinstance(rule.statement, ManagedRuleGroup)
        if managed and (rule.override is None or rule.action is not None):
            problems.append(f"rule {rule.name}: a managed rule group takes an override action and no action")
        if not managed and (rule.action is None or rule.override is not None):
            problems.append(f"rule {rule.name}: needs an action and no override action")
        for stmt in _flatten(rule.statement):
            if isinstance(stmt, IpSetReference) and stmt.ip_set not in ip_sets:
                problems.append(f"rule {rule.name} references unknown IP set {stmt.ip_set}")
            if isinstance(stmt, RateBased) and stmt.window_s not in (60, 120, 300, 600):
                problems.append(f"rule {rule.name}: rate window must be 60, 120, 300 or 600 s")
            field = getattr(stmt, "field", None)
            if field is not None and (field.part is Part.HEADER) != (field.name is not None):
                problems.append(f"rule {rule.name}: a header name is given exactly for header matches")
            if field is not None and field.excluded and field.part is not Part.HEADERS:
                problems.append(f"rule {rule.name}: only an all-headers match excludes headers")
            earlier = {label for r in acl.rules if r.priority < rule.priority for label in r.labels}
            if isinstance(stmt, LabelMatch) and stmt.key not in earlier:
                problems.append(f"rule {rule.name} matches label {stmt.key} that no earlier rule adds")
    return problems


def _flatten(stmt: Statement) -> tuple[Statement, ...]:
    if isinstance(stmt, AnyOf):
        return tuple(s for inner in stmt.statements for s in _flatten(inner))
    return (stmt,)


_DECODE = (Transform.URL_DECODE, Transform.HTML_ENTITY_DECODE)
QUERY = FieldToMatch(Part.QUERY, transforms=_DECODE)
BODY = FieldToMatch(Part.BODY, transforms=_DECODE)
URI = FieldToMatch(Part.URI, transforms=(Transform.URL_DECODE,))
# The bearer token and the cookies are opaque to these rules; the managed groups inspect cookies.
HEADERS = FieldToMatch(Part.HEADERS, transforms=_DECODE, excluded=("authorization", "cookie"))

WEB_ACL = WebAcl(
    name="edge",
    default_action=Action.ALLOW,
    ip_sets=(IpSet("blocked-ips", purpose="addresses an operator blocks by hand during an incident"),),
    rules=(
        Rule("blocked-ips", 0, IpSetReference("blocked-ips"), Action.BLOCK, summary="operator block list"),
        Rule("rate-per-ip", 10, RateBased(limit=2000, window_s=300), Action.BLOCK, summary="flood from one IP"),
        Rule(
            "oversized-body",
            20,
            SizeConstraint(FieldToMatch(Part.BODY), Comparison.GT, 16 * 1024),
            Action.BLOCK,
            summary="API bodies are small: uploads go straight to S3 with presigned URLs",
        ),
        Rule(
            "oversized-cookie",
            21,
            SizeConstraint(FieldToMatch(Part.HEADER, "cookie"), Comparison.GT, 8 * 1024),
            Action.BLOCK,
            summary="cookie stuffing",
        ),
        Rule("sqli", 30, AnyOf(tuple(SqliMatch(f) for f in (QUERY, BODY, URI, HEADERS))), Action.BLOCK),
        Rule("xss", 40, AnyOf(tuple(XssMatch(f) for f in (QUERY, BODY, URI, HEADERS))), Action.BLOCK),
        Rule(
            "embargoed-countries",
            50,
            GeoMatch(("CU", "IR", "KP", "SY")),
            Action.COUNT,
            summary="watch, not block",
            labels=("shop:embargoed-country",),
        ),
        Rule(
            "aws-common",
            60,
            # Our own oversized-body rule (16 KiB) replaces the group's 8 KiB body limit.
            ManagedRuleGroup("AWSManagedRulesCommonRuleSet", excluded_rules=("SizeRestrictions_BODY",)),
            override=Override.NONE,
        ),
        Rule(
            "aws-known-bad-inputs", 70, ManagedRuleGroup("AWSManagedRulesKnownBadInputsRuleSet"), override=Override.NONE
        ),
        Rule("aws-sqli", 80, ManagedRuleGroup("AWSManagedRulesSQLiRuleSet"), override=Override.NONE),
    ),
)
