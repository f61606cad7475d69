"""WAF semantics of the local evaluator, and one source of rules for the evaluator and the CloudFormation renderer."""

from __future__ import annotations

import dataclasses
import json

import pytest

from localcloud.edge.waf import DEFAULT_ACTION, Evaluator, WafRequest
from reference.waf import (
    WEB_ACL,
    Action,
    AnyOf,
    Comparison,
    FieldToMatch,
    GeoMatch,
    IpSet,
    IpSetReference,
    LabelMatch,
    ManagedRuleGroup,
    Override,
    Part,
    RateBased,
    Rule,
    SizeConstraint,
    SqliMatch,
    Transform,
    WebAcl,
    XssMatch,
    check_web_acl,
)

UA = [("user-agent", "Mozilla/5.0")]
Q = FieldToMatch(Part.QUERY)


def acl(*rules: Rule, ip_sets: tuple[IpSet, ...] = ()) -> WebAcl:
    web_acl = WebAcl("test", Action.ALLOW, rules, ip_sets)
    assert check_web_acl(web_acl) == []
    return web_acl


def get(query: str = "", **kw: object) -> WafRequest:
    return WafRequest("GET", kw.pop("path", "/api/x"), query, kw.pop("headers", UA), **kw)  # type: ignore[arg-type]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_rules_run_in_priority_order_not_in_the_order_written() -> None:
    evaluator = Evaluator(
        acl(Rule("later", 20, SqliMatch(Q), Action.BLOCK), Rule("first", 10, SqliMatch(Q), Action.BLOCK))
    )
    assert evaluator.evaluate(get("id=1' or '1'='1")).rule == "first"


def test_the_first_terminating_action_wins_even_an_allow_before_a_block() -> None:
    evaluator = Evaluator(acl(
        Rule("trusted-office", 1, IpSetReference("office"), Action.ALLOW),
        Rule("sqli", 2, SqliMatch(Q), Action.BLOCK),
        ip_sets=(IpSet("office", ("203.0.113.0/24",)),),
    ))  # fmt: skip
    assert evaluator.evaluate(get("id=1' or '1'='1", client_ip="203.0.113.9")).action is Action.ALLOW
    assert evaluator.evaluate(get("id=1' or '1'='1", client_ip="198.51.100.9")).rule == "sqli"


def test_a_count_rule_records_its_match_adds_its_labels_and_evaluation_goes_on() -> None:
    evaluator = Evaluator(acl(
        Rule("watch-sqli", 1, SqliMatch(Q), Action.COUNT, labels=("suspect",)),
        Rule("block-suspects-with-xss", 2, AnyOf((LabelMatch("suspect"),)), Action.COUNT),
        Rule("block-labelled", 3, LabelMatch("suspect"), Action.BLOCK),
    ))  # fmt: skip
    decision = evaluator.evaluate(get("id=1' or '1'='1"))
    assert (decision.action, decision.rule) == (Action.BLOCK, "block-labelled")
    assert [m.rule for m in decision.counted] == ["watch-sqli", "block-suspects-with-xss"]
    assert "awswaf:123456789012:webacl:test:suspect" in decision.labels
    clean = evaluator.evaluate(get("q=shoes"))
    assert (clean.action, clean.rule, clean.counted) == (Action.ALLOW, DEFAULT_ACTION, [])


@pytest.mark.parametrize(
    ("transforms", "query", "blocked"),
    [
        ((), "q=%3Cscript%3Ealert(1)%3C/script%3E", False),
        ((Transform.URL_DECODE,), "q=%3Cscript%3Ealert(1)%3C/script%3E", True),
        ((Transform.URL_DECODE,), "q=&lt;script&gt;alert(1)&lt;/script&gt;", False),
        ((Transform.URL_DECODE, Transform.HTML_ENTITY_DECODE), "q=%26lt;script%26gt;alert(1)%26lt;/script%26gt;", True),
    ],
)
def test_text_transformations_apply_in_order_before_matching(
    transforms: tuple[Transform, ...], query: str, blocked: bool
) -> None:
    evaluator = Evaluator(acl(Rule("xss", 1, XssMatch(FieldToMatch(Part.QUERY, transforms=transforms)), Action.BLOCK)))
    assert evaluator.evaluate(get(query)).blocked is blocked


