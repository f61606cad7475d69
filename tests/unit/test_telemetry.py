"""Traces without a server: X-Ray ids and headers, the sampling rules, spans as X-Ray segment documents,
the front door's header, and the waterfall ``nox -s trace`` reads back (services/common/telemetry.py)."""

from __future__ import annotations

import asyncio
import json

import pytest
from starlette.requests import Request

from localcloud import traces
from localcloud.edge.tracing import EdgeTracer
from reference.observability import SAMPLING_RULES
from services.common import telemetry

pytest.importorskip("opentelemetry.sdk", reason="the tracing extras are not installed")

from opentelemetry import trace
from opentelemetry.sdk.extension.aws.trace import AwsXRayIdGenerator
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_an_otel_trace_id_reads_as_an_x_ray_id_with_its_start_time_first():
    assert telemetry.xray_trace_id(0x5F1D2C3A_0123456789ABCDEF01234567) == "1-5f1d2c3a-0123456789abcdef01234567"
    fresh = telemetry.new_xray_trace_id(now=0x5F1D2C3A)
    assert fresh.startswith("1-5f1d2c3a-")
    assert len(fresh) == 35


def test_the_x_ray_header_round_trips_and_garbage_gives_nothing():
    header = "Root=1-5f1d2c3a-0123456789abcdef01234567;Parent=53995c3f42cd8ad8;Sampled=1"
    assert telemetry.format_xray_header(telemetry.parse_xray_header(header)) == header
    assert telemetry.parse_xray_header("garbage") == {}


def test_each_rule_keeps_its_reservoir_per_second_then_its_rate():
    clock = Clock()
    sampler = telemetry.RuleSampler(SAMPLING_RULES, clock=clock, rand=lambda: 0.99)  # never in the rate
    assert [sampler.sample("/api/checkout", "POST") for _ in range(6)] == [True] * 5 + [False]
    assert sampler.sample("/api/catalog/products/1", "GET") is True  # the api rule's own reservoir of 1
    assert sampler.sample("/api/catalog/products/2", "GET") is False
    clock.now += 1
    assert sampler.sample("/api/catalog/products/3", "GET") is True  # a new second, a full reservoir
    assert sampler.rule_for("/healthz", "GET").name == "health"
    assert sampler.rule_for("/elsewhere", "GET").name == "Default"


def test_a_rate_keeps_that_share_of_what_the_reservoir_did_not():
    sampler = telemetry.RuleSampler(SAMPLING_RULES, clock=Clock(), rand=lambda: 0.4)
    sampler.sample("/api/checkout", "POST")
    for _ in range(5):
        sampler.sample("/api/checkout", "POST")
    assert sampler.sample("/api/checkout", "POST") is True  # 0.4 < the checkout rule's rate 0.5
    assert sampler.sample("/health", "GET") is False  # rate 0, reservoir 0


def _spans() -> list:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(id_generator=AwsXRayIdGenerator())
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("test")
    with tracer.start_as_current_span("POST /checkout", kind=trace.SpanKind.SERVER,
                                      attributes={"http.request.method": "POST", "url.path": "/checkout",
                                                  "http.response.status_code": 201}):  # fmt: skip
        cart = {"http.request.method": "GET", "server.address": "127.0.0.1", "server.port": 8103,
                "http.response.status_code": 503}  # fmt: skip
        with tracer.start_as_current_span("GET", kind=trace.SpanKind.CLIENT, attributes=cart):
            pass
        with tracer.start_as_current_span("SNS.PublishBatch", kind=trace.SpanKind.CLIENT,
                                          attributes={"rpc.system": "aws-api", "rpc.service": "SNS",
                                                      "rpc.method": "PublishBatch"}):  # fmt: skip
            pass
    return exporter.get_finished_spans()


