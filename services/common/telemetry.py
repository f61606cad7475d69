"""Traces: OpenTelemetry in the chassis, exported as X-Ray segments (locally) or OTLP to ADOT (on EKS).

``setup(name, settings)`` is called once by the app factory. With ``SHOP_TRACING=off`` (the default)
nothing of OpenTelemetry is imported: a service pays nothing at start-up (issue 14 measured the
import cost; see docs/tracing.md). With ``xray`` or ``otlp`` it builds one tracer provider for the
process with:

- **X-Ray ids** (``AwsXRayIdGenerator``: the first 32 bits of a trace id are its start time, as X-Ray
  requires) and **both propagators**: W3C ``traceparent`` and ``X-Amzn-Trace-Id``;
- **sampling from reference/** (``SAMPLING_RULES``): a trace starts only at a server span (a request);
  each rule keeps ``reservoir`` traces a second, then ``rate`` of the rest, as X-Ray's rules do;
  downstream services follow the caller's decision. Background work (the relay's and consumers'
  polls) starts no trace of its own; it joins the trace of the event it carries.
  ``SHOP_TRACE_SAMPLING=all`` keeps every request (local debugging);
- **a gate in front of every app** (``instrument_app``: ``TraceGate``) that decides a request's trace
  before any span is made and gives only the sampled requests a server span (``ServerSpans``);
  under an unsampled one instrumentation is suppressed (the cost of tracing, issue 14: docs/tracing.md);
- **client spans** for a kept request's calls: the chassis' own for its HTTP clients (``traced_call``, through
  ``services.common.http.TracedTransport``), its Redis clients (``instrument_redis``) and the statements of
  each database the runtime builds (``sql_span``, from ``services.common.db.Session``), which cost an unsampled
  request's call one look at the current span; OpenTelemetry's botocore instrumentation for the AWS SDK;
- **export**: ``xray`` converts each finished span to an X-Ray segment document and sends batches
  with ``PutTraceSegments`` to the endpoint boto3 is configured for (the emulator locally); ``otlp``
  sends OTLP/HTTP to the ADOT collector (``OTEL_EXPORTER_OTLP_ENDPOINT``), which does the same
  conversion and sends to X-Ray.

Events carry the trace: ``carrier()`` is stored with the outbox row, the relay publishes it as
SNS message attributes, SQS hands them to the consumer, and ``consuming()`` continues the trace
there, so one trace spans a checkout, its events and every consumer (and the DLQ: a redriven
message keeps its attributes).
"""

from __future__ import annotations

import contextlib
import fnmatch
import json
import logging
import random
import re
import threading
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, NamedTuple
from urllib.parse import urlsplit

from reference.observability import SAMPLING_RULES, SamplingRule

XRAY_HEADER = "X-Amzn-Trace-Id"
TRACE_ATTRIBUTES = ("traceparent", XRAY_HEADER)  # what travels in the outbox row and as message attributes
MODES = ("off", "xray", "otlp")
QUIET_PATHS = ("/healthz", "/readyz")  # never traced
# The headers a caller's trace comes in, as ASGI gives them -> as the propagators look them up.
_TRACE_HEADERS = {b"traceparent": "traceparent", b"tracestate": "tracestate", XRAY_HEADER.lower().encode(): XRAY_HEADER}
MAX_DOCUMENTS = 50  # PutTraceSegments: at most 50 documents per call
MAX_RULE_CACHE = 4096  # RuleSampler: the (method, path) pairs whose rule it remembers
log = logging.getLogger("services.telemetry")

# X-Ray's default rule, for a request no rule of reference/ matches: one a second, then 5 %.
DEFAULT_RULE = SamplingRule("Default", 10000, "*", rate=0.05, reservoir=1)

_provider: Any = None  # the process' TracerProvider once tracing is on
_decide: Callable[[str, str], bool] | None = None  # the process' sampling decision for a request starting a trace
_gate_decision: ContextVar[bool | None] = ContextVar("shop_trace_gate_decision", default=None)


class _Unsampled(NamedTuple):
    """What the gate made once for an unsampled request: the trace id, the headers its calls carry, the id its
    log lines carry (X-Ray form), and the context it attached (while it is current, these answer for it)."""

    trace_id: int
    headers: dict[str, str]
    xray_id: str
    context: Any


# An unsampled request's trace headers, made once by its gate: every call it makes carries the same ones (its trace
# id and Sampled=0; no span of it is recorded, so no call needs its own parent id).
_unsampled_carrier: ContextVar[_Unsampled | None] = ContextVar("shop_unsampled_carrier", default=None)
_lock = threading.Lock()


def enabled() -> bool:
    """Whether this process traces (``setup`` turned it on)."""
    return _provider is not None


# --------------------------------------------------------------------------- X-Ray ids and headers


def xray_trace_id(trace_id: int) -> str:
    """An OpenTelemetry trace id in X-Ray form: ``1-<8 hex: start time>-<24 hex>``."""
    hex_id = f"{trace_id:032x}"
    return f"1-{hex_id[:8]}-{hex_id[8:]}"