def test_lowercase_and_white_space_compression_feed_a_size_constraint() -> None:
    field = FieldToMatch(Part.HEADER, "x-note", (Transform.COMPRESS_WHITE_SPACE,))
    evaluator = Evaluator(acl(Rule("short-notes", 1, SizeConstraint(field, Comparison.GT, 5), Action.BLOCK)))
    assert not evaluator.evaluate(get(headers=[*UA, ("x-note", "a      b")])).blocked  # "a b": 3 bytes
    assert evaluator.evaluate(get(headers=[*UA, ("x-note", "abcdef")])).blocked
    assert not evaluator.evaluate(get()).blocked  # no header, nothing to measure


def test_a_body_size_limit_blocks_one_byte_over_and_passes_the_limit_itself() -> None:
    rule = Rule("big", 1, SizeConstraint(FieldToMatch(Part.BODY), Comparison.GT, 100), Action.BLOCK)
    evaluator = Evaluator(acl(rule))
    assert not evaluator.evaluate(WafRequest("POST", "/api/x", "", UA, b"x" * 100)).blocked
    assert evaluator.evaluate(WafRequest("POST", "/api/x", "", UA, b"x" * 101)).blocked


def test_an_ip_set_matches_its_cidrs_only() -> None:
    evaluator = Evaluator(acl(Rule("deny", 1, IpSetReference("bad"), Action.BLOCK),
                              ip_sets=(IpSet("bad", ("192.0.2.0/28",)),)))  # fmt: skip
    assert evaluator.evaluate(get(client_ip="192.0.2.15")).rule == "deny"
    assert not evaluator.evaluate(get(client_ip="192.0.2.16")).blocked


def test_a_geo_rule_reads_the_country_and_labels_every_request_it_looks_at() -> None:
    evaluator = Evaluator(acl(Rule("no-kp", 1, GeoMatch(("KP",)), Action.BLOCK)))
    assert evaluator.evaluate(get(country="KP")).rule == "no-kp"
    allowed = evaluator.evaluate(get(country="FR"))
    assert not allowed.blocked
    assert "awswaf:clientip:geo:country:FR" in allowed.labels
    assert not evaluator.evaluate(get()).blocked  # no country known: no match


def test_the_rate_rule_blocks_past_the_limit_within_its_window_and_forgets_after_it() -> None:
    clock = Clock()
    evaluator = Evaluator(acl(Rule("rate", 1, RateBased(limit=100, window_s=60), Action.BLOCK)), clock=clock)
    for _ in range(100):
        assert not evaluator.evaluate(get(client_ip="198.51.100.7")).blocked
        clock.now += 0.5  # 100 requests over 50 s
    assert evaluator.evaluate(get(client_ip="198.51.100.7")).rule == "rate"  # the 101st within 60 s
    assert not evaluator.evaluate(get(client_ip="198.51.100.8")).blocked, "another address has its own count"
    clock.now += 60.0  # the window slides past every earlier request
    assert not evaluator.evaluate(get(client_ip="198.51.100.7")).blocked


def test_a_local_rate_limit_override_replaces_the_model_limit() -> None:
    evaluator = Evaluator(acl(Rule("rate", 1, RateBased(limit=100, window_s=60), Action.BLOCK)), rate_limit=2)
    assert [evaluator.evaluate(get()).blocked for _ in range(3)] == [False, False, True]


