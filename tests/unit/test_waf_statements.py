"""AWS WAF's text transformations, fields and statements as the local evaluator runs them, and the web ACL's WCU."""

from __future__ import annotations

import json

import pytest

from localcloud.edge import transforms as t
from localcloud.edge.waf import Evaluator, WafRequest
from reference.waf import (
    MAX_CAPACITY,
    WEB_ACL,
    Action,
    ByteMatch,
    FieldToMatch,
    InvalidJson,
    JsonScope,
    Not,
    Part,
    Position,
    RegexMatch,
    RegexSet,
    Rule,
    Transform,
    WebAcl,
    capacity,
    check_patterns,
    check_web_acl,
    statement_capacity,
)
from reference.waf_patterns import base64_cores, base64_patterns

UA = [("user-agent", "Mozilla/5.0")]


@pytest.mark.parametrize(
    ("transform", "given", "expected"),
    [
        (Transform.URL_DECODE, "%3Cx+onfocus%3Dalert(1)%3E", "<x onfocus=alert(1)>"),  # + is a space in a form
        (Transform.URL_DECODE, "100%", "100%"),  # an invalid escape stays
        (Transform.URL_DECODE, "%c0%af", "\xc0\xaf"),  # bytes, as WAF sees them
        (Transform.URL_DECODE_UNI, "..%uEFC8..%uFF0F", "..\xc8../"),  # low byte; full-width ASCII mapped down
        (Transform.JS_DECODE, "\\u003cscript\\x3e\\101", "<script>A"),
        (Transform.HTML_ENTITY_DECODE, "&lt;a&gt;&#x6a;&#106&quot;&amp;", '<a>jj"&amp;'),  # AWS's list only
        (Transform.BASE64_DECODE, "PHNjcmlwdD4", "<script>"),  # padding optional
        (Transform.BASE64_DECODE_EXT, "PHNj.cmlw!dD4=", "<script>"),
        (Transform.CMD_LINE, "C^A\"T  /et'c/pa\\sswd ; ls,-l", "cat/etc/passwd ls -l"),
        (Transform.REPLACE_NULLS, "a\x00b", "a b"),
        (Transform.REMOVE_NULLS, "a\x00b", "ab"),
        (Transform.NORMALIZE_PATH, "/a//b/./c/../d", "/a/b/d"),
        (Transform.NORMALIZE_PATH_WIN, "\\a\\..\\b", "/b"),
        (Transform.COMPRESS_WHITE_SPACE, "a \t\n\xa0 b", "a b"),
        (Transform.LOWERCASE, "ÀBC", "Àbc"),  # A-Z only
    ],
)
def test_each_text_transformation_does_what_aws_documents(transform: Transform, given: str, expected: str) -> None:
    assert t.TRANSFORMS[transform](given) == expected


def _acl(statement: object, *regex_sets: RegexSet) -> Evaluator:
    web_acl = WebAcl("t", Action.ALLOW, (Rule("r", 1, statement, Action.BLOCK),), regex_sets=regex_sets)  # type: ignore[arg-type]
    assert check_web_acl(web_acl) == []
    return Evaluator(web_acl)


def test_a_json_body_is_read_value_by_value_with_its_escapes_decoded_and_its_fallback_for_other_bodies() -> None:
    sets = (RegexSet("s", ("<script",)),)
    field = FieldToMatch(Part.JSON_BODY, scope=JsonScope.VALUE, invalid_json=InvalidJson.NO_MATCH)
    evaluator = _acl(RegexMatch(field, "s"), *sets)
    body = json.dumps({"<script": 1, "note": "\u003cscript>"}).encode()
    assert evaluator.evaluate(WafRequest("POST", "/api/x", "", UA, body)).blocked
    assert not evaluator.evaluate(WafRequest("POST", "/api/x", "", UA, b'{"<script": 1}')).blocked  # keys not read
    assert not evaluator.evaluate(WafRequest("POST", "/api/x", "", UA, b"a=<script")).blocked  # NO_MATCH
    as_string = FieldToMatch(Part.JSON_BODY, invalid_json=InvalidJson.EVALUATE_AS_STRING)
    assert _acl(RegexMatch(as_string, "s"), *sets).evaluate(WafRequest("POST", "/api/x", "", UA, b"a=<script")).blocked