def new_xray_trace_id(now: float | None = None) -> str:
    """A fresh X-Ray trace id (what the ALB puts in ``Root=`` for a request that has none)."""
    return f"1-{int(now if now is not None else time.time()):08x}-{random.getrandbits(96):024x}"


def new_segment_id() -> str:
    return f"{random.getrandbits(64) or 1:016x}"


def parse_xray_header(value: str | None) -> dict[str, str]:
    """``Root=1-..;Parent=..;Sampled=1`` as a dict (keys as given; empty when absent or malformed)."""
    fields: dict[str, str] = {}
    for part in (value or "").split(";"):
        key, sep, val = part.strip().partition("=")
        if sep and key:
            fields[key] = val
    return fields


def format_xray_header(fields: Mapping[str, str]) -> str:
    return ";".join(f"{k}={v}" for k, v in fields.items())


def current_trace_id() -> str | None:
    """The X-Ray id of the trace the caller runs in (None when tracing is off or outside any trace)."""
    if _provider is None:
        return None
    api = _api or _otel()
    current = api.get_current()
    unsampled = _unsampled_carrier.get()
    if unsampled is not None and current is unsampled.context:
        return unsampled.xray_id  # an unsampled request's own context: the id its gate wrote (every log line)
    span = current.get(api.span_key)  # a kept request, or work inside an event's trace
    ctx = span.get_span_context() if span is not None else None
    return xray_trace_id(ctx.trace_id) if ctx is not None and ctx.is_valid else None


# --------------------------------------------------------------------------- sampling


class RuleSampler:
    """X-Ray's sampling rules applied locally: the first matching rule (by priority) keeps ``reservoir``
    requests each second, then ``rate`` of the rest. AWS shares a rule's reservoir between all hosts
    through the X-Ray API; here each process has its own (the difference is in docs/tracing.md)."""

    def __init__(
        self,
        rules: Sequence[SamplingRule] = SAMPLING_RULES,
        *,
        clock: Callable[[], float] = time.monotonic,
        rand: Callable[[], float] = random.random,
    ):
        self.rules = sorted(rules, key=lambda r: r.priority)
        # Each rule's method and path glob, compiled once: this runs for every request that starts a trace.
        self._matchers = [
            (rule.http_method.upper(), re.compile(fnmatch.translate(rule.url_path)).match, rule) for rule in self.rules
        ]
        self.clock, self.rand = clock, rand
        self._lock = threading.Lock()
        self._window = {rule.name: [0, 0] for rule in (*self.rules, DEFAULT_RULE)}  # rule -> [second, taken]
        self._found: dict[tuple[str, str], SamplingRule] = {}  # (method, path) -> its rule: the shop's paths repeat

    def rule_for(self, path: str, method: str) -> SamplingRule:
        found = self._found.get((method, path))
        if found is None:
            found = self._matching(path, method)
            if len(self._found) >= MAX_RULE_CACHE:  # ids in paths: bounded, started afresh when full
                self._found.clear()
            self._found[(method, path)] = found
        return found

    def _matching(self, path: str, method: str) -> SamplingRule:
        upper = method.upper()
        for rule_method, matches, rule in self._matchers:
            if (rule_method == "*" or rule_method == upper) and matches(path):
                return rule
        return DEFAULT_RULE

    def sample(self, path: str, method: str) -> bool:
        rule = self.rule_for(path, method)
        second = int(self.clock())
        with self._lock:
            window = self._window[rule.name]
            if window[0] != second:
                window[0], window[1] = second, 0
            if window[1] < rule.reservoir:
                window[1] += 1
                return True
        return self.rand() < rule.rate


def decider(mode: str) -> Callable[[str, str], bool]:
    """``sample(path, method)`` for ``SHOP_TRACE_SAMPLING``: ``rules`` (reference/) or ``all``."""
    if mode == "all":
        return lambda _path, _method: True
    return RuleSampler().sample


# --------------------------------------------------------------------------- set-up (OpenTelemetry imported here only)


def setup(service: str, mode: str, sampling: str = "rules", *, region: str | None = None) -> bool:
    """Turn tracing on for this process (once; later calls only report). False when ``mode`` is off."""
    global _provider, _decide
    if mode == "off":
        return False
    if mode not in MODES:
        raise ValueError(f"SHOP_TRACING must be one of {', '.join(MODES)}, not {mode!r}")
    with _lock:
        if _provider is not None:
            return True
        from opentelemetry import propagate, trace
        from opentelemetry.instrumentation.botocore import BotocoreInstrumentor
        from opentelemetry.propagate import set_global_textmap
        from opentelemetry.propagators.aws import AwsXRayPropagator
        from opentelemetry.propagators.composite import CompositePropagator
        from opentelemetry.sdk.extension.aws.trace import AwsXRayIdGenerator
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
        from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

        _decide = decider(sampling)
        provider = TracerProvider(
            resource=Resource.create({"service.name": service, "cloud.provider": "aws", "cloud.platform": "aws_eks"}),
            id_generator=AwsXRayIdGenerator(),
            sampler=_otel_sampler(_decide),
        )
        exporter = XRayExporter(service, region=region) if mode == "xray" else _otlp_exporter()
        # OpenTelemetry's own setting decides how often a batch goes (OTEL_BSP_SCHEDULE_DELAY, 5,000 ms unless set):
        # a PutTraceSegments call costs the service a few milliseconds of CPU however few spans it carries.
        provider.add_span_processor(BatchSpanProcessor(exporter))
        trace.set_tracer_provider(provider)
        set_global_textmap(CompositePropagator([TraceContextTextMapPropagator(), AwsXRayPropagator()]))
        assert propagate.get_global_textmap() is not None
        BotocoreInstrumentor().instrument()
        _provider = provider
    log.info("tracing on: %s export, %s sampling", mode, sampling)
    return True