def test_a_managed_group_blocks_with_its_rule_name_and_an_excluded_rule_only_counts() -> None:
    common = ManagedRuleGroup("AWSManagedRulesCommonRuleSet", excluded_rules=("UserAgent_BadBots_HEADER",))
    evaluator = Evaluator(acl(Rule("common", 1, common, override=Override.NONE)))
    blocked = evaluator.evaluate(get(path="/static/%2e%2e/%2e%2e/etc/passwd"))
    assert (blocked.rule, blocked.sub_rule, blocked.rule_type) == ("common", "GenericLFI_URIPATH", "MANAGED_RULE_GROUP")
    counted = evaluator.evaluate(get(headers=[("user-agent", "sqlmap/1.7")]))
    assert not counted.blocked
    assert counted.counted[0].sub_rule == "UserAgent_BadBots_HEADER"
    assert "awswaf:managed:aws:core-rule-set:BadBots_Header" in counted.labels


def test_a_managed_group_with_a_count_override_never_blocks() -> None:
    group = ManagedRuleGroup("AWSManagedRulesSQLiRuleSet")
    evaluator = Evaluator(acl(Rule("sqli-trial", 1, group, override=Override.COUNT)))
    decision = evaluator.evaluate(get("id=1' or '1'='1"))
    assert not decision.blocked
    assert decision.counted[0].sub_rule == "SQLi_QUERYARGUMENTS"


def test_an_unknown_managed_group_is_refused_rather_than_passed_silently() -> None:
    with pytest.raises(ValueError, match="AWSManagedRulesBotControlRuleSet"):
        Evaluator(acl(Rule("bots", 1, ManagedRuleGroup("AWSManagedRulesBotControlRuleSet"), override=Override.NONE)))


def test_the_evaluator_and_the_renderer_read_the_same_rules_so_a_new_rule_appears_in_both() -> None:
    pytest.importorskip("troposphere")
    from troposphere import Template

    from cfn.waf import add_web_acl

    new = Rule("no-teapots", 5, SizeConstraint(FieldToMatch(Part.HEADER, "x-teapot"), Comparison.GT, 0), Action.BLOCK)
    grown = dataclasses.replace(WEB_ACL, rules=(*WEB_ACL.rules, new))
    template = Template()
    add_web_acl(template, grown)
    rendered = json.loads(template.to_json())["Resources"]["WebAcl"]["Properties"]["Rules"]
    evaluator = Evaluator(grown)

    assert [r["Name"] for r in rendered] == evaluator.rule_names()
    assert [r["Priority"] for r in rendered] == [r.priority for r, _ in evaluator.rules]
    teapot = next(r for r in rendered if r["Name"] == "no-teapots")
    assert teapot["VisibilityConfig"]["MetricName"] == new.metric_name == "WafNoTeapots"
    assert teapot["Statement"]["SizeConstraintStatement"]["FieldToMatch"] == {"SingleHeader": {"Name": "x-teapot"}}
    assert evaluator.evaluate(get(headers=[*UA, ("x-teapot", "short and stout")])).rule == "no-teapots"
    assert not Evaluator(WEB_ACL).evaluate(get(headers=[*UA, ("x-teapot", "short and stout")])).blocked


CHROMIUM = [
    (
        "user-agent",
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/156.0 Safari/537.36",
    ),
    ("sec-ch-ua", '"Not:A-Brand";v="8", "Chromium";v="156"'),
    ("accept", "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8"),
    ("sec-fetch-site", "same-origin"),
    ("accept-language", "en-US,en;q=0.9"),
]


@pytest.mark.parametrize("site", ["http://127.0.0.1:8080", "http://10.0.4.7", "https://shop.example.com"])
def test_a_browser_loading_the_shops_own_assets_passes_whatever_address_the_shop_has(site: str) -> None:
    # The local shop's address is a loopback one, an intranet deployment's a private one: the browser names it in
    # Referer and Origin on every asset and API call, and the SSRF patterns must not read it as a target.
    headers = [*CHROMIUM, ("referer", f"{site}/"), ("origin", site)]
    evaluator = Evaluator(WEB_ACL)
    for path in ("/v/c796b6634286/js/app.js", "/v/c796b6634286/styles.css", "/api/catalog/categories"):
        assert evaluator.evaluate(WafRequest("GET", path, "", headers)).action == Action.ALLOW, path
