"""Content-Security-Policy violation reports at the local edge: ``/_edge/csp-reports`` (issue 22).

The local edge's CSP (reference/edge.py's, plus ``report-uri`` naming this route) makes a browser POST
each violation here as soon as it happens (``application/csp-report``); the Reporting API's batched
``application/reports+json`` is read too. ``GET`` answers how many arrived, by directive, and the last
few, so a browser test can assert that a journey caused none. Local only: CloudFront has no such route.
"""

from __future__ import annotations

import json
from collections import Counter, deque
from typing import Any

from localcloud.edge import responses
from localcloud.edge.exchange import Receive, Scope, Send
from localcloud.edge.headers import CSP_REPORT_PATH as PATH

MAX_REPORT = 64 * 1024  # a report is a few hundred bytes; anything larger is not one
KEPT = 50  # the last reports GET shows in full


def violations(payload: Any) -> list[dict[str, Any]]:
    """The violations in a report body: ``{"csp-report": {...}}`` (report-uri) or a Reporting API list."""
    if isinstance(payload, dict) and isinstance(payload.get("csp-report"), dict):
        return [payload["csp-report"]]
    if isinstance(payload, list):
        return [r["body"] for r in payload if isinstance(r, dict) and r.get("type") == "csp-violation"
                and isinstance(r.get("body"), dict)]  # fmt: skip
    return []


def directive(report: dict[str, Any]) -> str:
    """The directive a violation broke, in either format's spelling."""
    name = report.get("effective-directive") or report.get("effectiveDirective") or report.get("violated-directive")
    return str(name or "unknown").split(" ", 1)[0]


class CspReports:
    """What browsers reported since the edge started."""

    def __init__(self) -> None:
        self.by_directive: Counter[str] = Counter()
        self.recent: deque[dict[str, Any]] = deque(maxlen=KEPT)

    @property
    def count(self) -> int:
        return sum(self.by_directive.values())

    def add(self, payload: Any) -> int:
        found = violations(payload)
        for report in found:
            self.by_directive[directive(report)] += 1
            self.recent.append(report)
        return len(found)

    def snapshot(self) -> dict[str, Any]:
        return {"count": self.count, "by_directive": dict(self.by_directive), "recent": list(self.recent)}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        method = scope["method"]
        if method == "GET":
            await responses.send_json(send, 200, self.snapshot())
            return
        if method != "POST":
            await responses.send_json(send, 405, {"title": "Method not allowed", "status": 405,
                                                  "detail": f"{PATH} takes GET or POST"})  # fmt: skip
            return
        try:
            body = await responses.read_body(receive)
            if len(body) > MAX_REPORT:
                raise responses.TooLarge()
            payload = json.loads(body)
        except (ValueError, responses.TooLarge):
            payload = None
        added = self.add(payload)
        if not added:
            detail = 'send a CSP report: {"csp-report": {...}} or a Reporting API list of csp-violation reports'
            await responses.send_json(send, 400, {"title": "Bad request", "status": 400, "detail": detail})
            return
        await responses.send_json(send, 201, {"received": added, "count": self.count})