def _otlp_exporter() -> Any:
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter()  # reads OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT: the ADOT collector's :4318


def _otel_sampler(sample: Callable[[str, str], bool]) -> Any:
    from opentelemetry.sdk.trace.sampling import Decision, ParentBased, Sampler, SamplingResult
    from opentelemetry.trace import SpanKind

    class XRayRules(Sampler):
        """Root spans: only requests start a trace, kept by the X-Ray rules; everything else follows its parent."""

        def should_sample(self, parent_context, trace_id, name, kind=None, attributes=None, links=None,
                          trace_state=None):  # fmt: skip
            attrs = attributes or {}
            if kind is not SpanKind.SERVER:
                return SamplingResult(Decision.DROP)
            keep = _gate_decision.get()  # the request's gate decided already (TraceGate): never twice
            if keep is None:
                path = str(attrs.get("url.path") or attrs.get("http.target") or "/").split("?")[0]
                keep = sample(path, str(attrs.get("http.request.method") or attrs.get("http.method") or "GET"))
            return SamplingResult(Decision.RECORD_AND_SAMPLE if keep else Decision.DROP, attributes)

        def get_description(self) -> str:
            return "XRayRules"

    return ParentBased(root=XRayRules())


def instrument_app(app: Any) -> None:
    """Server spans for the sampled requests of a FastAPI app (not /healthz, /readyz): ``TraceGate`` outermost."""
    if _provider is None:
        return
    app.add_middleware(TraceGate)


class TraceGate:
    """Pure ASGI middleware: decide a request's trace first, and make spans only for the sampled ones.

    The decision is the caller's (``traceparent`` or ``X-Amzn-Trace-Id``, as the front door or another
    service sends it) or, for a request that starts a trace, the X-Ray rules. A sampled request gets
    its server span (``ServerSpans``: method, path, route, status). An
    unsampled one (most of them: the ``api`` rule keeps 1 a second and 5 %) gets the trace's context
    as a non-recording span, so its calls and events carry ``Sampled=0`` on and log lines their trace
    id, with instrumentation suppressed under it: no span, no attribute collected, on any hop. That
    work, done for every request and then dropped, was most of tracing's cost (docs/tracing.md).
    """

    def __init__(self, app: Any):
        from opentelemetry import context, propagate, trace
        from opentelemetry.context import Context
        from opentelemetry.instrumentation.utils import _SUPPRESS_INSTRUMENTATION_KEY
        from opentelemetry.trace.propagation import _SPAN_KEY

        self.app = app
        self.traced = ServerSpans(app)
        self._context, self._propagate, self._trace = context, propagate, trace
        self._suppress = _SUPPRESS_INSTRUMENTATION_KEY
        self._ids = _provider.id_generator
        self._decide = _decide or decider("rules")
        # An unsampled request's context, made in one step: its non-recording span and the suppression key (what
        # set_span_in_context and set_value would make in two copies), with the flags' objects made once.
        self._unsampled_context = lambda span: Context({_SPAN_KEY: span, _SUPPRESS_INSTRUMENTATION_KEY: True})
        self._flags = {flags: trace.TraceFlags(flags) for flags in range(256)}

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] in QUIET_PATHS:
            await self.app(scope, receive, send)
            return
        given = {_TRACE_HEADERS[k]: v.decode("latin-1") for k, v in scope["headers"] if k in _TRACE_HEADERS}
        caller = caller_context(given) if given else None
        if caller is _UNREAD:  # a W3C tracestate to carry on, or a header this reader leaves to the propagators
            unsampled = self._read_by_propagators(given, scope)
        elif caller[2] & 1 if caller else self._decide(scope["path"], scope["method"]):
            unsampled = None
        else:
            unsampled = self._unsampled(caller)
        if unsampled is None:
            decided = _gate_decision.set(True)
            try:
                await self.traced(given, scope, receive, send)
            finally:
                _gate_decision.reset(decided)
            return
        # Run here rather than in a helper coroutine: every await of the request resumes each frame of the chain.
        token = self._context.attach(unsampled.context)
        carried = _unsampled_carrier.set(unsampled)
        try:
            await self.app(scope, receive, send)
        finally:
            _unsampled_carrier.reset(carried)
            self._context.detach(token)

    def _unsampled(self, caller: tuple[int, int, int] | None) -> _Unsampled:
        """An unsampled request's context, continuing ``caller`` or starting a trace (its id still travels, as
        X-Ray's Root does), and the headers the composite propagator would write for it (W3C, then X-Ray)."""
        if caller:
            trace_id, span_id, flags = caller
        else:
            trace_id, span_id, flags = self._ids.generate_trace_id(), self._ids.generate_span_id(), 0
        trace = self._trace
        span = trace.NonRecordingSpan(trace.SpanContext(trace_id, span_id, caller is not None, self._flags[flags]))
        hex_id = f"{trace_id:032x}"
        xray_id = f"1-{hex_id[:8]}-{hex_id[8:]}"  # what xray_trace_id makes, from the hex already made
        headers = {
            "traceparent": f"00-{hex_id}-{span_id:016x}-{flags:02x}",
            XRAY_HEADER: f"Root={xray_id};Parent={span_id:016x};Sampled=0",
        }
        return _Unsampled(trace_id, headers, xray_id, self._unsampled_context(span))

    def _read_by_propagators(self, given: dict[str, str], scope: Any) -> _Unsampled | None:
        """The caller's context read by OpenTelemetry's propagators themselves (what ``caller_context`` leaves):
        None when the request is to be kept, else its unsampled context (the caller's ``tracestate`` kept)."""
        parent = self._propagate.extract(given)
        caller = self._trace.get_current_span(parent).get_span_context()
        if caller.is_valid and caller.trace_flags.sampled:
            return None
        if not caller.is_valid:
            if self._decide(scope["path"], scope["method"]):
                return None
            caller = self._trace.SpanContext(self._ids.generate_trace_id(), self._ids.generate_span_id(), False)
            parent = self._trace.set_span_in_context(self._trace.NonRecordingSpan(caller), parent)
        headers: dict[str, str] = {}
        self._propagate.inject(headers, context=parent)
        suppressed = self._context.set_value(self._suppress, True, parent)
        return _Unsampled(caller.trace_id, headers, xray_trace_id(caller.trace_id), suppressed)


