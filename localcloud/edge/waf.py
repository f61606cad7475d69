"""Evaluate reference/waf.py's web ACL on a request, with WAF's semantics.

Rules run in priority order; the first terminating action (block or allow) decides; a count
action records the match, adds the rule's labels and goes on; no terminating match means the
default action. Statements are compiled once into closures; each request's fields are
extracted and transformed lazily (only when a statement asks) and at most once.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import os
import re
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from urllib.parse import parse_qsl, unquote

from localcloud.edge import managed
from localcloud.edge.detect import is_sqli, is_xss
from localcloud.edge.transforms import TRANSFORMS, apply, latin1
from reference.waf import (
    Action,
    AllOf,
    AnyOf,
    ByteMatch,
    Comparison,
    FieldToMatch,
    GeoMatch,
    InvalidJson,
    IpSetReference,
    JsonScope,
    LabelMatch,
    ManagedRuleGroup,
    Not,
    Override,
    Part,
    Position,
    RateBased,
    Regex,
    RegexMatch,
    Rule,
    SizeConstraint,
    SqliMatch,
    Statement,
    Transform,
    WebAcl,
    XssMatch,
)

BODY_INSPECTION_LIMIT = 16 * 1024  # CloudFront's default: WAF sees the first 16 KiB of a body
ACCOUNT = "123456789012"  # the emulator's account, in label namespaces
DEFAULT_ACTION = "Default_Action"

_COMPARE: dict[Comparison, Callable[[int, int], bool]] = {
    Comparison.GT: lambda a, b: a > b,
    Comparison.GE: lambda a, b: a >= b,
    Comparison.LT: lambda a, b: a < b,
    Comparison.LE: lambda a, b: a <= b,
    Comparison.EQ: lambda a, b: a == b,
    Comparison.NE: lambda a, b: a != b,
}
_TRANSFORMS: dict[Transform, Callable[[str], str]] = TRANSFORMS
INVALID = object()  # a JSON body statement's field when the body is not JSON


def new_request_id() -> str:
    """An id shaped like CloudFront's x-amz-cf-id (56 URL-safe base64 characters)."""
    return base64.urlsafe_b64encode(os.urandom(42)).decode()


@dataclass(slots=True)
class WafRequest:
    """What WAF sees of a request. ``path`` and ``query`` are as sent (still percent-encoded)."""

    method: str
    path: str
    query: str = ""
    headers: list[tuple[str, str]] = field(default_factory=list)  # names lower case
    body: bytes = b""
    client_ip: str = "127.0.0.1"
    country: str | None = None
    request_id: str = field(default_factory=new_request_id)

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key == name:
                return value
        return None