def test_a_server_span_is_a_segment_and_what_it_calls_are_subsegments_named_after_the_callee():
    client, aws, server = (telemetry.segment_document(s, "checkout") for s in _spans())
    assert server["name"] == "checkout"
    assert "type" not in server
    assert "parent_id" not in server
    assert server["http"] == {"request": {"method": "POST", "url": "/checkout"}, "response": {"status": 201}}
    assert server["trace_id"].startswith("1-")
    assert len(server["id"]) == 16
    assert client["type"] == "subsegment"
    assert client["name"] == "cart"
    assert client["parent_id"] == server["id"]
    assert client["namespace"] == "remote"
    assert client["fault"] is True
    assert aws["name"] == "SNS"
    assert aws["namespace"] == "aws"
    assert aws["aws"]["operation"] == "PublishBatch"
    json.dumps(server)  # a document X-Ray can take


def test_the_front_door_continues_a_viewer_trace_and_starts_one_otherwise():
    door = EdgeTracer("xray", "all")
    given = door.begin("Root=1-5f1d2c3a-0123456789abcdef01234567;Parent=53995c3f42cd8ad8;Sampled=0", "GET", "/api/x")
    assert (given.root, given.parent, given.sampled) == ("1-5f1d2c3a-0123456789abcdef01234567", "53995c3f42cd8ad8",
                                                         False)  # fmt: skip
    assert given.forwarded() == f"Root={given.root};Parent={given.segment_id};Sampled=0"
    fresh = door.begin("Root=not-an-id", "POST", "/api/checkout")
    assert fresh.root != "not-an-id"
    assert fresh.sampled
    assert fresh.parent is None
    assert fresh.returned() == f"Root={fresh.root};Sampled=1"
    assert EdgeTracer("off").begin(None, "GET", "/api/x").sampled is False


def test_the_waterfall_nests_aws_style_subsegments_and_names_the_service_edges():
    seg = {"name": "gateway", "id": "a" * 16, "trace_id": "1-x-y", "start_time": 10.0, "end_time": 10.5,
           "subsegments": [{"name": "catalog", "id": "b" * 16, "start_time": 10.1, "end_time": 10.3}]}  # fmt: skip
    child = {"name": "catalog", "id": "c" * 16, "parent_id": "b" * 16, "trace_id": "1-x-y", "start_time": 10.15,
             "end_time": 10.25, "fault": True}  # fmt: skip
    answer = {"Traces": [{"Id": "1-x-y", "Segments": [{"Id": d["id"], "Document": json.dumps(d)}
                                                      for d in (child, seg)]}]}  # fmt: skip
    spans = traces.tree(traces.documents(answer, "1-x-y"))
    assert [(s.service, s.depth, s.status) for s in spans] == [("gateway", 0, "ok"), ("gateway", 1, "ok"),
                                                               ("catalog", 2, "fault")]  # fmt: skip
    assert traces.service_edges(spans) == {("gateway", "catalog")}
    assert "catalog" in traces.waterfall(spans)
    assert "<table>" in traces.page("1-x-y", spans)


def test_tracing_off_imports_no_opentelemetry_and_carries_no_context():
    assert telemetry.setup("svc", "off") is False
    assert telemetry.carrier() == {}
    assert telemetry.current_trace_id() is None
    with telemetry.span("x") as current:
        assert current is None
    with pytest.raises(ValueError, match="SHOP_TRACING"):
        telemetry.setup("svc", "jaeger")


def test_an_event_carries_its_trace_from_the_writer_through_the_relay_to_the_consumer(monkeypatch):
    exporter = InMemorySpanExporter()
    provider = TracerProvider(id_generator=AwsXRayIdGenerator())
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setattr(telemetry, "_provider", provider)  # on for this test only, no global provider set
    with provider.get_tracer("t").start_as_current_span("POST /checkout", kind=trace.SpanKind.SERVER) as request:
        stored = telemetry.carrier()  # what outbox.enqueue keeps in the row
    with telemetry.Spans(["order-events publish OrderPlaced"], [stored]) as relay:
        attributes = telemetry.message_attributes(relay.carriers[0])  # what SNS/SQS carry
    with telemetry.span("OrderPlaced process", telemetry.from_message_attributes(attributes), kind="consumer"):
        pass
    consumer, producer = exporter.get_finished_spans()[-1], exporter.get_finished_spans()[-2]
    assert consumer.context.trace_id == producer.context.trace_id == request.get_span_context().trace_id
    assert producer.parent.span_id == request.get_span_context().span_id
    assert consumer.parent.span_id == producer.context.span_id
    doc = telemetry.segment_document(consumer, "notification")
    assert doc["name"] == "notification"
    assert "type" not in doc  # a consumer's unit of work is a segment of its own service
    assert doc["parent_id"] == f"{producer.context.span_id:016x}"