_UNREAD: Any = object()  # caller_context: left to OpenTelemetry's propagators
_HEX = frozenset("0123456789abcdef")
_HEX_ANY_CASE = frozenset("0123456789abcdefABCDEF")


def caller_context(given: Mapping[str, str]) -> tuple[int, int, int] | None:
    """The caller's trace as the composite propagator (W3C, then X-Ray) reads it: ``(trace id, parent span id,
    trace flags)``, None when neither header holds a valid one, ``_UNREAD`` for what this reader leaves to the
    propagators (a ``tracestate`` beside a ``traceparent`` that wins, an unusual header).

    The gate's own reading, for every request: the propagators build a context, a span and a dict per propagator
    to be read back at once, a good part of what an unsampled request cost (docs/tracing.md). The result is the
    propagators' (``tests/unit/test_telemetry.py`` compares them on generated headers).
    """
    xray = given.get(XRAY_HEADER)
    if xray:
        found = _xray_context(xray)
        if found is _UNREAD or found is not None:
            return found  # applied last by the composite propagator: a valid X-Ray header wins
    parent = given.get("traceparent")
    if not parent:
        return None
    # 00-<32 hex>-<16 hex>-<2 hex>, lower case, exactly: anything else (padding, other versions) -> the propagator.
    if (
        len(parent) != 55
        or parent[2] != "-"
        or parent[35] != "-"
        or parent[52] != "-"
        or not _HEX.issuperset(parent[:2] + parent[3:35] + parent[36:52] + parent[53:])
    ):
        return _UNREAD
    version, trace_id, span_id = parent[:2], int(parent[3:35], 16), int(parent[36:52], 16)
    if version != "00" or "tracestate" in given:
        return _UNREAD
    if not trace_id or not span_id:
        return None
    return trace_id, span_id, int(parent[53:], 16)


def _xray_context(header: str) -> tuple[int, int, int] | None:
    """``Root=1-<8 hex>-<24 hex>;Parent=<16 hex>;Sampled=<0|1>`` in any order, as AwsXRayPropagator reads it."""
    trace_id = span_id = sampled = 0
    for pair in header.split(";"):
        key, sep, value = pair.partition("=")
        if not sep or "=" in value:
            return None  # the propagator refuses the whole header
        key, value = key.strip(), value.strip()
        if key == "Root":
            if len(value) != 35 or value[:2] != "1-" or value[10] != "-":
                return None
            digits = value[2:10] + value[11:]
            if not _HEX_ANY_CASE.issuperset(digits):
                return _UNREAD  # int() reads more than hex digits (signs, underscores): the propagator decides
            trace_id = int(digits, 16)
        elif key == "Parent":
            if len(value) != 16:
                return None
            if not _HEX_ANY_CASE.issuperset(value):
                return _UNREAD
            span_id = int(value, 16)
        elif key == "Sampled":
            if value not in ("0", "1"):
                return None
            sampled = value == "1"
    if not trace_id or not span_id:
        return None
    return trace_id, span_id, int(sampled)


