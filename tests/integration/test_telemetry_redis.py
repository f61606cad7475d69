"""A kept request's Redis commands are client spans, an unsampled one's are none (``telemetry.instrument_redis``,
on a real Valkey): the chassis' own Redis spans, in place of opentelemetry-instrumentation-redis (docs/tracing.md)."""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

import pytest
import redis.asyncio as redis

from services.common import telemetry

pytest.importorskip("opentelemetry.sdk", reason="the tracing extras are not installed")

from opentelemetry import context, trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter


def test_a_kept_request_s_commands_and_pipelines_are_spans_and_an_unsampled_one_s_are_none(redis_space, monkeypatch):
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setattr(telemetry, "_provider", provider)
    key = f"{redis_space.prefix}product"
    unsampled = trace.NonRecordingSpan(trace.SpanContext(0x5F1D2C3A0123456789ABCDEF01234567, 0x53995C3F42CD8AD8, True))

    async def go() -> tuple[object, object]:
        client = redis.Redis.from_url(redis_space.url)
        telemetry.instrument_redis(client)
        try:
            token = context.attach(trace.set_span_in_context(unsampled))  # an unsampled request's context
            try:
                await client.set(key, "{}")
            finally:
                context.detach(token)
            await client.get(key)  # outside any request (a background loop's)
            assert exporter.get_finished_spans() == ()
            with provider.get_tracer("t").start_as_current_span("GET /products/{id}", kind=trace.SpanKind.SERVER):
                got = await client.get(key)
                async with client.pipeline(transaction=False) as pipe:
                    pipe.get(key).expire(key, 60)
                    piped = await pipe.execute()
            return got, piped
        finally:
            await client.aclose()

    got, piped = asyncio.run(go())
    assert (got, piped) == (b"{}", [b"{}", True])  # the wrapped client answers as before
    command, pipeline, server = exporter.get_finished_spans()
    assert (command.name, command.kind, command.parent.span_id) == ("GET", trace.SpanKind.CLIENT,
                                                                    server.context.span_id)  # fmt: skip
    where = urlsplit(redis_space.url)
    assert dict(command.attributes) == {
        "db.system": "redis", "db.redis.database_index": int(where.path.strip("/") or 0),
        "server.address": where.hostname, "server.port": where.port or 6379,
        "db.statement": "GET ?", "db.redis.args_length": 2,
    }  # fmt: skip
    assert pipeline.name == "GET EXPIRE"
    assert pipeline.attributes["db.statement"] == "GET\nEXPIRE"
    subsegment = telemetry.segment_document(command, "catalog")
    assert (subsegment["name"], subsegment["sql"]) == ("redis", {"database_type": "redis", "sanitized_query": "GET ?"})