def test_a_statement_of_a_kept_request_is_a_client_span_with_what_its_subsegment_reads(monkeypatch):
    from sqlalchemy import make_url

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setattr(telemetry, "_provider", provider)
    where = telemetry.sql_attributes(make_url("postgresql+psycopg://shop:x@127.0.0.1:5432/shop"))
    assert where == {
        "db.system": "postgresql", "db.name": "shop", "server.address": "127.0.0.1", "server.port": 5432,
        "db.user": "shop",
    }  # fmt: skip
    with provider.get_tracer("t").start_as_current_span("request", kind=trace.SpanKind.SERVER):
        telemetry.end_sql_span(telemetry.sql_span(where, "select 1"), None)
    (statement,) = [s for s in exporter.get_finished_spans() if s.kind is trace.SpanKind.CLIENT]
    assert statement.name == "select shop"
    assert statement.attributes["db.statement"] == "select 1"
    assert telemetry.segment_document(statement, "catalog")["sql"] == {
        "database_type": "postgresql", "sanitized_query": "select 1",
    }  # fmt: skip


def test_a_statement_outside_a_kept_request_is_no_span_and_a_failed_one_is_a_failed_span(monkeypatch):
    from sqlalchemy import make_url

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    assert telemetry.sql_attributes(make_url("postgresql://h/shop")) is None  # tracing off: no span is made
    monkeypatch.setattr(telemetry, "_provider", provider)
    where = telemetry.sql_attributes(make_url("postgresql://h/shop"))
    unsampled = trace.NonRecordingSpan(trace.SpanContext(0x5F1D2C3A0123456789ABCDEF01234567, 0x53995C3F42CD8AD8, True))
    assert telemetry.sql_span(where, "select 1") is None  # a background poll's: no trace
    with trace.use_span(unsampled):  # an unsampled request's
        assert telemetry.sql_span(where, "select 2") is None
    with provider.get_tracer("t").start_as_current_span("request", kind=trace.SpanKind.SERVER):
        span = telemetry.sql_span(where, "select * from missing")
        telemetry.end_sql_span(span, RuntimeError('relation "missing" does not exist'))
    failed, _request = exporter.get_finished_spans()
    assert failed.name == "select shop"
    assert failed.status.status_code is trace.StatusCode.ERROR
    assert "does not exist" in failed.status.description
    assert telemetry.segment_document(failed, "catalog")["fault"] is True


# --------------------------------------------------------------------------- the request gate (TraceGate)

ROOT = "1-5f1d2c3a-0123456789abcdef01234567"