def test_all_query_arguments_are_values_one_by_one_and_not_the_names() -> None:
    evaluator = _acl(RegexMatch(FieldToMatch(Part.ALL_QUERY_ARGUMENTS, transforms=(Transform.URL_DECODE,)), "s"),
                     RegexSet("s", ("^cat$",)))  # fmt: skip
    assert evaluator.evaluate(WafRequest("GET", "/api/x", "a=1&b=cat", UA)).blocked
    assert not evaluator.evaluate(WafRequest("GET", "/api/x", "cat=1", UA)).blocked


def test_a_byte_match_on_the_method_inside_a_not_refuses_every_other_method() -> None:
    evaluator = _acl(Not(ByteMatch(FieldToMatch(Part.METHOD), "GET", Position.EXACTLY)))
    assert not evaluator.evaluate(WafRequest("GET", "/", "", UA)).blocked
    assert evaluator.evaluate(WafRequest("PROPFIND", "/", "", UA)).blocked


def test_patterns_aws_cannot_run_are_refused() -> None:
    assert check_patterns(("(a)",)), "a capturing group"
    assert check_patterns(("(?=a)",)), "lookahead"
    assert check_patterns(("a" * 201,)), "past 200 characters"
    assert check_patterns(tuple("a" for _ in range(11)))
    assert check_patterns((r"(?:a)\(b\)",)) == []


def test_base64_cores_find_a_token_at_every_offset_of_an_encoded_payload() -> None:
    import base64
    import re

    regex = re.compile("|".join(base64_patterns(("<script",))))
    for prefix in ("", "x", "xy"):
        encoded = base64.b64encode(f"{prefix}<script>alert(1)".encode()).decode()
        assert regex.search(encoded), prefix
    assert len(base64_cores("<script")) == 3


def test_the_web_acl_fits_the_capacity_its_base_price_covers() -> None:
    total = sum(capacity(WEB_ACL).values())
    assert total <= MAX_CAPACITY
    assert capacity(WEB_ACL)["aws-known-bad-inputs"] == 200
    # 25 a regex pattern set, +10 all query arguments, +10 each transformation, x2 a JSON body's base.
    field = FieldToMatch(Part.ALL_QUERY_ARGUMENTS, transforms=(Transform.URL_DECODE, Transform.LOWERCASE))
    assert statement_capacity(RegexMatch(field, "s")) == 55
    assert statement_capacity(RegexMatch(FieldToMatch(Part.JSON_BODY), "s")) == 50


def test_a_web_acl_past_its_capacity_fails_the_reference_check() -> None:
    big = tuple(Rule(f"r{i}", i, RegexMatch(FieldToMatch(Part.JSON_BODY), "s"), Action.BLOCK) for i in range(31))
    problems = check_web_acl(WebAcl("t", Action.ALLOW, big, regex_sets=(RegexSet("s", ("a",)),)))
    assert any("WCU" in p for p in problems)


def test_the_rendered_web_acl_carries_the_pattern_sets_json_body_and_transformations() -> None:
    pytest.importorskip("troposphere")
    from troposphere import Template

    from cfn.waf import add_web_acl, statement

    template = Template()
    add_web_acl(template, WEB_ACL)
    resources = json.loads(template.to_json())["Resources"]
    sets = {k: v for k, v in resources.items() if v["Type"] == "AWS::WAFv2::RegexPatternSet"}
    assert len(sets) == len(WEB_ACL.regex_sets)
    field = FieldToMatch(Part.JSON_BODY, transforms=(Transform.JS_DECODE,), invalid_json=InvalidJson.MATCH)
    rendered = statement(RegexMatch(field, "code-injection")).to_dict()["RegexPatternSetReferenceStatement"]
    assert rendered["FieldToMatch"]["JsonBody"]["InvalidFallbackBehavior"] == "MATCH"
    assert rendered["TextTransformations"] == [{"Priority": 0, "Type": "JS_DECODE"}]