class Inspection:
    """One request's fields, extracted and transformed on first use."""

    __slots__ = ("_memo", "labels", "request")

    def __init__(self, request: WafRequest):
        self.request = request
        self.labels: list[str] = []
        self._memo: dict[object, object] = {}

    def _once(self, key: object, make: Callable[[], object]) -> object:
        try:
            return self._memo[key]
        except KeyError:
            value = self._memo[key] = make()
            return value

    def raw(self, fm: FieldToMatch) -> tuple[str, ...]:
        """The field as WAF sees it, one character per byte; () when it is absent (extracted once per request)."""
        key = (fm.part, fm.name, fm.excluded, fm.scope)  # fields that differ only in transformations share it
        try:
            return self._memo[key]  # type: ignore[return-value]
        except KeyError:
            value = self._memo[key] = self._extract(fm)
            return value  # type: ignore[return-value]

    def _extract(self, fm: FieldToMatch) -> tuple[str, ...]:
        r = self.request
        match fm.part:
            case Part.QUERY:
                return (r.query,)
            case Part.BODY:
                return (self.body_text,)
            case Part.URI:
                return (r.path,)
            case Part.HEADER:
                value = r.header(fm.name or "")
                return () if value is None else (value,)
            case Part.HEADERS:
                return tuple(v for k, v in r.headers if k not in fm.excluded)
            case Part.ALL_QUERY_ARGUMENTS:
                return tuple(pair.partition("=")[2] for pair in r.query.split("&") if pair)
            case Part.JSON_BODY:
                return self.json_values(fm.scope)
            case Part.COOKIES:
                raw = "; ".join(v for k, v in r.headers if k == "cookie")
                return tuple(c.partition("=")[2].strip() for c in raw.split(";") if c.strip())
            case Part.METHOD:
                return (r.method,)
        raise ValueError(fm.part)

    def values(self, fm: FieldToMatch) -> tuple[str, ...]:
        """The field's values after its text transformations, in order."""
        key = id(fm)  # a field lives as long as its compiled web ACL; hashing the dataclass costs more
        try:
            return self._memo[key]  # type: ignore[return-value]
        except KeyError:
            pass
        out = self.raw(fm)
        if fm.part is Part.JSON_BODY and out is INVALID:
            if fm.invalid_json is not InvalidJson.EVALUATE_AS_STRING:
                self._memo[key] = out
                return out
            out = (self.body_text,)
        if fm.transforms:
            out = tuple(_transformed(fm.transforms, v) for v in out)
        self._memo[key] = out
        return out

    def json_values(self, scope: JsonScope) -> tuple[str, ...]:
        """A JSON body's keys and/or values (strings as bytes, other scalars as their JSON text), or INVALID."""

        def make() -> object:
            try:
                doc = json.loads(self.request.body[:BODY_INSPECTION_LIMIT])
            except (ValueError, UnicodeDecodeError):
                return INVALID
            keys: list[str] = []
            values: list[str] = []
            _walk(doc, keys, values)
            return keys, values

        parsed = self._once("json", make)
        if parsed is INVALID:
            return INVALID  # type: ignore[return-value]
        keys, values = parsed  # type: ignore[misc]
        return tuple({JsonScope.KEY: keys, JsonScope.VALUE: values, JsonScope.ALL: keys + values}[scope])

    @property
    def body_text(self) -> str:
        return self._once("body", lambda: latin1(self.request.body[:BODY_INSPECTION_LIMIT]))  # type: ignore[return-value]

    def detect_values(self, fm: FieldToMatch) -> tuple[str, ...]:
        """What the SQLi/XSS detectors read: the field's values, but a query string argument by argument.

        libinjection reads a whole query string as one HTML fragment and flags ``style=casual`` or
        ``filter=red`` at its start as an attribute injection; ModSecurity's CRS feeds it each
        argument's name and value instead, and so does the local edge (an approximation: AWS does
        not publish how its detectors read a query string).
        """
        if fm.part is not Part.QUERY:
            return self.values(fm)

        def make() -> tuple[str, ...]:
            pieces = tuple(p for pair in self.request.query.split("&") for p in pair.split("=", 1) if p)
            for t in fm.transforms:
                pieces = tuple(_TRANSFORMS[t](p) for p in pieces)
            return pieces

        return self._once(("args", fm), make)  # type: ignore[return-value]

    def size(self, fm: FieldToMatch) -> int:
        if fm.part is Part.BODY:
            return len(self.request.body)
        values = self.values(fm)
        return 0 if values is INVALID else sum(len(v) for v in values)

    # The parts the managed rule groups inspect (their own transformations: URL decoding).
    @property
    def query_arguments(self) -> tuple[str, ...]:
        return self._once("args", lambda: tuple(v for _, v in parse_qsl(self.request.query, keep_blank_values=True)))  # type: ignore[return-value]

    @property
    def cookies(self) -> tuple[str, ...]:
        def make() -> tuple[str, ...]:
            raw = "; ".join(v for k, v in self.request.headers if k == "cookie")
            return tuple(unquote(c.partition("=")[2]) for c in raw.split(";") if c.strip())

        return self._once("cookies", make)  # type: ignore[return-value]

    @property
    def uri_decoded(self) -> str:
        return self._once("uri", lambda: unquote(unquote(self.request.path)))  # type: ignore[return-value]

    @property
    def body_decoded(self) -> str:
        return self._once("body-decoded", lambda: unquote(self.body_text))  # type: ignore[return-value]


@dataclass(frozen=True, slots=True)
class Match:
    rule: str
    sub_rule: str | None = None  # the rule of a managed rule group that matched


@dataclass(slots=True)
class Decision:
    action: Action  # ALLOW or BLOCK
    rule: str  # the terminating rule, or Default_Action
    rule_type: str  # REGULAR, RATE_BASED, MANAGED_RULE_GROUP or (default) -
    sub_rule: str | None
    labels: list[str]
    counted: list[Match]
    request_id: str

    @property
    def blocked(self) -> bool:
        return self.action is Action.BLOCK