class ServerSpans:
    """The server span of a kept request, with what its X-Ray segment reads: method, path, route, status.

    In place of OpenTelemetry's ASGI middleware, which collects a dozen attributes (in two versions of the
    semantic conventions, the URL parsed, every header decoded) that nothing here reads: on a kept request
    that was most of tracing's cost (docs/tracing.md). The span is named after the route template
    (``GET /products/{product_id}``) once routing has found it, when the response starts, and ends with the
    response's last byte; a status of 500 or more marks it failed, as does an exception passing through.
    """

    def __init__(self, app: Any):
        from opentelemetry import context, propagate, trace
        from opentelemetry.trace import SpanKind, StatusCode

        self.app = app
        self._tracer = trace.get_tracer("services.common.telemetry", tracer_provider=_provider)
        self._context, self._propagate, self._trace = context, propagate, trace
        self._server, self._error = SpanKind.SERVER, StatusCode.ERROR

    async def __call__(self, given: Mapping[str, str], scope: Any, receive: Any, send: Any) -> None:
        method, path = scope["method"], scope["path"]
        parent = self._propagate.extract(given) if given else self._context.Context()
        attributes = {"http.request.method": method, "url.path": path, "url.scheme": scope.get("scheme", "http")}
        if scope.get("query_string"):
            attributes["url.query"] = scope["query_string"].decode("latin-1")
        span = self._tracer.start_span(f"{method} {path}", parent, self._server, attributes)
        token = self._context.attach(self._trace.set_span_in_context(span, parent))

        async def send_spanned(message: Any) -> None:
            if message["type"] == "http.response.start":
                status = message["status"]
                span.set_attribute("http.response.status_code", status)
                if template := getattr(scope.get("route"), "path", None):
                    span.update_name(f"{method} {template}")
                    span.set_attribute("http.route", template)
                if status >= 500:
                    span.set_status(self._error)
            await send(message)

        try:
            await self.app(scope, receive, send_spanned)
        except Exception as exc:
            span.record_exception(exc)
            span.set_status(self._error, f"{type(exc).__name__}: {exc}")
            raise
        finally:
            self._context.detach(token)
            span.end()


# --------------------------------------------------------------------------- client spans: the chassis' own calls


class _Api(NamedTuple):
    """What the client spans use of OpenTelemetry, looked up once (tracing on only)."""

    get_current: Callable[[], Any]
    span_key: str
    suppress_key: str
    client: Any  # SpanKind.CLIENT
    error: Any  # StatusCode.ERROR
    set_span_in_context: Callable[..., Any]
    inject: Callable[..., None]


_api: _Api | None = None
_tracers: dict[int, Any] = {}  # id(provider) -> the chassis' tracer (tests swap providers)


def _otel() -> _Api:
    global _api
    if _api is None:
        from opentelemetry import context, propagate, trace
        from opentelemetry.instrumentation.utils import _SUPPRESS_INSTRUMENTATION_KEY
        from opentelemetry.trace.propagation import _SPAN_KEY

        _api = _Api(context.get_current, _SPAN_KEY, _SUPPRESS_INSTRUMENTATION_KEY, trace.SpanKind.CLIENT,
                    trace.StatusCode.ERROR, trace.set_span_in_context, propagate.inject)  # fmt: skip
    return _api


def _tracer() -> Any:
    tracer = _tracers.get(id(_provider))
    if tracer is None:
        tracer = _tracers[id(_provider)] = _provider.get_tracer("services.common.telemetry")
    return tracer


def unsampled_headers() -> dict[str, str] | None:
    """The trace headers of the unsampled request the caller serves (its gate made them), None otherwise: for
    every call of most requests the one question, two ``ContextVar`` reads. Do not change the dict."""
    unsampled = _unsampled_carrier.get()
    if unsampled is not None and (_api or _otel()).get_current() is unsampled.context:
        return unsampled.headers
    return None


def recording_parent() -> Any:
    """The current span if it records and instrumentation is not suppressed (a kept request's), else None."""
    api = _api or _otel()
    current = api.get_current()
    span = current.get(api.span_key)
    if span is None or not span.is_recording() or current.get(api.suppress_key):
        return None
    return span


async def traced_call(request: Any, send: Callable[[Any], Awaitable[Any]]) -> Any:
    """``send(request)`` (an httpx request, to its transport) with the trace's headers, as a client span when the
    request it serves is kept: method, URL, server address and port, status, what ``segment_document`` reads.

    In place of opentelemetry-instrumentation-httpx, whose wrapper ran on every call and asked the context whether
    it was suppressed: here an unsampled request's call takes its gate's headers and goes (docs/tracing.md).
    """
    headers = unsampled_headers()
    if headers is not None:
        request.headers.update(headers)
        return await send(request)
    if _provider is None or recording_parent() is None:  # outside a kept request: its context, no span
        request.headers.update(carrier())
        return await send(request)
    api = _api or _otel()
    url = request.url
    attributes = {"http.request.method": request.method, "url.full": str(url), "server.address": url.host}
    if url.port is not None:
        attributes["server.port"] = url.port
    span = _tracer().start_span(request.method, kind=api.client, attributes=attributes)
    written: dict[str, str] = {}
    api.inject(written, context=api.set_span_in_context(span))
    request.headers.update(written)
    try:
        response = await send(request)
    except BaseException as exc:
        span.record_exception(exc)
        span.set_attribute("error.type", type(exc).__qualname__)
        span.set_status(api.error, f"{type(exc).__name__}: {exc}")
        span.end()
        raise
    span.set_attribute("http.response.status_code", response.status_code)
    if response.status_code >= 400:  # a client span fails on 4xx and 5xx (OpenTelemetry's conventions)
        span.set_status(api.error)
    span.end()
    return response