@pytest.fixture
def gated(monkeypatch):
    """A chassis-like app behind ``TraceGate`` whose route calls a second app through the chassis' HTTP
    client; the second app answers with the trace headers it received. Spans land in ``exporter``."""
    import httpx
    from fastapi import FastAPI
    from opentelemetry import propagate
    from opentelemetry.propagators.aws import AwsXRayPropagator
    from opentelemetry.propagators.composite import CompositePropagator
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    from services.common import http

    exporter = InMemorySpanExporter()
    decide = telemetry.RuleSampler(SAMPLING_RULES, clock=Clock(), rand=lambda: 0.99)  # the reservoir only
    provider = TracerProvider(id_generator=AwsXRayIdGenerator(), sampler=telemetry._otel_sampler(decide.sample))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setattr(telemetry, "_provider", provider)
    monkeypatch.setattr(telemetry, "_decide", decide.sample)
    composite = CompositePropagator([TraceContextTextMapPropagator(), AwsXRayPropagator()])
    monkeypatch.setattr(propagate, "_HTTP_TEXT_FORMAT", composite)  # what setup installs, for this test only

    downstream = FastAPI()

    @downstream.get("/echo")
    async def echo(request: Request) -> dict:
        return {k: request.headers.get(k) for k in ("x-amzn-trace-id", "traceparent")}

    front = FastAPI()
    client = http.client("http://downstream", transport=httpx.ASGITransport(app=downstream))

    @front.get("/api/catalog/products/{product_id}")
    async def page(product_id: str) -> dict:
        return {"logged": telemetry.current_trace_id(), **(await client.get("/echo")).json()}

    gate = telemetry.TraceGate(front)

    def get(headers: dict[str, str] | None = None) -> dict:
        async def go() -> dict:
            transport = httpx.ASGITransport(app=gate)
            async with httpx.AsyncClient(transport=transport, base_url="http://front") as c:
                answer = await c.get("/api/catalog/products/p-1", headers=headers or {})
            assert answer.status_code == 200, answer.text
            return answer.json()

        return asyncio.run(go())

    return get, exporter


def test_an_unsampled_request_makes_no_span_but_passes_its_trace_on_as_unsampled(gated):
    get, exporter = gated
    seen = get({"X-Amzn-Trace-Id": f"Root={ROOT};Parent=53995c3f42cd8ad8;Sampled=0"})
    assert exporter.get_finished_spans() == ()
    assert telemetry.parse_xray_header(seen["x-amzn-trace-id"])["Root"] == ROOT
    assert telemetry.parse_xray_header(seen["x-amzn-trace-id"])["Sampled"] == "0"
    assert seen["traceparent"].endswith("-00")  # W3C: not sampled
    assert seen["logged"] == ROOT  # its log lines still lead to the trace


def test_a_w3c_caller_with_a_tracestate_is_read_by_the_propagators_and_followed_either_way(gated):
    get, exporter = gated
    hex_id = ROOT[2:].replace("-", "")  # the same trace id, W3C form
    get()  # takes the reservoir: what follows is kept only if its caller says so
    exporter.clear()
    unsampled = get({"traceparent": f"00-{hex_id}-53995c3f42cd8ad8-00", "tracestate": "vendor=a"})
    assert exporter.get_finished_spans() == ()
    assert unsampled["traceparent"].split("-")[1] == hex_id
    assert unsampled["traceparent"].endswith("-00")
    assert telemetry.parse_xray_header(unsampled["x-amzn-trace-id"])["Root"] == ROOT == unsampled["logged"]
    kept = get({"traceparent": f"00-{hex_id}-53995c3f42cd8ad8-01", "tracestate": "vendor=a"})
    client, server = exporter.get_finished_spans()
    assert telemetry.xray_trace_id(server.context.trace_id) == ROOT
    assert server.parent.span_id == 0x53995C3F42CD8AD8
    assert client.parent.span_id == server.context.span_id  # the call, inside the kept request
    assert kept["traceparent"].endswith("-01")


def test_a_request_the_rules_do_not_keep_starts_an_unsampled_trace_its_callees_follow(gated):
    get, exporter = gated
    get()  # the api rule's reservoir: one a second
    exporter.clear()
    seen = get()
    assert exporter.get_finished_spans() == ()
    fields = telemetry.parse_xray_header(seen["x-amzn-trace-id"])
    assert fields["Sampled"] == "0"
    assert fields["Root"] == seen["logged"]  # a new trace, told to the callee


