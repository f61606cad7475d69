"""Local approximations of the AWS managed rule groups the web ACL enables.

AWS publishes each group's rule names, labels and what they look for, not the patterns
themselves. Here each rule keeps AWS's name and label and is approximated: SQLi and XSS by
libinjection (the detector behind ModSecurity's @detectSQLi/@detectXSS and the OWASP CRS),
the rest by short patterns written from AWS's descriptions ("Example patterns include nessus
and nmap"). An approximation: a request one blocks the other may pass (docs/edge.md).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import unquote

from localcloud.edge.detect import is_sqli, is_xss
from reference.waf import ManagedRuleGroup

if TYPE_CHECKING:
    from localcloud.edge.waf import Inspection

# Rules not evaluated locally, and why (docs/edge.md): the local edge answers on localhost itself.
NOT_EVALUATED = frozenset({"Host_localhost_HEADER"})


@dataclass(frozen=True, slots=True)
class SubRule:
    name: str  # AWS's rule name, as RuleActionOverrides name it
    label: str  # AWS's label name, under the group's namespace
    check: Callable[[Inspection], bool]


@dataclass(frozen=True, slots=True)
class Group:
    name: str
    label_namespace: str
    rules: tuple[SubRule, ...]


def _search(pattern: str, flags: int = re.IGNORECASE) -> Callable[[str], bool]:
    compiled = re.compile(pattern, flags)
    return lambda text: compiled.search(text) is not None


def _any(values: Callable[[Inspection], tuple[str, ...] | list[str]], test: Callable[[str], bool]) -> Callable:
    return lambda insp: any(test(v) for v in values(insp))


def _one(value: Callable[[Inspection], str], test: Callable[[str], bool]) -> Callable:
    return lambda insp: test(value(insp))


def _args(insp: Inspection) -> tuple[str, ...]:
    return insp.query_arguments


def _cookies(insp: Inspection) -> tuple[str, ...]:
    return insp.cookies


def _uri(insp: Inspection) -> str:
    return insp.uri_decoded


def _body(insp: Inspection) -> str:
    return insp.body_decoded


def _headers(insp: Inspection) -> tuple[str, ...]:
    return tuple(v for _, v in insp.request.headers)


def _query(insp: Inspection) -> str:
    return unquote(insp.request.query)


def _size_over(part: Callable[[Inspection], int], limit: int) -> Callable[[Inspection], bool]:
    return lambda insp: part(insp) > limit


BAD_BOTS = _search(
    r"nessus|nmap|nikto|sqlmap|masscan|zgrab|dirbuster|gobuster|wpscan|acunetix|netsparker|nuclei|w3af|openvas"
    r"|havij|fimap|zmeu|jorgee|morfeus|paros|webshag|whatweb"
)
LFI = _search(r"(?:^|[/\\])\.\.(?:[/\\]|$)|/etc/(?:passwd|shadow|hosts)\b|\bwin\.ini\b|/proc/self/")
RESTRICTED_EXTENSION = _search(
    r"\.(?:log|ini|bak|backup|old|orig|swp|cfg|conf|config|sql|db|sqlite|env|htaccess|htpasswd|pem|key)$"
)
RFI = _search(r"^\s*(?:https?|ftp|php|file)://\d{1,3}(?:\.\d{1,3}){3}")
METADATA_SSRF = _search(r"169\.254\.169\.254|fd00:ec2::254|metadata\.google\.internal")
JAVA_DESERIALIZATION = _search(r"rO0AB|aced0005|java\.lang\.(?:Runtime|ProcessBuilder)|ysoserial", 0)
EXPLOITABLE_PATH = _search(r"/(?:web-inf|meta-inf)(?:/|$)|/\.(?:git|svn|hg)(?:/|$)")
LOG4J = _search(r"\$\{[^}]{0,40}?(?:jndi|lower:|upper:|env:|sys:|::-)")
SQLI_EXTENDED = _search(
    r"\bunion\b[\s\S]{0,40}\bselect\b|\b(?:pg_)?sleep\s*\(\s*\d|\bbenchmark\s*\(|\bwaitfor\s+delay\b"
    r"|\binformation_schema\b|\bload_file\s*\(|\binto\s+(?:out|dump)file\b|\bxp_cmdshell\b"
)


def _common() -> Group:
    xss = is_xss
    ua = lambda insp: insp.request.header("user-agent")  # noqa: E731
    rules = (
        SubRule("NoUserAgent_HEADER", "NoUserAgent_Header", lambda insp: not (ua(insp) or "").strip()),
        SubRule("UserAgent_BadBots_HEADER", "BadBots_Header", lambda insp: BAD_BOTS(ua(insp) or "")),
        SubRule("SizeRestrictions_QUERYSTRING", "SizeRestrictions_QueryString",
                _size_over(lambda insp: len(insp.request.query), 2048)),
        SubRule("SizeRestrictions_Cookie_HEADER", "SizeRestrictions_Cookie_Header",
                _size_over(lambda insp: len(insp.request.header("cookie") or ""), 10240)),
        SubRule("SizeRestrictions_BODY", "SizeRestrictions_Body",
                _size_over(lambda insp: len(insp.request.body), 8192)),
        SubRule("SizeRestrictions_URIPATH", "SizeRestrictions_URIPath",
                _size_over(lambda insp: len(insp.request.path), 1024)),
        SubRule("EC2MetaDataSSRF_BODY", "EC2MetaDataSSRF_Body", _one(_body, METADATA_SSRF)),
        SubRule("EC2MetaDataSSRF_COOKIE", "EC2MetaDataSSRF_Cookie", _any(_cookies, METADATA_SSRF)),
        SubRule("EC2MetaDataSSRF_URIPATH", "EC2MetaDataSSRF_URIPath", _one(_uri, METADATA_SSRF)),
        SubRule("EC2MetaDataSSRF_QUERYARGUMENTS", "EC2MetaDataSSRF_QueryArguments", _any(_args, METADATA_SSRF)),
        SubRule("GenericLFI_QUERYARGUMENTS", "GenericLFI_QueryArguments", _any(_args, LFI)),
        SubRule("GenericLFI_URIPATH", "GenericLFI_URIPath", _one(_uri, LFI)),
        SubRule("GenericLFI_BODY", "GenericLFI_Body", _one(_body, LFI)),
        SubRule("RestrictedExtensions_URIPATH", "RestrictedExtensions_URIPath", _one(_uri, RESTRICTED_EXTENSION)),
        SubRule("RestrictedExtensions_QUERYARGUMENTS", "RestrictedExtensions_QueryArguments",
                _any(_args, RESTRICTED_EXTENSION)),
        SubRule("GenericRFI_QUERYARGUMENTS", "GenericRFI_QueryArguments", _any(_args, RFI)),
        SubRule("GenericRFI_BODY", "GenericRFI_Body", _one(_body, RFI)),
        SubRule("GenericRFI_URIPATH", "GenericRFI_URIPath", _one(_uri, RFI)),
        SubRule("CrossSiteScripting_COOKIE", "CrossSiteScripting_Cookie", _any(_cookies, xss)),
        SubRule("CrossSiteScripting_QUERYARGUMENTS", "CrossSiteScripting_QueryArguments", _any(_args, xss)),
        SubRule("CrossSiteScripting_BODY", "CrossSiteScripting_Body", _one(_body, xss)),
        SubRule("CrossSiteScripting_URIPATH", "CrossSiteScripting_URIPath", _one(_uri, xss)),
    )  # fmt: skip
    return Group("AWSManagedRulesCommonRuleSet", "awswaf:managed:aws:core-rule-set:", rules)


def _known_bad_inputs() -> Group:
    rules = (
        SubRule("JavaDeserializationRCE_HEADER", "JavaDeserializationRCE_Header", _any(_headers, JAVA_DESERIALIZATION)),
        SubRule("JavaDeserializationRCE_BODY", "JavaDeserializationRCE_Body", _one(_body, JAVA_DESERIALIZATION)),
        SubRule("JavaDeserializationRCE_URIPATH", "JavaDeserializationRCE_URIPath", _one(_uri, JAVA_DESERIALIZATION)),
        SubRule("JavaDeserializationRCE_QUERYSTRING", "JavaDeserializationRCE_QueryString",
                _one(_query, JAVA_DESERIALIZATION)),
        SubRule("Host_localhost_HEADER", "Host_Localhost_Header",
                lambda insp: (insp.request.header("host") or "").split(":")[0] == "localhost"),
        SubRule("PROPFIND_METHOD", "Propfind_Method", lambda insp: insp.request.method.upper() == "PROPFIND"),
        SubRule("ExploitablePaths_URIPATH", "ExploitablePaths_URIPath", _one(_uri, EXPLOITABLE_PATH)),
        SubRule("Log4JRCE_HEADER", "Log4JRCE_Header", _any(_headers, LOG4J)),
        SubRule("Log4JRCE_QUERYSTRING", "Log4JRCE_QueryString", _one(_query, LOG4J)),
        SubRule("Log4JRCE_BODY", "Log4JRCE_Body", _one(_body, LOG4J)),
        SubRule("Log4JRCE_URIPATH", "Log4JRCE_URIPath", _one(_uri, LOG4J)),
    )  # fmt: skip
    return Group("AWSManagedRulesKnownBadInputsRuleSet", "awswaf:managed:aws:known-bad-inputs:", rules)


def _sql_database() -> Group:
    sqli = is_sqli
    rules = (
        SubRule("SQLi_QUERYARGUMENTS", "SQLi_QueryArguments", _any(_args, sqli)),
        SubRule("SQLiExtendedPatterns_QUERYARGUMENTS", "SQLiExtendedPatterns_QueryArguments",
                _any(_args, SQLI_EXTENDED)),
        SubRule("SQLi_BODY", "SQLi_Body", _one(_body, sqli)),
        SubRule("SQLiExtendedPatterns_BODY", "SQLiExtendedPatterns_Body", _one(_body, SQLI_EXTENDED)),
        SubRule("SQLi_COOKIE", "SQLi_Cookie", _any(_cookies, sqli)),
        SubRule("SQLi_URIPATH", "SQLi_URIPath", _one(_uri, sqli)),
    )  # fmt: skip
    return Group("AWSManagedRulesSQLiRuleSet", "awswaf:managed:aws:sql-database:", rules)


GROUPS: dict[str, Callable[[], Group]] = {
    "AWSManagedRulesCommonRuleSet": _common,
    "AWSManagedRulesKnownBadInputsRuleSet": _known_bad_inputs,
    "AWSManagedRulesSQLiRuleSet": _sql_database,
}


def group(stmt: ManagedRuleGroup) -> Group:
    """The local approximation of a managed rule group; an unknown group is an error, not a silent pass."""
    if stmt.vendor != "AWS" or stmt.name not in GROUPS:
        raise ValueError(f"no local approximation of the managed rule group {stmt.vendor}/{stmt.name}")
    return GROUPS[stmt.name]()