class RateCounter:
    """Requests per client IP in a sliding window of ``window_s`` seconds.

    Only the newest ``limit + 1`` arrival times are kept per address: the rule matches exactly
    when all of them fall inside the window (more than ``limit`` requests in it), so memory per
    address is bounded whatever the flood.
    """

    def __init__(self, limit: int, window_s: int, clock: Callable[[], float]):
        self.limit, self.window_s, self.clock = limit, window_s, clock
        self._arrivals: dict[str, deque[float]] = {}
        self._seen = 0

    def hit(self, ip: str) -> bool:
        now = self.clock()
        arrivals = self._arrivals.get(ip)
        if arrivals is None:
            arrivals = self._arrivals[ip] = deque(maxlen=self.limit + 1)
        arrivals.append(now)
        self._seen += 1
        if self._seen % 10_000 == 0:
            self._forget_idle(now)
        return len(arrivals) > self.limit and arrivals[0] > now - self.window_s

    def count(self, ip: str) -> int:
        now = self.clock()
        return sum(1 for t in self._arrivals.get(ip, ()) if t > now - self.window_s)

    def _forget_idle(self, now: float) -> None:
        for ip in [ip for ip, a in self._arrivals.items() if a[-1] <= now - self.window_s]:
            del self._arrivals[ip]


MEMO_LIMIT = 2048  # values up to this size (headers, paths, arguments: they repeat) are transformed and matched once


def _transformed(transforms: tuple[Transform, ...], value: str) -> str:
    if len(value) > MEMO_LIMIT:
        return apply(transforms, value)
    return _transformed_memo(transforms, value)


@lru_cache(maxsize=65536)
def _transformed_memo(transforms: tuple[Transform, ...], value: str) -> str:
    return apply(transforms, value)


def _memo_search(regex: re.Pattern[str]) -> Callable[[str], bool]:
    """``regex.search`` as a yes/no, remembered for the short values that come back on every request."""

    @lru_cache(maxsize=65536)
    def short(value: str) -> bool:
        return regex.search(value) is not None

    return lambda value: short(value) if len(value) <= MEMO_LIMIT else regex.search(value) is not None


def _walk(node: object, keys: list[str], values: list[str]) -> None:
    if isinstance(node, dict):
        for k, v in node.items():
            keys.append(k.encode("utf-8", "surrogatepass").decode("latin-1"))
            _walk(v, keys, values)
    elif isinstance(node, list):
        for v in node:
            _walk(v, keys, values)
    elif isinstance(node, str):
        values.append(node.encode("utf-8", "surrogatepass").decode("latin-1"))
    else:
        values.append(json.dumps(node))


Check = Callable[[Inspection], bool]


def _field_check(fm: FieldToMatch, test: Callable[[str], bool], values: Callable[[FieldToMatch], object]) -> Check:
    """A statement over a field: any value matching; a JSON body that is not JSON matches as its fallback says.

    The verdict is remembered per raw field value when it is short: a product page's headers and
    path come back on every request, and the transformations and patterns then run once.
    """
    remembered: dict[tuple[str, ...], bool] = {}

    def evaluate(insp: Inspection) -> bool:
        got = values(insp, fm)  # type: ignore[call-arg]
        if got is INVALID:
            return fm.invalid_json is InvalidJson.MATCH
        return any(test(v) for v in got)  # type: ignore[attr-defined]

    def check(insp: Inspection) -> bool:
        raw = insp.raw(fm)
        if raw is INVALID or sum(map(len, raw)) > MEMO_LIMIT:
            return evaluate(insp)
        verdict = remembered.get(raw)
        if verdict is None:
            if len(remembered) >= 65536:
                remembered.clear()
            verdict = remembered[raw] = evaluate(insp)
        return verdict

    return check


def _byte_test(search: str, position: Position) -> Callable[[str], bool]:
    match position:
        case Position.EXACTLY:
            return lambda v: v == search
        case Position.STARTS_WITH:
            return lambda v: v.startswith(search)
        case Position.ENDS_WITH:
            return lambda v: v.endswith(search)
        case Position.CONTAINS:
            return lambda v: search in v
    word = re.compile(r"(?<![A-Za-z0-9_])" + re.escape(search) + r"(?![A-Za-z0-9_])")
    return lambda v: word.search(v) is not None


