"""GoTestWAF's test cases against the web ACL, in process: block rate, false positives, no class falling back.

The corpus is read from ../shared/waf-corpora/gotestwaf beside the clone (never copied here); without
it the tests skip and say so. The floors are the blocked counts measured when the rules last improved.
"""

from __future__ import annotations

import pytest

from load.bench import waf as gotestwaf

ROOT = gotestwaf.corpus_root()
pytestmark = pytest.mark.skipif(ROOT is None, reason=f"no GoTestWAF corpus at {gotestwaf.CORPUS} (CI has ../shared)")

# Blocked attacks per class (of the cases that fit the shop's routes) when the rules were last measured.
FLOORS = {
    "community/community-lfi": 8, "community/community-rce": 4, "community/community-sqli": 12,
    "community/community-xss": 104, "community/community-xxe": 2, "owasp/crlf": 7, "owasp/ldap-injection": 24,
    "owasp/mail-injection": 24, "owasp/nosql-injection": 50, "owasp/path-traversal": 20, "owasp/rce": 6,
    "owasp/shell-injection": 32, "owasp/sql-injection": 48, "owasp/ss-include": 24, "owasp/sst-injection": 16,
    "owasp/xml-injection": 6, "owasp/xss-scripting": 212, "owasp-api/rest": 7, "owasp-api/soap": 5,
    "community/community-user-agent": 9, "owasp/rce-urlparam": 9, "owasp/rce-urlpath": 3,
}  # fmt: skip


@pytest.fixture(scope="module")
def scores() -> gotestwaf.Scores:
    return gotestwaf.score(gotestwaf.evaluator(), gotestwaf.cases(ROOT))


def test_at_least_95_percent_of_gotestwaf_attacks_are_blocked(scores: gotestwaf.Scores) -> None:
    assert scores.attacks.sent > 600, "the corpus shrank: is it the whole of GoTestWAF's testcases?"
    assert scores.attacks.rate >= 0.95, scores.table()


def test_at_most_1_percent_of_gotestwaf_false_positive_set_is_blocked(scores: gotestwaf.Scores) -> None:
    assert scores.false_pos.sent > 100
    assert scores.false_pos.rate <= 0.01, [(c.payload, rule) for c, rule in scores.false_blocks]


@pytest.mark.parametrize("klass", sorted(FLOORS))
def test_no_class_of_attack_falls_below_what_was_blocked_before(scores: gotestwaf.Scores, klass: str) -> None:
    assert scores.by_class[klass].blocked >= FLOORS[klass], scores.table()


def test_every_placement_the_issue_names_is_read_json_escapes_base64_and_form_spaces_included(
    scores: gotestwaf.Scores,
) -> None:
    for placement in ("JSONRequest", "HTMLForm", "HTMLMultipartForm", "URLParam", "URLPath"):
        assert scores.by_placement[placement].rate >= 0.9, (placement, scores.table())
    assert scores.by_encoder["Base64Flat"].rate >= 0.9, scores.table()


def test_the_payloads_with_every_encoder_in_every_placement_are_mostly_blocked_too() -> None:
    """A hold-out of the same families: what generalises holds up when the encoding and the place change."""
    scores = gotestwaf.score(gotestwaf.evaluator(), gotestwaf.recombined(gotestwaf.cases(ROOT)))
    assert scores.attacks.sent > 3500
    assert scores.attacks.rate >= 0.88, scores.table()
    assert scores.false_pos.sent > 1000
    assert scores.false_pos.rate <= 0.01, [(c.encoder, c.placeholder, c.payload) for c, _ in scores.false_blocks]
    for encoder in ("JSUnicode", "XMLEntity", "URL"):
        assert scores.by_encoder[encoder].rate >= 0.88, (encoder, scores.table())