def instrument_redis(client: Any) -> None:
    """Client spans for a Redis client's commands and pipelines, for kept requests only (``SET ? ?``, no values).

    In place of opentelemetry-instrumentation-redis, which wrapped every client's methods with wrapt and asked
    the context on each command whether it was suppressed: here a command outside a kept request costs one
    look at the current span. Only this client is wrapped (its instance attributes).
    """
    if _provider is None:
        return
    kwargs = getattr(getattr(client, "connection_pool", None), "connection_kwargs", {}) or {}
    where: dict[str, Any] = {"db.system": "redis", "db.redis.database_index": int(kwargs.get("db") or 0)}
    if kwargs.get("host"):
        where["server.address"] = str(kwargs["host"])
        where["server.port"] = int(kwargs.get("port") or 6379)
    command, pipeline = client.execute_command, client.pipeline

    async def execute_command(*args: Any, **options: Any) -> Any:
        if recording_parent() is None:
            return await command(*args, **options)
        name = str(args[0]) if args else "redis"
        statement = " ".join([name, *("?" * (len(args) - 1))])[:1000]
        with _redis_span(name, where | {"db.statement": statement, "db.redis.args_length": len(args)}):
            return await command(*args, **options)

    def traced_pipeline(*args: Any, **kwargs: Any) -> Any:
        pipe = pipeline(*args, **kwargs)
        execute = pipe.execute

        async def execute_pipeline(*args: Any, **kwargs: Any) -> Any:
            if recording_parent() is None:
                return await execute(*args, **kwargs)
            names = [str(c[0][0]) if c and c[0] else "?" for c in getattr(pipe, "command_stack", [])]
            statement = "\n".join(names)[:1000]
            attributes = where | {"db.statement": statement, "db.redis.pipeline_length": len(names)}
            with _redis_span(" ".join(dict.fromkeys(names)) or "pipeline", attributes):
                return await execute(*args, **kwargs)

        pipe.execute = execute_pipeline
        return pipe

    client.execute_command, client.pipeline = execute_command, traced_pipeline


@contextlib.contextmanager
def _redis_span(name: str, attributes: Mapping[str, Any]) -> Iterator[None]:
    api = _api or _otel()
    span = _tracer().start_span(name, kind=api.client, attributes=attributes)
    try:
        yield
    except BaseException as exc:
        span.record_exception(exc)
        span.set_status(api.error, f"{type(exc).__name__}: {exc}")
        raise
    finally:
        span.end()


def sql_attributes(url: Any) -> dict[str, Any] | None:
    """What a statement's client span says of its database (``url``, SQLAlchemy's): the system, the database and
    where it is, what its X-Ray subsegment reads (``sql``). None when tracing is off: no span is made."""
    if _provider is None:
        return None
    vendor = url.get_backend_name() or "db"
    where: dict[str, Any] = {"db.system": "postgresql" if "postgres" in vendor else vendor}
    for key, value in (("db.name", url.database), ("server.address", url.host), ("server.port", url.port),
                       ("db.user", url.username)):  # fmt: skip
        if value:
            where[key] = value
    return where


def sql_span(where: dict[str, Any], statement: str) -> Any:
    """A client span for ``statement`` when a kept request (or a kept event's work) runs it, else None: outside a
    kept request a statement costs one look at the current span (opentelemetry-instrumentation-sqlalchemy's
    tracer also listened to every pool checkout and made a non-recording span per statement)."""
    if recording_parent() is None:
        return None
    words = statement.split(None, 1)
    name = " ".join(w for w in (words[0] if words else "", where.get("db.name", "")) if w) or where["db.system"]
    return _tracer().start_span(name, kind=(_api or _otel()).client, attributes=where | {"db.statement": statement})


def end_sql_span(span: Any, error: BaseException | None) -> None:
    """End what ``sql_span`` started (None: nothing), marked failed if the statement raised ``error``."""
    if span is None:
        return
    if error is not None:
        span.set_status((_api or _otel()).error, str(error)[:1000])
    span.end()


def flush(timeout_s: float = 5.0) -> None:
    """Send what is buffered (a stopping service's last spans)."""
    if _provider is not None:
        _provider.force_flush(int(timeout_s * 1000))


# --------------------------------------------------------------------------- context through events


def carrier() -> dict[str, str]:
    """The current trace context as headers (``traceparent``, ``X-Amzn-Trace-Id``); empty when off."""
    if _provider is None:
        return {}
    api = _api or _otel()
    current = api.get_current()
    unsampled = _unsampled_carrier.get()
    if unsampled is not None:
        span = current.get(api.span_key)
        same_trace = span is not None and span.get_span_context().trace_id == unsampled.trace_id
        if current is unsampled.context or same_trace:
            return dict(unsampled.headers)  # still in the unsampled request's own trace
    out: dict[str, str] = {}
    api.inject(out)
    return out


def message_attributes(context: Mapping[str, str] | None) -> dict[str, dict[str, str]]:
    """SNS/SQS message attributes carrying a stored trace context."""
    return {k: {"DataType": "String", "StringValue": v} for k, v in (context or {}).items() if k in TRACE_ATTRIBUTES}


