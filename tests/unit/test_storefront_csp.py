"""The storefront's source keeps to the edge's CSP (reference/edge.py): nothing inline that the policy refuses.

The browser test proves it in Chromium; this reads the files, so a forbidden construct fails in seconds.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

from reference.edge import CONTENT_SECURITY_POLICY

STOREFRONT = Path(__file__).resolve().parents[2] / "storefront"
# What script-src/style-src 'self' (without 'unsafe-inline' or 'unsafe-eval') refuses, as it appears in JS.
FORBIDDEN_JS = {
    "HTML strings (innerHTML and kin) can carry handlers": re.compile(r"\b(innerHTML|outerHTML|insertAdjacentHTML)\b"),
    "document.write": re.compile(r"document\.write"),
    "eval and string code": re.compile(r"\beval\(|new Function\(|set(Timeout|Interval)\(\s*[\"'`]"),
    "javascript: URLs": re.compile(r"javascript:", re.IGNORECASE),
    "style attributes": re.compile(r"""setAttribute\(\s*["']style["']|\.style\.cssText|["']style["']\s*:"""),
    "inline handlers": re.compile(r"""setAttribute\(\s*["']on[a-z]+["']"""),
}


class InlineFinder(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = {k for k, _ in attrs}
        if tag == "script" and "src" not in names:
            self.found.append("inline <script>")
        if tag == "style":
            self.found.append("<style> element")
        self.found += [f"{k}= on <{tag}>" for k in names if k.startswith("on") or k == "style"]
        self.found += [
            f"javascript: URL on <{tag}>" for _, v in attrs if v and v.strip().lower().startswith("javascript:")
        ]


def test_the_page_has_no_inline_script_handler_or_style() -> None:
    finder = InlineFinder()
    finder.feed((STOREFRONT / "index.html").read_text())
    assert finder.found == []


def test_no_module_builds_markup_code_or_styles_the_csp_refuses() -> None:
    found = [
        f"{path.relative_to(STOREFRONT)}:{n}: {why}"
        for path in sorted(STOREFRONT.rglob("*.js"))
        for n, line in enumerate(path.read_text().splitlines(), 1)
        for why, pattern in FORBIDDEN_JS.items()
        if pattern.search(line) and not line.lstrip().startswith("//")
    ]
    assert found == []


def test_the_policy_allows_nothing_inline_for_the_checks_above_to_rely_on() -> None:
    policy = dict(CONTENT_SECURITY_POLICY)
    assert policy["script-src"] == policy["style-src"] == "'self'"
