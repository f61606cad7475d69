"""``nox -s trace -- <trace id>``: one trace's waterfall, read from the X-Ray API of the running stack.

It asks ``BatchGetTraces`` (the emulator's locally, AWS's with AWS credentials) for the trace's segment
documents, puts segments and subsegments into one tree (AWS returns independent subsegments merged
into their segment's ``subsegments``; the emulator returns each document as it was sent: both are
read), prints one line per span (service, operation, start offset, duration, status) indented under
its parent, and writes an HTML page of the same waterfall (``--html``, default
``artifacts/traces/<id>.html``). Without an id it lists the traces of the last minutes
(``GetTraceSummaries``). ``service_edges`` gives the parent -> child service pairs the tests assert.
"""

from __future__ import annotations

import argparse
import datetime as dt
import html
import json
import os
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ARTIFACTS = Path("artifacts") / "traces"


@dataclass
class Span:
    """One segment or subsegment of a trace."""

    id: str
    parent_id: str | None
    name: str
    operation: str
    start: float
    end: float
    status: str  # ok, error (4xx), fault (5xx or a failure), throttle
    is_segment: bool
    service: str = ""  # the segment this span belongs to (its own name for a segment)
    children: list[Span] = field(default_factory=list)
    depth: int = 0

    @property
    def duration_ms(self) -> float:
        return (self.end - self.start) * 1000


def documents(answer: dict[str, Any], trace_id: str) -> list[dict[str, Any]]:
    """The segment documents of ``trace_id`` in a BatchGetTraces answer, nested subsegments flattened."""
    out: list[dict[str, Any]] = []
    for trace in answer.get("Traces", []):
        if trace.get("Id") != trace_id:
            continue
        for segment in trace.get("Segments", []):
            out.extend(_flatten(json.loads(segment["Document"]), None))
    return out


def _flatten(doc: dict[str, Any], parent: dict[str, Any] | None) -> Iterable[dict[str, Any]]:
    nested = doc.pop("subsegments", None) or []
    if parent is not None:
        doc.setdefault("parent_id", parent["id"])
        doc.setdefault("type", "subsegment")
    yield doc
    for sub in nested:
        yield from _flatten(sub, doc)


def _status(doc: dict[str, Any]) -> str:
    for flag in ("fault", "throttle", "error"):
        if doc.get(flag):
            return flag
    return "ok"


def _operation(doc: dict[str, Any]) -> str:
    otel = (doc.get("metadata") or {}).get("otel") or {}
    request = (doc.get("http") or {}).get("request") or {}
    return str(
        (doc.get("annotations") or {}).get("operation")
        or otel.get("name")
        or (doc.get("aws") or {}).get("operation")
        or " ".join(filter(None, [request.get("method"), request.get("url")]))
        or doc.get("name", "")
    )


def _span(d: dict[str, Any]) -> Span:
    start = float(d["start_time"])
    return Span(id=d["id"], parent_id=d.get("parent_id"), name=d.get("name", "?"), operation=_operation(d),
                start=start, end=float(d.get("end_time") or start), status=_status(d),
                is_segment=d.get("type") != "subsegment")  # fmt: skip


def tree(docs: Sequence[dict[str, Any]]) -> list[Span]:
    """The spans in waterfall order (each after its parent, siblings by start), with depth and service."""
    spans = {d["id"]: _span(d) for d in docs}
    roots = []
    for span in spans.values():
        parent = spans.get(span.parent_id or "")
        (parent.children if parent else roots).append(span)
    ordered: list[Span] = []

    def walk(span: Span, depth: int, service: str) -> None:
        span.depth, span.service = depth, span.name if span.is_segment else service
        ordered.append(span)
        for child in sorted(span.children, key=lambda s: s.start):
            walk(child, depth + 1, span.service)

    for root in sorted(roots, key=lambda s: s.start):
        walk(root, 0, root.name)
    return ordered


def service_edges(spans: Sequence[Span]) -> set[tuple[str, str]]:
    """(caller service, called service) for every segment whose parent is in another service's segment."""
    by_id = {s.id: s for s in spans}
    edges = set()
    for span in spans:
        parent = by_id.get(span.parent_id or "")
        if span.is_segment and parent is not None and parent.service != span.service:
            edges.add((parent.service, span.service))
    return edges


def fetch(client: Any, trace_id: str) -> list[Span]:
    return tree(documents(client.batch_get_traces(TraceIds=[trace_id]), trace_id))


# --------------------------------------------------------------------------- rendering


def waterfall(spans: Sequence[Span]) -> str:
    """The trace as a text table, one line per span, indented under its parent."""
    if not spans:
        return "(no segments)"
    t0 = min(s.start for s in spans)
    width = max(len("  " * s.depth + s.operation[:60]) for s in spans)
    lines = [f"{'service':<16} {'operation':<{width}} {'start ms':>9} {'dur ms':>9}  status"]
    for s in spans:
        op = "  " * s.depth + s.operation[:60]
        lines.append(f"{s.service:<16} {op:<{width}} {(s.start - t0) * 1000:>9.1f} {s.duration_ms:>9.1f}  {s.status}")
    return "\n".join(lines)


COLORS = {"ok": "#2e7d32", "error": "#f9a825", "throttle": "#6a1b9a", "fault": "#c62828"}