def from_message_attributes(attributes: Mapping[str, Any]) -> dict[str, str]:
    """The trace context an SQS message carries (its message attributes, as ReceiveMessage returns them)."""
    out = {}
    for name in TRACE_ATTRIBUTES:
        value = attributes.get(name)
        if isinstance(value, Mapping) and value.get("StringValue"):
            out[name] = str(value["StringValue"])
    return out


@contextlib.contextmanager
def span(name: str, context: Mapping[str, str] | None = None, *, kind: str = "internal",
         attributes: Mapping[str, Any] | None = None) -> Iterator[Any]:  # fmt: skip
    """A span (current inside the block) continuing ``context`` if given, else the current trace.

    ``kind``: internal, producer or consumer. Yields the span (None when tracing is off); an
    exception marks it as failed and goes on.
    """
    if _provider is None:
        yield None
        return
    from opentelemetry import propagate, trace

    parent = propagate.extract(dict(context)) if context else None
    tracer = trace.get_tracer("services.common.telemetry", tracer_provider=_provider)
    with tracer.start_as_current_span(
        name, context=parent, kind=getattr(trace.SpanKind, kind.upper()), attributes=dict(attributes or {})
    ) as current:
        yield current


class Spans:
    """One span per message of a batch (``kind`` producer or consumer), each continuing its message's trace.

    None is made current (the messages belong to different traces); ``carriers`` are the spans'
    contexts, to send with the messages, so each consumer's span is a child of its producer span.
    """

    def __init__(self, names: Sequence[str], contexts: Sequence[Mapping[str, str] | None], kind: str = "producer"):
        self.names, self.contexts, self.kind = names, contexts, kind
        self.spans: list[Any] = []
        self.carriers: list[dict[str, str]] = [{} for _ in names]

    def __enter__(self) -> Spans:
        if _provider is None:
            return self
        from opentelemetry import propagate, trace

        tracer = trace.get_tracer("services.common.telemetry", tracer_provider=_provider)
        for i, (name, stored) in enumerate(zip(self.names, self.contexts, strict=True)):
            if not stored:  # written while tracing was off, or outside a request: no trace to continue
                self.spans.append(None)
                continue
            kind = getattr(trace.SpanKind, self.kind.upper())
            started = tracer.start_span(name, context=propagate.extract(dict(stored)), kind=kind)
            self.spans.append(started)
            propagate.inject(self.carriers[i], context=trace.set_span_in_context(started))
        return self

    def settle(self, accepted: Sequence[bool], reason: str | Sequence[str]) -> None:
        """Mark the spans of the messages not ``accepted`` as failed, with ``reason`` (one, or one each)."""
        reasons = [reason] * len(accepted) if isinstance(reason, str) else reason
        for started, ok, why in zip(self.spans, accepted, reasons, strict=False):
            if not ok:
                fail(started, why)

    def __exit__(self, *exc: object) -> None:
        for started in self.spans:
            if started is not None:
                started.end()


@contextlib.contextmanager
def untraced() -> Iterator[None]:
    """No spans, no injected context for the calls inside (the relay's PublishBatch: botocore's SNS
    instrumentation would write the *call's* context into every entry, over each event's own)."""
    if _provider is None:
        yield
        return
    from opentelemetry.instrumentation.utils import suppress_instrumentation

    with suppress_instrumentation():
        yield


def fail(current: Any, reason: str) -> None:
    """Mark ``current`` (from ``span``) as failed with ``reason`` (no-op when tracing is off)."""
    if current is None:
        return
    from opentelemetry.trace import Status, StatusCode

    current.set_status(Status(StatusCode.ERROR, reason))


# --------------------------------------------------------------------------- X-Ray export


@dataclass(frozen=True)
class XRaySender:
    """Sends segment documents with ``PutTraceSegments`` (50 a call) to the endpoint boto3 is set up for."""

    client: Any

    @classmethod
    def connect(cls, region: str | None = None) -> XRaySender:
        import boto3

        return cls(boto3.client("xray", region_name=region))

    def send(self, documents: Sequence[dict[str, Any]]) -> int:
        """Send ``documents``; returns how many X-Ray refused (logged)."""
        refused = 0
        for start in range(0, len(documents), MAX_DOCUMENTS):
            batch = documents[start : start + MAX_DOCUMENTS]
            chunk = [json.dumps(d, separators=(",", ":"), default=str) for d in batch]
            answer = self.client.put_trace_segments(TraceSegmentDocuments=chunk)
            for item in answer.get("UnprocessedTraceSegments", []):
                refused += 1
                log.warning("X-Ray refused segment %s: %s", item.get("Id"), item.get("Message"))
        return refused


