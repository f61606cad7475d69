"""The local stack's control API: what runs, how often it was restarted, and the fault proxies' switches.

The supervisor serves it on a loopback port (its URL is ``SHOP_CONTROL_URL`` in the stack's state file,
localcloud/state.py) from a thread of its own; the chaos runner (chaos/) reads its evidence here.

- ``GET /components``: one object per supervised process (``Healer.report``): ``name``, ``kind``
  (service, backend, worker, balancer, frontdoor), ``service``, ``pid``, ``alive``, ``restarts``,
  ``last_exit``, ``last_restart`` (unix time).
- ``GET /faults``: each fault proxy's ``mode``, ``latency_ms`` and ``counters`` (only when the stack was
  started with fault proxies, ``SHOP_FAULT_PROXIES=1``; else ``{}``).
- ``PUT /faults/<target>`` ``{"mode": "pass" | "reset" | "blackhole", "latency_ms": 0..60000}`` (either
  field may be left out): the proxy's new state. A bad field is a 400 problem+json naming it; an unknown
  target a 404.

Nothing here starts or stops a process: restarts stay on the supervisor's main thread.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from localcloud.faultproxy import Mode

MAX_LATENCY_MS = 60_000
MAX_BODY = 4096


class BadField(ValueError):
    def __init__(self, field: str, detail: str):
        super().__init__(detail)
        self.field = field


def parse_fault(body: bytes) -> tuple[Mode | None, float | None]:
    """The mode and latency (seconds) a PUT asks for; raises BadField naming the field that is wrong."""
    try:
        data = json.loads(body or b"{}")
    except ValueError:
        raise BadField("body", "the body is not JSON") from None
    if not isinstance(data, dict):
        raise BadField("body", "the body must be a JSON object")
    unknown = set(data) - {"mode", "latency_ms"}
    if unknown:
        raise BadField(sorted(unknown)[0], "unknown field (known: mode, latency_ms)")
    mode = None
    if "mode" in data:
        if data["mode"] not in [m.value for m in Mode]:
            raise BadField("mode", f"must be one of {', '.join(m.value for m in Mode)}")
        mode = Mode(data["mode"])
    latency = None
    if "latency_ms" in data:
        value = data["latency_ms"]
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_LATENCY_MS:
            raise BadField("latency_ms", f"must be an integer from 0 to {MAX_LATENCY_MS}")
        latency = value / 1000
    return mode, latency


class Control:
    """The state the API serves: components (a callable), and fault targets (get and set callables)."""

    def __init__(
        self,
        components: Callable[[], list[dict[str, Any]]],
        faults: Callable[[], dict[str, Any]] = dict,
        set_fault: Callable[[str, Mode | None, float | None], dict[str, Any] | None] = lambda *_: None,
    ):
        self.components = components
        self.faults = faults
        self.set_fault = set_fault
        self._server: ThreadingHTTPServer | None = None

    def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve from a daemon thread; returns the base URL."""
        control = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                if self.path == "/components":
                    self._json(200, control.components())
                elif self.path == "/faults":
                    self._json(200, control.faults())
                else:
                    self._problem(404, "Not found", f"no route {self.path} (GET /components, GET /faults)")

            def do_PUT(self) -> None:
                target = self.path.removeprefix("/faults/")
                if not self.path.startswith("/faults/") or "/" in target:
                    self._problem(404, "Not found", f"no route {self.path} (PUT /faults/<target>)")
                    return
                length = int(self.headers.get("content-length") or 0)
                if length > MAX_BODY:
                    self._problem(413, "Body too large", f"at most {MAX_BODY} bytes", field="body")
                    return
                try:
                    mode, latency = parse_fault(self.rfile.read(length))
                except BadField as exc:
                    self._problem(400, "Invalid fault", str(exc), field=exc.field)
                    return
                state = control.set_fault(target, mode, latency)
                if state is None:
                    known = ", ".join(sorted(control.faults())) or "none: start with SHOP_FAULT_PROXIES=1"
                    self._problem(404, "Unknown fault target", f"no fault proxy {target!r} (targets: {known})")
                    return
                self._json(200, state)

            def _json(self, status: int, body: object, content_type: str = "application/json") -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("content-type", content_type)
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _problem(self, status: int, title: str, detail: str, field: str | None = None) -> None:
                body = {"type": "about:blank", "title": title, "status": status, "detail": detail}
                if field:
                    body["field"] = field
                self._json(status, body, "application/problem+json")

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, name="control-api", daemon=True).start()
        bound_host, bound_port = self._server.server_address[:2]
        return f"http://{bound_host}:{bound_port}"

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