def test_a_caller_s_sampled_header_is_followed_with_a_server_span_named_after_the_route(gated):
    get, exporter = gated
    get()  # takes the reservoir: the next request is kept only because its caller says so
    exporter.clear()
    seen = get({"X-Amzn-Trace-Id": f"Root={ROOT};Parent=53995c3f42cd8ad8;Sampled=1"})
    client, server = exporter.get_finished_spans()  # the call to the second app, then the request
    assert server.kind is trace.SpanKind.SERVER
    assert server.name == "GET /api/catalog/products/{product_id}"
    assert telemetry.xray_trace_id(server.context.trace_id) == ROOT
    assert server.parent.span_id == 0x53995C3F42CD8AD8
    assert dict(server.attributes) == {
        "http.request.method": "GET", "url.path": "/api/catalog/products/p-1", "url.scheme": "http",
        "http.response.status_code": 200, "http.route": "/api/catalog/products/{product_id}",
    }  # fmt: skip
    assert server.status.status_code is trace.StatusCode.UNSET
    segment = telemetry.segment_document(server, "catalog")
    assert segment["http"] == {"request": {"method": "GET", "url": "/api/catalog/products/p-1"},
                               "response": {"status": 200}}  # fmt: skip
    fields = telemetry.parse_xray_header(seen["x-amzn-trace-id"])
    assert (fields["Root"], fields["Sampled"]) == (ROOT, "1")
    assert fields["Parent"] == f"{client.context.span_id:016x}"  # the callee's segment hangs under the call
    assert client.parent.span_id == server.context.span_id


def test_a_kept_request_s_call_is_a_client_span_its_x_ray_subsegment_reads(gated):
    get, exporter = gated
    get({"X-Amzn-Trace-Id": f"Root={ROOT};Parent=53995c3f42cd8ad8;Sampled=1"})
    client, _ = exporter.get_finished_spans()
    assert client.kind is trace.SpanKind.CLIENT
    assert client.name == "GET"
    assert dict(client.attributes) == {
        "http.request.method": "GET", "url.full": "http://downstream/echo", "server.address": "downstream",
        "http.response.status_code": 200,
    }  # fmt: skip
    subsegment = telemetry.segment_document(client, "catalog")
    assert (subsegment["name"], subsegment["type"], subsegment["namespace"]) == ("downstream", "subsegment", "remote")
    assert subsegment["http"] == {"request": {"method": "GET", "url": "http://downstream/echo"},
                                  "response": {"status": 200}}  # fmt: skip
    assert subsegment["annotations"]["operation"] == "GET /echo"


def test_an_unsampled_request_s_call_is_no_span_and_goes_through_the_plain_transport(gated, monkeypatch):
    get, exporter = gated
    get()  # the reservoir's one
    exporter.clear()
    traced = []
    monkeypatch.setattr(telemetry, "traced_call", lambda *a: traced.append(a))  # must not be reached
    seen = get()
    assert exporter.get_finished_spans() == ()
    assert traced == []
    assert telemetry.parse_xray_header(seen["x-amzn-trace-id"])["Root"] == seen["logged"]


def test_a_kept_request_s_call_that_fails_is_a_failed_client_span(monkeypatch):
    import httpx

    from services.common import http

    exporter = InMemorySpanExporter()
    provider = TracerProvider(id_generator=AwsXRayIdGenerator())
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setattr(telemetry, "_provider", provider)

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    async def go() -> None:
        async with http.client("http://127.0.0.1:8102", transport=httpx.MockTransport(refuse)) as client:
            request = provider.get_tracer("t").start_as_current_span("request", kind=trace.SpanKind.SERVER)
            with request, pytest.raises(httpx.ConnectError):
                await client.get("/products/p-1")

    asyncio.run(go())
    call, _ = exporter.get_finished_spans()
    assert call.status.status_code is trace.StatusCode.ERROR
    assert call.attributes["error.type"] == "ConnectError"
    assert telemetry.segment_document(call, "checkout")["fault"] is True


def test_with_tracing_off_a_client_is_the_plain_transport():
    import httpx

    from services.common import http

    assert not telemetry.enabled()
    assert not http.client("http://127.0.0.1:8102")._traced  # the services' client: no trace code on a call
    assert not isinstance(http.client("http://t", transport=httpx.MockTransport(None))._transport, http.TracedTransport)