class XRayExporter:
    """An OpenTelemetry span exporter writing X-Ray segment documents (what ADOT's awsxray exporter does)."""

    def __init__(self, service: str, *, region: str | None = None, sender: XRaySender | None = None):
        self.service = service
        self.region = region
        self._sender = sender

    def export(self, spans: Sequence[Any]) -> Any:
        from opentelemetry.instrumentation.utils import suppress_instrumentation
        from opentelemetry.sdk.trace.export import SpanExportResult

        try:
            if self._sender is None:
                self._sender = XRaySender.connect(self.region)
            with suppress_instrumentation():  # sending spans makes none (botocore's instrumentation)
                self._sender.send([segment_document(s, self.service) for s in spans])
        except Exception as exc:  # noqa: BLE001 - a lost trace must never fail the request
            log.warning("sending %d spans to X-Ray failed: %s", len(spans), exc)
            return SpanExportResult.FAILURE
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        pass

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


SEGMENT_KINDS = ("SERVER", "CONSUMER")


def segment_document(span: Any, service: str) -> dict[str, Any]:
    """One finished OpenTelemetry span as an X-Ray segment document.

    Server and consumer spans, and spans whose parent is in another process, are *segments* named
    after the service; the others are independent *subsegments* (``type: subsegment``) under their
    parent span, named after what they call (the downstream service, ``SQS``, ``postgres``, ...).
    """
    ctx, parent, kind = span.context, span.parent, span.kind.name
    attrs = dict(span.attributes or {})
    is_segment = kind in SEGMENT_KINDS or parent is None or parent.is_remote
    doc: dict[str, Any] = {
        "name": service if is_segment else _subsegment_name(span.name, kind, attrs),
        "id": f"{ctx.span_id:016x}",
        "trace_id": xray_trace_id(ctx.trace_id),
        "start_time": span.start_time / 1e9,
        "end_time": (span.end_time or span.start_time) / 1e9,
        "metadata": {"otel": {"name": span.name, "kind": kind, "attributes": _jsonable(attrs)}},
        "annotations": {"operation": _operation(span.name, kind, attrs)[:250]},
    }
    if parent is not None:
        doc["parent_id"] = f"{parent.span_id:016x}"
    if is_segment:
        doc["origin"] = "AWS::EKS::Container"
    else:
        doc["type"] = "subsegment"
        doc["namespace"] = "aws" if attrs.get("rpc.system") == "aws-api" else "remote" if kind == "CLIENT" else "local"
    status = _http_status(attrs)
    if http := _http(attrs, status):
        doc["http"] = http
    if attrs.get("rpc.system") == "aws-api":
        doc["aws"] = {"operation": attrs.get("rpc.method"), "region": attrs.get("cloud.region"),
                      "request_id": attrs.get("aws.request_id")}  # fmt: skip
    if database := attrs.get("db.system") or attrs.get("db.system.name"):
        query = str(attrs.get("db.statement") or attrs.get("db.query.text") or "")
        doc["sql"] = {"database_type": database, "sanitized_query": query[:1000]}
    failed = span.status.status_code.name == "ERROR"
    if status is not None and 400 <= status < 500:
        doc["error"] = True
        doc["throttle"] = status == 429 or None
    elif failed or (status is not None and status >= 500):
        doc["fault"] = True
    if failed and span.status.description:
        doc["cause"] = {"exceptions": [{"id": new_segment_id(), "message": span.status.description[:1000]}]}
    return {k: v for k, v in doc.items() if v is not None}


def _operation(name: str, kind: str, attrs: Mapping[str, Any]) -> str:
    """What the span did: a client call names its method and path (OpenTelemetry names it by the method only)."""
    method = attrs.get("http.request.method") or attrs.get("http.method")
    url = str(attrs.get("url.full") or attrs.get("http.url") or "")
    if kind == "CLIENT" and method and url:
        return f"{method} {urlsplit(url).path}"
    return name


def _subsegment_name(name: str, kind: str, attrs: Mapping[str, Any]) -> str:
    if attrs.get("rpc.system") == "aws-api":
        return str(attrs.get("rpc.service") or name)
    if attrs.get("db.system") or attrs.get("db.system.name"):
        return str(attrs.get("db.name") or attrs.get("db.namespace") or attrs.get("db.system") or name)
    if kind == "CLIENT" and (host := attrs.get("server.address") or attrs.get("net.peer.name")):
        return _service_at(str(host), attrs.get("server.port") or attrs.get("net.peer.port"))
    return name


def _service_at(host: str, port: Any) -> str:
    """The shop service at ``host:port`` (its DNS name on EKS, its local port here), else the host."""
    from reference.services import SERVICES

    for svc in SERVICES:
        if host == svc.name or (port is not None and str(port) == str(svc.port) and host in ("127.0.0.1", "localhost")):
            return svc.name
    return host


def _http_status(attrs: Mapping[str, Any]) -> int | None:
    status = attrs.get("http.response.status_code") or attrs.get("http.status_code")
    return int(status) if status is not None else None


def _http(attrs: Mapping[str, Any], status: int | None) -> dict[str, Any]:
    method = attrs.get("http.request.method") or attrs.get("http.method")
    if method is None:
        return {}
    url = attrs.get("url.full") or attrs.get("http.url") or attrs.get("url.path") or attrs.get("http.target")
    out: dict[str, Any] = {"request": {"method": method, "url": url}}
    if status is not None:
        out["response"] = {"status": status}
    return out


def _jsonable(attrs: Mapping[str, Any]) -> dict[str, Any]:
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in attrs.items()}
