"""The web ACL in front of CloudFront, as data: cfn/edge renders it, a local evaluator can run it.

The vocabulary is the part of AWS WAFv2 the shop uses, kept engine-neutral: a rule has a
priority, a statement and an action (or, for a managed rule group, an override action).
Statements match one part of the request (``FieldToMatch``) after text transformations.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from reference import waf_patterns as _patterns
from reference.edge import API_METHODS  # every method a behaviour takes; anything else is a probe (PROPFIND)


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
    ALL_QUERY_ARGUMENTS = "all-query-arguments"  # each query argument's value, one by one
    JSON_BODY = "json-body"  # the body parsed as JSON: each key and/or value, one by one (FieldToMatch.scope)
    COOKIES = "cookies"  # each cookie's value, one by one
    METHOD = "method"


class Transform(StrEnum):
    """Text transformations, applied in order before matching (AWS's names: the value upper-cased, _ for -)."""

    URL_DECODE = "url-decode"
    URL_DECODE_UNI = "url-decode-uni"  # also %uHHHH (Microsoft)
    HTML_ENTITY_DECODE = "html-entity-decode"
    JS_DECODE = "js-decode"  # \uHHHH, \xHH, \OOO, \n ...
    BASE64_DECODE = "base64-decode"
    BASE64_DECODE_EXT = "base64-decode-ext"  # ignores characters that are not base64
    CMD_LINE = "cmd-line"  # deletes \ " ' ^, spaces before / and (, "," and ";" to space, lower case
    REPLACE_NULLS = "replace-nulls"  # NUL -> space
    REMOVE_NULLS = "remove-nulls"
    NORMALIZE_PATH = "normalize-path"  # collapses //, /./ and /x/../
    NORMALIZE_PATH_WIN = "normalize-path-win"  # the same after \ -> /
    LOWERCASE = "lowercase"
    COMPRESS_WHITE_SPACE = "compress-white-space"

    @property
    def aws(self) -> str:
        return self.value.upper().replace("-", "_")


class JsonScope(StrEnum):
    """What a JSON body statement inspects (JsonBody.MatchScope)."""

    ALL = "ALL"
    KEY = "KEY"
    VALUE = "VALUE"


class InvalidJson(StrEnum):
    """What a JSON body statement does with a body that is not JSON (JsonBody.InvalidFallbackBehavior)."""

    MATCH = "MATCH"
    NO_MATCH = "NO_MATCH"
    EVALUATE_AS_STRING = "EVALUATE_AS_STRING"


class Sensitivity(StrEnum):
    LOW = "LOW"
    HIGH = "HIGH"


class Position(StrEnum):
    """Where a byte match's search string must sit (ByteMatchStatement.PositionalConstraint)."""

    EXACTLY = "EXACTLY"
    STARTS_WITH = "STARTS_WITH"
    ENDS_WITH = "ENDS_WITH"
    CONTAINS = "CONTAINS"
    CONTAINS_WORD = "CONTAINS_WORD"


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
    scope: JsonScope = JsonScope.VALUE  # JSON_BODY only
    invalid_json: InvalidJson = InvalidJson.EVALUATE_AS_STRING  # JSON_BODY only


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
    sensitivity: Sensitivity = Sensitivity.LOW


@dataclass(frozen=True, slots=True)
class XssMatch:
    field: FieldToMatch


@dataclass(frozen=True, slots=True)
class RegexMatch:
    """Any regular expression of the named regex pattern set (WebAcl.regex_sets) matches the field."""

    field: FieldToMatch
    regex_set: str


@dataclass(frozen=True, slots=True)
class Regex:
    """One regular expression (up to 512 characters) matches the field (WAF's RegexMatchStatement)."""

    field: FieldToMatch
    pattern: str


@dataclass(frozen=True, slots=True)
class ByteMatch:
    """The field (after its transformations) holds ``search`` where ``position`` says."""

    field: FieldToMatch
    search: str
    position: Position = Position.CONTAINS


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


@dataclass(frozen=True, slots=True)
class AllOf:
    """Matches when every one of its statements matches (WAF's AndStatement)."""

    statements: tuple[Statement, ...]


@dataclass(frozen=True, slots=True)
class Not:
    """Matches when its statement does not (WAF's NotStatement)."""

    statement: Statement


Statement = (
    RateBased
    | SizeConstraint
    | SqliMatch
    | XssMatch
    | RegexMatch
    | Regex
    | ByteMatch
    | IpSetReference
    | GeoMatch
    | LabelMatch
    | ManagedRuleGroup
    | AnyOf
    | AllOf
    | Not
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
class RegexSet:
    """A regex pattern set: up to 10 regular expressions of up to 200 characters (AWS's limits)."""

    name: str
    patterns: tuple[str, ...]
    purpose: str = ""


@dataclass(frozen=True, slots=True)
class WebAcl:
    name: str
    default_action: Action
    rules: tuple[Rule, ...]
    ip_sets: tuple[IpSet, ...] = ()
    metric_name: str = "shop-web-acl"  # the WebACL dimension of its CloudWatch metrics
    regex_sets: tuple[RegexSet, ...] = ()

    def rule(self, name: str) -> Rule:
        return next(r for r in self.rules if r.name == name)

    def regex_set(self, name: str) -> RegexSet:
        return next(s for s in self.regex_sets if s.name == name)


def check_web_acl(acl: WebAcl) -> list[str]:
    """Every inconsistency of the web ACL as a sentence; empty when it can be rendered and evaluated."""
    problems: list[str] = []
    priorities = [r.priority for r in acl.rules]
    if len(set(priorities)) != len(priorities):
        problems.append("two rules share a priority")
    ip_sets = {s.name for s in acl.ip_sets}
    regex_sets = {s.name for s in acl.regex_sets}
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
            if isinstance(stmt, Regex) and (len(stmt.pattern) > 512 or check_patterns((stmt.pattern[:200],))):
                problems.append(f"rule {rule.name}: a regular expression AWS would refuse or read differently")
            if isinstance(stmt, RegexMatch) and stmt.regex_set not in regex_sets:
                problems.append(f"rule {rule.name} references unknown regex pattern set {stmt.regex_set}")
            if field is not None and len(field.transforms) > 10:
                problems.append(f"rule {rule.name}: WAF applies at most 10 text transformations")
    for regex_set in acl.regex_sets:
        problems += [f"regex pattern set {regex_set.name}: {p}" for p in check_patterns(regex_set.patterns)]
    unpriced = [s.name for r in acl.rules for s in _flatten(r.statement) if isinstance(s, ManagedRuleGroup)
                and s.name not in MANAGED_CAPACITY]  # fmt: skip
    problems += [f"no published capacity for the managed rule group {n}" for n in unpriced]
    total = 0 if unpriced else sum(capacity(acl).values())
    if total > MAX_CAPACITY:
        problems.append(f"the web ACL needs {total} WCU, more than the {MAX_CAPACITY} its base price covers")
    return problems


# What AWS's regex engine refuses (the WAF Developer Guide, "Supported regular expression syntax"):
# backreferences and capturing groups, lookaround, atomic groups and possessive quantifiers.
_UNSUPPORTED = re.compile(r"(?<!\\)\((?!\?:)|\(\?[=!<>]|\\[1-9]|[*+?}]\+|\\[CRK]")


def check_patterns(patterns: tuple[str, ...]) -> list[str]:
    """Why a regex pattern set would not deploy, or behave differently in AWS than here."""
    problems = []
    if not 1 <= len(patterns) <= 10:
        problems.append(f"holds {len(patterns)} regular expressions (1 to 10)")
    for pattern in patterns:
        if len(pattern) > 200:
            problems.append(f"{pattern[:30]}...: {len(pattern)} characters (at most 200)")
        if _UNSUPPORTED.search(pattern.replace("\\\\", "")):
            problems.append(f"{pattern[:30]}...: a construct AWS's regex engine does not support")
        try:
            re.compile(pattern)
        except re.error as exc:
            problems.append(f"{pattern[:30]}...: {exc}")
    return problems


def _flatten(stmt: Statement) -> tuple[Statement, ...]:
    if isinstance(stmt, AnyOf | AllOf):
        return tuple(s for inner in stmt.statements for s in _flatten(inner))
    if isinstance(stmt, Not):
        return _flatten(stmt.statement)
    return (stmt,)


# --------------------------------------------------------------------------- capacity (WCU)

MAX_CAPACITY = 1500  # WCU a web ACL's base price covers; each 500 more adds $0.20 per million requests
# AWS's published costs (WAF Developer Guide, "Web ACL capacity units"): rule groups by name,
# statements by kind; text transformations +10 each; all query arguments +10; a JSON body doubles the base.
MANAGED_CAPACITY = {
    "AWSManagedRulesCommonRuleSet": 700,
    "AWSManagedRulesKnownBadInputsRuleSet": 200,
    "AWSManagedRulesSQLiRuleSet": 200,
    "AWSManagedRulesLinuxRuleSet": 200,
    "AWSManagedRulesUnixRuleSet": 100,
    "AWSManagedRulesPHPRuleSet": 100,
    "AWSManagedRulesWindowsRuleSet": 200,
    "AWSManagedRulesAdminProtectionRuleSet": 100,
    "AWSManagedRulesWordPressRuleSet": 100,
    "AWSManagedRulesAmazonIpReputationList": 25,
    "AWSManagedRulesAnonymousIpList": 50,
    "AWSManagedRulesBotControlRuleSet": 50,
}
_BYTE_MATCH = {Position.EXACTLY: 2, Position.STARTS_WITH: 2, Position.ENDS_WITH: 2, Position.CONTAINS: 10,
               Position.CONTAINS_WORD: 10}  # fmt: skip


def statement_capacity(stmt: Statement) -> int:
    """The WCU of one statement, as AWS's capacity table prices it."""
    match stmt:
        case AnyOf(statements=inner) | AllOf(statements=inner):
            return 1 + sum(statement_capacity(s) for s in inner)
        case Not(statement=inner):
            return 1 + statement_capacity(inner)
        case ManagedRuleGroup(name=name):
            return MANAGED_CAPACITY[name]
        case RateBased():
            return 2
        case SizeConstraint(field=field):
            return 1 + 10 * len(field.transforms)
        case IpSetReference() | GeoMatch() | LabelMatch():
            return 1
        case SqliMatch(field=field, sensitivity=sensitivity):
            return _field_cost(20 if sensitivity is Sensitivity.LOW else 30, field)
        case XssMatch(field=field):
            return _field_cost(40, field)
        case RegexMatch(field=field):
            return _field_cost(25, field)
        case Regex(field=field):
            return _field_cost(3, field)
        case ByteMatch(field=field, position=position):
            return _field_cost(_BYTE_MATCH[position], field)
    raise TypeError(stmt)


def _field_cost(base: int, field: FieldToMatch) -> int:
    base *= 2 if field.part is Part.JSON_BODY else 1
    base += 10 if field.part is Part.ALL_QUERY_ARGUMENTS else 0
    return base + 10 * len(field.transforms)


def capacity(acl: WebAcl) -> dict[str, int]:
    """Each rule's WCU; their sum is the web ACL's capacity."""
    return {rule.name: statement_capacity(rule.statement) for rule in acl.rules}


# What the pattern sets read: each field decoded every way an attacker may encode it, then lower case.
# A query string or path: %xx first (a JavaScript escape may arrive as %5Cu003c), then JavaScript escapes
# (\\u003c), %xx again (%2527 is a classic of the public bypass lists), HTML entities (&#x3c;). A body: its
# JSON escapes first. Headers are rarely URL-encoded twice. Each transformation costs 10 WCU a statement.
_T = Transform
_U, _J, _H, _L = _T.URL_DECODE_UNI, _T.JS_DECODE, _T.HTML_ENTITY_DECODE, _T.LOWERCASE
# Argument by argument for shell syntax: a raw query string's own & would read as a shell operator (&cat=...).
ARGUMENTS = FieldToMatch(Part.ALL_QUERY_ARGUMENTS, transforms=(_U, _J, _U, _H, _L))
QUERY_TEXT = FieldToMatch(Part.QUERY, transforms=(_U, _J, _U, _H, _L))
BODY_TEXT = FieldToMatch(Part.BODY, transforms=(_J, _U, _U, _H, _L))
PATH = FieldToMatch(Part.URI, transforms=(_U, _J, _U, _H, _L))
HEADER_VALUES = FieldToMatch(Part.HEADERS, transforms=(_U, _J, _H, _L), excluded=("authorization", "cookie"))
# For SSRF targets: the browser's own Referer and Origin name the shop's address (127.0.0.1 locally, a private
# address behind a VPN), which the address patterns would read as a target; nothing here fetches them.
HEADERS_BUT_SITE_URLS = FieldToMatch(
    Part.HEADERS, transforms=(_U, _J, _H, _L), excluded=("authorization", "cookie", "referer", "origin")
)
COOKIE_VALUES = FieldToMatch(Part.COOKIES, transforms=(_U, _L))
METHOD = FieldToMatch(Part.METHOD)
USER_AGENT = FieldToMatch(Part.HEADER, "user-agent")
# Base64 runs are case-sensitive and read raw (a JSON body's \\u escapes aside).
RAW = (
    FieldToMatch(Part.QUERY),
    FieldToMatch(Part.BODY, transforms=(_T.JS_DECODE,)),
    FieldToMatch(Part.URI),
    FieldToMatch(Part.HEADERS, excluded=("authorization", "cookie")),
)


def _regex_rule(name: str, priority: int, regex_set: str, fields: tuple[FieldToMatch, ...], summary: str) -> Rule:
    return Rule(name, priority, AnyOf(tuple(RegexMatch(f, regex_set) for f in fields)), Action.BLOCK, summary=summary)


WEB_ACL = WebAcl(
    name="edge",
    default_action=Action.ALLOW,
    ip_sets=(IpSet("blocked-ips", purpose="addresses an operator blocks by hand during an incident"),),
    regex_sets=(
        RegexSet("code-injection", _patterns.CODE, "shell commands, PHP, templates, Java, NoSQL, LDAP, SSI, XXE"),
        RegexSet("web-injection", _patterns.WEB, "SQL, script in markup, paths out of the web root"),
        RegexSet(
            "ssrf-crlf-files", _patterns.NETWORK, "SSRF targets and callbacks, CRLF and mail commands, sensitive files"
        ),
        RegexSet("base64-payloads", _patterns.base64_patterns(), "attack syntax Base64-encoded"),
    ),
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
        Rule(
            "oversized-query",
            22,
            SizeConstraint(FieldToMatch(Part.QUERY), Comparison.GT, 2048),
            Action.BLOCK,
            summary="a search or a page of filters is short",
        ),
        Rule(
            "oversized-path",
            23,
            SizeConstraint(FieldToMatch(Part.URI), Comparison.GT, 1024),
            Action.BLOCK,
            summary="the shop's paths are short",
        ),
        Rule(
            "no-user-agent",
            24,
            Not(SizeConstraint(USER_AGENT, Comparison.GT, 0)),
            Action.BLOCK,
            summary="every browser and the shop's clients send one",
        ),
        Rule(
            "scanners",
            26,
            Regex(FieldToMatch(Part.HEADER, "user-agent", (_T.LOWERCASE,)), _patterns.SCANNERS),
            Action.BLOCK,
            summary="vulnerability scanners and fuzzers by their user agents",
        ),
        Rule(
            "restricted-extensions",
            27,
            Regex(FieldToMatch(Part.URI, transforms=(_U, _L)), _patterns.RESTRICTED_EXTENSIONS),
            Action.BLOCK,
            summary="backups, dumps, logs, keys and configuration files",
        ),
        Rule(
            "unknown-method",
            25,
            Not(Regex(METHOD, "^(?:" + "|".join(API_METHODS) + ")$")),
            Action.BLOCK,
            summary="WebDAV and other methods no behaviour serves",
        ),
        _regex_rule(
            "code-injection",
            30,
            "code-injection",
            (ARGUMENTS, BODY_TEXT, PATH, HEADER_VALUES, COOKIE_VALUES),
            "shell commands, PHP, templates, Java (Log4Shell), NoSQL, LDAP, SSI, XXE",
        ),
        _regex_rule(
            "web-injection",
            31,
            "web-injection",
            (QUERY_TEXT, BODY_TEXT, PATH, HEADER_VALUES, COOKIE_VALUES),
            "SQL, script in markup, paths out of the web root",
        ),
        _regex_rule(
            "ssrf-crlf-files",
            32,
            "ssrf-crlf-files",
            (QUERY_TEXT, BODY_TEXT, PATH, HEADERS_BUT_SITE_URLS, COOKIE_VALUES),
            "SSRF (metadata, private and obfuscated addresses, callbacks), CRLF, mail commands, sensitive files",
        ),
        _regex_rule("base64-payloads", 33, "base64-payloads", RAW, "the same attacks Base64-encoded"),
        Rule(
            "embargoed-countries",
            50,
            GeoMatch(("CU", "IR", "KP", "SY")),
            Action.COUNT,
            summary="watch, not block",
            labels=("shop:embargoed-country",),
        ),
        # AWS-maintained Log4Shell, Java deserialisation and exploitable-path rules (and checkov's CKV_AWS_192).
        # The core rule set (700 WCU) is not used: its XSS rules read any markup in a search or a review as
        # script, and the rules above and below cover the rest of what it looks for, evaluated exactly.
        Rule(
            "aws-known-bad-inputs", 60, ManagedRuleGroup("AWSManagedRulesKnownBadInputsRuleSet"), override=Override.NONE
        ),
    ),
)
