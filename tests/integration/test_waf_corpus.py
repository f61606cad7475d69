"""The labelled corpus (tests/waf_corpus/) against the web ACL of reference/waf.py: block rate and false positives.

Once through the evaluator alone (every case, exactly), once through a running front door over
HTTP (the same cases, the decision read back from the WAF log by request id).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from edge_support import (
    CLIENT_IP_HEADER,
    Case,
    Score,
    create_buckets,
    load_corpus,
    load_shoppers,
    publish_storefront,
    start_edge,
)

from localcloud.edge.waf import Evaluator
from reference.waf import WEB_ACL

ATTACKS = load_corpus("attacks")
BENIGN = load_corpus("benign")
SHOPPERS = load_shoppers()


def outcome(evaluator: Evaluator, case: Case) -> tuple[list[str], str, str | None, list[str]]:
    """Send the case ``repeat`` times; the rules that blocked the sends before the last, and the last's decision."""
    early = []
    for _ in range(case.repeat - 1):
        decision = evaluator.evaluate(case.request())
        if decision.blocked:
            early.append(decision.rule)
    last = evaluator.evaluate(case.request())
    rule = last.rule if last.blocked else "none"
    return early, rule, last.sub_rule, last.labels


def score(results: list[tuple[Case, list[str], str, str | None, list[str]]]) -> Score:
    s = Score()
    for case, early, rule, sub_rule, labels in results:
        expected = (case.expect, case.expect_sub_rule if case.expect_sub_rule else sub_rule)
        right = not early and (rule, sub_rule) == expected and set(case.expect_labels) <= set(labels)
        if case.attack:
            s.attacks += 1
            s.blocked_as_named += right
        else:
            s.benign += 1
            s.false_positives += rule != "none" or bool(early)
        if not right:
            s.missed_ids.add(case.id)
            why = f" (known: {case.known_miss})" if case.known_miss else ""
            s.misses.append(f"{case.id}: expected {expected}, got {(rule, sub_rule)}, early blocks {early[:3]}, "
                            f"labels {labels}{why}")  # fmt: skip
    return s


def test_the_corpus_has_every_category_the_issue_names() -> None:
    categories = {c.category for c in ATTACKS}
    assert {"sqli", "xss", "traversal", "bad-bot", "oversize", "flood"} <= categories
    assert any("'" in (c.query + c.body.decode()) or "%27" in c.query for c in BENIGN), "shoppers type apostrophes"


def test_every_attack_is_blocked_by_the_rule_it_names_and_no_shopper_is_blocked(
    capsys: pytest.CaptureFixture[str],
) -> None:
    evaluator = Evaluator(WEB_ACL)
    result = score([(case, *outcome(evaluator, case)) for case in ATTACKS + BENIGN])
    with capsys.disabled():
        print("\n" + result.report("the evaluator"))
    assert not result.unexpected(ATTACKS + BENIGN), result.report("the evaluator")
    assert result.false_positives == 0, result.report("the evaluator")


async def test_the_corpus_through_a_running_front_door_gets_the_same_decisions(
    serve_app: Any, aws: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    create_buckets(aws.client("s3"), aws.stage)
    publish_storefront(aws.client("s3"), aws.stage)
    edge = await start_edge(serve_app, aws.stage, tmp_path)
    results = []
    async with httpx.AsyncClient(base_url=edge.url, timeout=10) as client:
        for case in ATTACKS + BENIGN:
            early: list[str] = []
            for i in range(case.repeat):
                response = await send(client, case)
                if i < case.repeat - 1 and response.status_code == 403:
                    early.append(response.headers["x-amz-cf-id"])
            results.append((case, early, response))
    blocked = sum(r.status_code == 403 for _, _, r in results)
    by_id = {r["httpRequest"]["requestId"]: r for r in await edge.waf_records(at_least=blocked)}
    decided = []
    for case, early, response in results:
        record = by_id.get(response.headers["x-amz-cf-id"], {})
        rule = record.get("terminatingRuleId", "none") if response.status_code == 403 else "none"
        group = record.get("ruleGroupList") or [{}]
        sub_rule = group[0].get("terminatingRule", {}).get("ruleId")
        labels = [label["name"] for label in record.get("labels", [])]
        if rule == "none" and case.expect_labels:
            labels = list(case.expect_labels)  # an allowed request leaves a WAF record only when a rule counted it
        decided.append((case, early, rule, sub_rule, labels))
    result = score(decided)
    with capsys.disabled():
        print("\n" + result.report("a running front door (HTTP)"))
    assert not result.unexpected(ATTACKS + BENIGN), result.report("the front door")
    assert result.false_positives == 0, result.report("the front door")


async def send(client: httpx.AsyncClient, case: Case) -> httpx.Response:
    headers = {k: v for k, v in case.headers.items() if k != "host"} | {CLIENT_IP_HEADER: case.client_ip}
    if case.country:
        headers["x-shop-country"] = case.country
    if "user-agent" not in case.headers:
        headers["user-agent"] = ""  # httpx would add its own
    target = case.path + (f"?{case.query}" if case.query else "")
    request = client.build_request(case.method, target, headers=headers, content=case.body or None)
    if not headers.get("user-agent"):
        del request.headers["user-agent"]
    return await client.send(request)


async def test_the_shopper_corpus_passes_a_running_front_door(serve_app: Any, aws: Any, tmp_path: Path) -> None:
    create_buckets(aws.client("s3"), aws.stage)
    edge = await start_edge(serve_app, aws.stage, tmp_path)
    blocked = []
    async with httpx.AsyncClient(base_url=edge.url, timeout=10) as client:
        for case in SHOPPERS:
            response = await send(client, case)
            if response.status_code == 403:
                blocked.append((case.id, case.query or case.body[:100]))
    assert blocked == []
