"""The front door's part in a trace: what the ALB does with ``X-Amzn-Trace-Id``, plus a segment of its own.

For every ``/api/*`` request the front door starts the trace (a new ``Root=1-<time>-<random>``) or
continues the viewer's (its ``Root``, ``Parent`` and ``Sampled`` are kept), forwards
``X-Amzn-Trace-Id: Root=...;Parent=<its segment>;Sampled=<0|1>`` to the API gateway and returns
``Root=...;Sampled=...`` to the viewer, so a person (or a test) can look the trace up with
``nox -s trace -- <Root>``. With ``SHOP_TRACING=xray`` it also sends its own segment (``frontdoor``)
to the X-Ray API, so the waterfall starts where the viewer's request arrived.

Differences from AWS (docs/tracing.md): the ALB adds the header but sends no segment, makes no
sampling decision and does not answer with the header; CloudFront takes no part in X-Ray at all.
The sampling decision here is made with the same rules (reference/observability.py) the services
use, so the gateway follows it.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from typing import Any

from services.common import telemetry

SEGMENT_NAME = "frontdoor"
log = logging.getLogger("localcloud.edge.tracing")


@dataclass(slots=True)
class EdgeTrace:
    """One request's place in its trace."""

    root: str
    segment_id: str
    sampled: bool
    parent: str | None = None
    started: float = field(default_factory=time.time)

    def forwarded(self) -> str:
        """The header the gateway gets: the front door's segment is its parent."""
        return telemetry.format_xray_header({"Root": self.root, "Parent": self.segment_id,
                                             "Sampled": "1" if self.sampled else "0"})  # fmt: skip

    def returned(self) -> str:
        """The header the viewer gets back."""
        return telemetry.format_xray_header({"Root": self.root, "Sampled": "1" if self.sampled else "0"})


class EdgeTracer:
    """Starts or continues traces and sends the front door's segments (batched; ``flush`` sends them)."""

    def __init__(self, mode: str | None = None, sampling: str | None = None, client: Any = None):
        self.mode = mode or os.environ.get("SHOP_TRACING", "off")
        self.sample = telemetry.decider(sampling or os.environ.get("SHOP_TRACE_SAMPLING", "rules"))
        self.sender = telemetry.XRaySender(client) if client is not None else None
        self.pending: list[dict[str, Any]] = []

    @property
    def exporting(self) -> bool:
        return self.mode == "xray" and self.sender is not None

    def begin(self, viewer_header: str | None, method: str, path: str) -> EdgeTrace:
        given = telemetry.parse_xray_header(viewer_header)
        root = given.get("Root") if _valid_root(given.get("Root")) else None
        if root and given.get("Sampled") in ("0", "1"):
            sampled = given["Sampled"] == "1"
        else:
            sampled = self.mode != "off" and self.sample(path, method)
        parent = given.get("Parent") if root else None
        return EdgeTrace(root or telemetry.new_xray_trace_id(), telemetry.new_segment_id(), sampled, parent)

    def finish(self, trace: EdgeTrace, method: str, url: str, status: int, client_ip: str) -> None:
        """Queue the front door's segment of a sampled request (sent by ``flush``)."""
        if not (trace.sampled and self.exporting):
            return
        doc: dict[str, Any] = {
            "name": SEGMENT_NAME,
            "id": trace.segment_id,
            "trace_id": trace.root,
            "start_time": trace.started,
            "end_time": time.time(),
            "origin": "AWS::ElasticLoadBalancing::LoadBalancer",
            "http": {"request": {"method": method, "url": url, "client_ip": client_ip}, "response": {"status": status}},
            "annotations": {"operation": f"{method} {url.split('?')[0]}"},
        }
        if trace.parent:
            doc["parent_id"] = trace.parent
        if 400 <= status < 500:
            doc["error"] = True
            if status == 429:
                doc["throttle"] = True
        elif status >= 500:
            doc["fault"] = True
        self.pending.append(doc)

    def flush(self) -> None:
        """Send the queued segments (blocking: call it in a thread)."""
        docs, self.pending = self.pending, []
        if docs and self.sender is not None:
            try:
                self.sender.send(docs)
            except Exception as exc:  # noqa: BLE001 - the emulator being down must not take the edge with it
                log.warning("PutTraceSegments failed (%d segments dropped): %s", len(docs), exc)


def _valid_root(root: str | None) -> bool:
    parts = (root or "").split("-")
    return len(parts) == 3 and parts[0] == "1" and len(parts[1]) == 8 and len(parts[2]) == 24