def page(trace_id: str, spans: Sequence[Span]) -> str:
    """A self-contained HTML page: the waterfall as bars on a shared time axis."""
    t0 = min((s.start for s in spans), default=0.0)
    total = max((s.end for s in spans), default=t0) - t0 or 1e-3
    services = sorted({s.service for s in spans})
    hue = {name: (i * 360 // max(len(services), 1)) for i, name in enumerate(services)}
    rows = []
    for s in spans:
        left, width = (s.start - t0) / total * 100, max((s.end - s.start) / total * 100, 0.3)
        rows.append(
            f"<tr><td class=svc><span class=dot style='background:hsl({hue[s.service]},60%,45%)'></span>"
            f"{html.escape(s.service)}</td>"
            f"<td class=op style='padding-left:{0.4 + s.depth * 1.1:.1f}em'>{html.escape(s.operation[:90])}</td>"
            f"<td class=bar><div style='margin-left:{left:.2f}%;width:{width:.2f}%;"
            f"background:hsl({hue[s.service]},60%,{'45' if s.is_segment else '65'}%)'></div></td>"
            f"<td class=num>{(s.start - t0) * 1000:.1f}</td><td class=num>{s.duration_ms:.1f}</td>"
            f"<td style='color:{COLORS.get(s.status, '#000')}'>{s.status}</td></tr>"
        )
    return f"""<!doctype html><html lang=en><head><meta charset=utf-8><title>trace {html.escape(trace_id)}</title>
<style>
body{{font:14px system-ui,sans-serif;margin:1.5em;color:#222}} h1{{font-size:1.2em}}
table{{border-collapse:collapse;width:100%}} td,th{{padding:2px 6px;border-bottom:1px solid #eee;white-space:nowrap}}
th{{text-align:left;background:#f5f5f5}} td.bar{{width:45%;min-width:300px}} td.bar div{{height:12px;border-radius:2px}}
td.num{{text-align:right;font-variant-numeric:tabular-nums}} .dot{{display:inline-block;width:10px;height:10px;
border-radius:50%;margin-right:6px}} td.op{{max-width:420px;overflow:hidden;text-overflow:ellipsis}}
</style></head><body>
<h1>Trace {html.escape(trace_id)}</h1>
<p>{len(spans)} segments and subsegments, {len(services)} services, {total * 1000:.1f} ms from first start to last end.
Darker bars are segments (a service's unit of work), lighter ones subsegments (what it called).</p>
<table><tr><th>service</th><th>operation</th><th>timeline</th><th>start ms</th><th>duration ms</th><th>status</th></tr>
{"".join(rows)}
</table></body></html>
"""


# --------------------------------------------------------------------------- command line


def _client() -> Any:
    import boto3

    from localcloud import state

    if not os.environ.get("AWS_ENDPOINT_URL") and not state.use_running_stack() and not os.environ.get("AWS_PROFILE"):
        print("note: no running local stack found (start one with `nox -s up`); using AWS credentials", file=sys.stderr)
    return boto3.client("xray", region_name=os.environ.get("AWS_REGION", "us-east-1"))


def recent(client: Any, minutes: float) -> list[dict[str, Any]]:
    end = dt.datetime.now(dt.UTC)
    answer = client.get_trace_summaries(StartTime=end - dt.timedelta(minutes=minutes), EndTime=end)
    return answer.get("TraceSummaries", [])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="nox -s trace --",
        description="Print one trace's waterfall (service, operation, start, duration, status) from the X-Ray API "
        "and write it as an HTML page. The trace id is the Root of the X-Amzn-Trace-Id header the front door "
        "returns, or the trace_id field of a service's log line. Uses the running `nox -s up` stack of "
        "SHOP_STAGE (default local), or AWS when AWS credentials and SHOP_STAGE point there.",
    )
    parser.add_argument("trace_id", nargs="?", help="1-xxxxxxxx-yyyyyyyyyyyyyyyyyyyyyyyy (Root=... is accepted)")
    parser.add_argument("--html", type=Path, help="where to write the page (default artifacts/traces/<id>.html)")
    parser.add_argument("--wait", type=float, default=5.0, help="seconds to wait for late segments (default 5)")
    parser.add_argument("--minutes", type=float, default=15.0, help="without an id: list traces of the last N min")
    args = parser.parse_args(argv)
    client = _client()
    if not args.trace_id:
        summaries = recent(client, args.minutes)
        for s in summaries:
            print(f"{s['Id']}  {s.get('Duration', 0)} s{'  fault' if s.get('HasFault') else ''}"
                  f"{'  error' if s.get('HasError') else ''}")  # fmt: skip
        hint = "" if summaries else " (is SHOP_TRACING on?)"
        print(f"{len(summaries)} trace(s) in the last {args.minutes:g} min{hint}")
        return 0
    trace_id = args.trace_id.split("Root=")[-1].split(";")[0]
    deadline = time.monotonic() + args.wait
    spans = fetch(client, trace_id)
    while not spans and time.monotonic() < deadline:  # segments arrive about a second after the request
        time.sleep(0.5)
        spans = fetch(client, trace_id)
    if not spans:
        print(f"no trace {trace_id} (not sampled, not yet sent, or SHOP_TRACING is off)", file=sys.stderr)
        return 1
    print(waterfall(spans))
    edges = sorted(service_edges(spans))
    print("\nservice edges: " + ", ".join(f"{a} -> {b}" for a, b in edges))
    target = args.html or ARTIFACTS / f"{trace_id}.html"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(page(trace_id, spans))
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