@pytest.mark.parametrize("answer", ["status", "raise"])
def test_a_kept_request_that_fails_marks_its_server_span_failed(monkeypatch, answer):
    import httpx
    from fastapi import FastAPI
    from fastapi.responses import JSONResponse

    exporter = InMemorySpanExporter()
    provider = TracerProvider(id_generator=AwsXRayIdGenerator())
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setattr(telemetry, "_provider", provider)
    monkeypatch.setattr(telemetry, "_decide", lambda path, method: True)
    app = FastAPI()

    @app.get("/orders/{order_id}")
    async def order(order_id: str) -> JSONResponse:
        if answer == "raise":
            raise RuntimeError("the database went away")
        return JSONResponse({"title": "unavailable"}, status_code=503)

    async def go() -> int:
        transport = httpx.ASGITransport(app=telemetry.TraceGate(app), raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://svc") as c:
            return (await c.get("/orders/o-1?full=1")).status_code

    assert asyncio.run(go()) in (500, 503)
    [server] = exporter.get_finished_spans()
    assert server.status.status_code is trace.StatusCode.ERROR
    assert server.attributes["url.query"] == "full=1"
    if answer == "raise":
        assert [e.name for e in server.events] == ["exception"]
    else:
        assert server.name == "GET /orders/{order_id}"
        assert server.attributes["http.response.status_code"] == 503


def test_the_rules_decide_a_new_trace_once(gated):
    get, exporter = gated
    get()
    get()
    kept = exporter.get_finished_spans()  # the reservoir's one a second, taken by the first request alone
    assert [s.kind for s in kept] == [trace.SpanKind.CLIENT, trace.SpanKind.SERVER]  # its call, then itself
    assert len({s.context.trace_id for s in kept}) == 1


# --------------------------------------------------------------------------- the gate's own header reading

_HEXES = "0123456789abcdef"


def _composite():
    from opentelemetry.propagators.aws import AwsXRayPropagator
    from opentelemetry.propagators.composite import CompositePropagator
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    return CompositePropagator([TraceContextTextMapPropagator(), AwsXRayPropagator()])


def _propagators_read(composite, given: dict[str, str]) -> tuple[int, int, int] | None:
    found = trace.get_current_span(composite.extract(given)).get_span_context()
    return (found.trace_id, found.span_id, int(found.trace_flags)) if found.is_valid else None


def test_the_headers_the_shop_sends_are_read_by_the_gate_itself_as_the_propagators_read_them():
    composite = _composite()
    sent = {
        "traceparent": "00-5f1d2c3a0123456789abcdef01234567-53995c3f42cd8ad8-00",
        "X-Amzn-Trace-Id": f"Root={ROOT};Parent=53995c3f42cd8ad8;Sampled=0",
    }
    for given in (sent, {"X-Amzn-Trace-Id": sent["X-Amzn-Trace-Id"]}, {"traceparent": sent["traceparent"]}):
        assert telemetry.caller_context(given) == _propagators_read(composite, given) == (
            0x5F1D2C3A0123456789ABCDEF01234567, 0x53995C3F42CD8AD8, 0)  # fmt: skip
    # A viewer's header without Parent is no context (the rules decide); a W3C tracestate is left to the propagator.
    assert telemetry.caller_context({"X-Amzn-Trace-Id": f"Root={ROOT};Sampled=1"}) is None
    assert telemetry.caller_context({"traceparent": sent["traceparent"], "tracestate": "a=b"}) is telemetry._UNREAD


def test_the_gate_reads_any_trace_header_as_the_propagators_do_or_leaves_it_to_them():
    from hypothesis import given as for_all
    from hypothesis import settings
    from hypothesis import strategies as st

    composite = _composite()
    hexes = st.text(_HEXES + "ABCDEF", min_size=0, max_size=34)
    good_root = st.builds(lambda a, b: f"1-{a}-{b}", st.text(_HEXES, min_size=8, max_size=8),
                          st.text(_HEXES, min_size=24, max_size=24))  # fmt: skip
    # Mostly well-formed X-Ray headers (Root, Parent, Sampled, another field), in any order, some fields bent.
    fields = st.tuples(
        st.builds("Root={}".format, good_root | good_root | hexes | st.text(max_size=36)) | st.just(None),
        st.builds("Parent={}".format, st.text(_HEXES, min_size=16, max_size=16) | hexes) | st.just(None),
        st.sampled_from(["Sampled=0", "Sampled=1", "Sampled=?", "Sampled= 1", "Sampled=10", " Sampled=1", None]),
        st.sampled_from([None, None, "Self=1-abc", "Lineage=a:1", "junk", "", "a=b=c", " Root = 1-x"]),
    )
    xray = fields.flatmap(lambda fs: st.permutations([f for f in fs if f is not None])).map(";".join)
    xray = xray | st.text(max_size=60)
    traceparent = st.builds(
        lambda v, t, s, f, tail: f"{v}-{t}-{s}-{f}{tail}",
        st.sampled_from(["00", "01", "ff", "0g"]),
        st.text(_HEXES, min_size=32, max_size=32) | st.just("0" * 32) | hexes,
        st.text(_HEXES, min_size=16, max_size=16) | st.just("0" * 16),
        st.sampled_from(["00", "01", "03", "x1"]),
        st.sampled_from(["", "", "-extra", " "]),
    )
    headers = st.fixed_dictionaries(
        {}, optional={"X-Amzn-Trace-Id": xray, "traceparent": traceparent, "tracestate": st.just("k=v")}
    )

    @settings(max_examples=200, deadline=None)
    @for_all(headers)
    def agree(given: dict[str, str]) -> None:
        mine = telemetry.caller_context(given)
        if mine is not telemetry._UNREAD:
            assert mine == _propagators_read(composite, given)

    agree()


def test_an_unsampled_request_s_calls_carry_what_the_propagators_would_write(gated):
    from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

    get, _ = gated
    seen = get({"traceparent": "00-5f1d2c3a0123456789abcdef01234567-53995c3f42cd8ad8-02"})
    caller = SpanContext(0x5F1D2C3A0123456789ABCDEF01234567, 0x53995C3F42CD8AD8, True, TraceFlags(2))
    written: dict[str, str] = {}
    _composite().inject(written, context=trace.set_span_in_context(NonRecordingSpan(caller)))
    assert {"traceparent": seen["traceparent"], "X-Amzn-Trace-Id": seen["x-amzn-trace-id"]} == written
    assert seen["logged"] == ROOT


def test_the_rules_remembered_per_path_are_the_rules_matched_and_the_memory_is_bounded(monkeypatch):
    monkeypatch.setattr(telemetry, "MAX_RULE_CACHE", 8)
    remembering, fresh = telemetry.RuleSampler(SAMPLING_RULES), telemetry.RuleSampler(SAMPLING_RULES)
    paths = [f"/api/catalog/products/p-{i}" for i in range(20)] + ["/api/checkout", "/healthz", "/other", "/api/x"]
    for _ in range(2):
        for path in paths:
            for method in ("GET", "post"):
                assert remembering.rule_for(path, method) == fresh._matching(path, method)
    assert len(remembering._found) <= 8


def test_under_an_unsampled_request_opentelemetry_s_own_instrumentation_is_suppressed(gated, monkeypatch):
    from opentelemetry.instrumentation.utils import is_instrumentation_enabled

    seen = []
    real = telemetry.unsampled_headers

    def spy() -> dict[str, str] | None:
        seen.append(is_instrumentation_enabled())  # what botocore's instrumentation asks on every call
        return real()

    monkeypatch.setattr(telemetry, "unsampled_headers", spy)
    get, _ = gated
    get({"X-Amzn-Trace-Id": f"Root={ROOT};Parent=53995c3f42cd8ad8;Sampled=0"})
    assert seen == [False]