class Evaluator:
    """A compiled web ACL; ``evaluate`` gives WAF's decision for one request."""

    def __init__(
        self,
        acl: WebAcl,
        *,
        clock: Callable[[], float] = time.monotonic,
        rate_limit: int | None = None,
        account: str = ACCOUNT,
    ):
        self.acl = acl
        self.clock = clock
        self.rate_limit = rate_limit  # a local override of every rate-based limit (load tests from one address)
        self.label_prefix = f"awswaf:{account}:webacl:{acl.name}:"
        self.ip_sets = {s.name: tuple(ipaddress.ip_network(a, strict=False) for a in s.addresses) for s in acl.ip_sets}
        self.rate_counters: dict[str, RateCounter] = {}
        self.rules = [(rule, self._compile_rule(rule)) for rule in sorted(acl.rules, key=lambda r: r.priority)]

    def _compile_rule(self, rule: Rule) -> Check | managed.Group:
        if isinstance(rule.statement, ManagedRuleGroup):
            return managed.group(rule.statement)
        return self._compile(rule.statement, rule)

    def _compile(self, stmt: Statement, rule: Rule) -> Check:
        match stmt:
            case AnyOf(statements=inner):
                checks = [self._compile(s, rule) for s in inner]
                return lambda insp: any(check(insp) for check in checks)
            case AllOf(statements=inner):
                checks = [self._compile(s, rule) for s in inner]
                return lambda insp: all(check(insp) for check in checks)
            case Not(statement=inner):
                check = self._compile(inner, rule)
                return lambda insp: not check(insp)
            case SqliMatch(field=fm):
                return _field_check(fm, is_sqli, Inspection.detect_values)
            case XssMatch(field=fm):
                return _field_check(fm, is_xss, Inspection.detect_values)
            case RegexMatch(field=fm, regex_set=name):
                regex = re.compile("|".join(f"(?:{p})" for p in self.acl.regex_set(name).patterns))
                return _field_check(fm, _memo_search(regex), Inspection.values)
            case Regex(field=fm, pattern=pattern):
                one = re.compile(pattern)
                return _field_check(fm, _memo_search(one), Inspection.values)
            case ByteMatch(field=fm, search=search, position=position):
                return _field_check(fm, _byte_test(search, position), Inspection.values)
            case SizeConstraint(field=fm, comparison=comparison, size=size):
                compare = _COMPARE[comparison]
                return lambda insp: compare(insp.size(fm), size)
            case IpSetReference(ip_set=name):
                return self._ip_check(self.ip_sets[name])
            case GeoMatch(country_codes=codes):
                return _geo_check(frozenset(codes))
            case LabelMatch(key=key):
                return lambda insp: any(label == key or label.endswith(":" + key) for label in insp.labels)
            case RateBased(limit=limit, window_s=window):
                counter = RateCounter(self.rate_limit or limit, window, self.clock)
                self.rate_counters[rule.name] = counter
                return lambda insp: counter.hit(insp.request.client_ip)
        raise TypeError(f"no local evaluation for {type(stmt).__name__}")

    @staticmethod
    def _ip_check(networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]) -> Check:
        @lru_cache(maxsize=4096)
        def listed(ip: str) -> bool:
            try:
                address = ipaddress.ip_address(ip)
            except ValueError:
                return False
            return any(address in n for n in networks)

        return lambda insp: bool(networks) and listed(insp.request.client_ip)

    def evaluate(self, request: WafRequest) -> Decision:
        insp = Inspection(request)
        counted: list[Match] = []
        for rule, check in self.rules:
            if isinstance(check, managed.Group):
                decision = self._evaluate_group(rule, check, insp, counted)
                if decision is not None:
                    return decision
                continue
            if not check(insp):
                continue
            insp.labels.extend(self.label_prefix + label for label in rule.labels)
            if rule.action is Action.COUNT:
                counted.append(Match(rule.name))
                continue
            kind = "RATE_BASED" if isinstance(rule.statement, RateBased) else "REGULAR"
            return Decision(rule.action, rule.name, kind, None, insp.labels, counted, request.request_id)  # type: ignore[arg-type]
        action = self.acl.default_action
        return Decision(action, DEFAULT_ACTION, "-", None, insp.labels, counted, request.request_id)

    def _evaluate_group(
        self, rule: Rule, group: managed.Group, insp: Inspection, counted: list[Match]
    ) -> Decision | None:
        excluded = set(rule.statement.excluded_rules)  # type: ignore[union-attr]
        for sub in group.rules:
            if sub.name in managed.NOT_EVALUATED or not sub.check(insp):
                continue
            insp.labels.append(group.label_namespace + sub.label)
            if sub.name in excluded or rule.override is Override.COUNT:
                counted.append(Match(rule.name, sub.name))
                continue
            return Decision(
                Action.BLOCK, rule.name, "MANAGED_RULE_GROUP", sub.name, insp.labels, counted, insp.request.request_id
            )
        return None

    def rule_names(self) -> list[str]:
        return [rule.name for rule, _ in self.rules]


def _geo_check(codes: frozenset[str]) -> Check:
    def check(insp: Inspection) -> bool:
        country = insp.request.country
        if not country:
            return False
        label = f"awswaf:clientip:geo:country:{country}"
        if label not in insp.labels:  # WAF labels every request a geo statement looks at
            insp.labels.append(label)
        return country in codes

    return check
