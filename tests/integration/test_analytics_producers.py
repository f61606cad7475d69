"""The producers against moto's Kinesis: the gateway's clickstream and the edge's access lines reach their
streams as one record per line, and from there the lake (through the local Firehose)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from localcloud.analytics import athena
from localcloud.analytics.firehose import Worker, describe
from localcloud.edge.logs import StreamShipper
from reference import physical_name
from reference.analytics import DATABASE, QUERIES
from services.gateway.clickstream import ClickstreamSettings, Producer, event


def records(aws, stream: str) -> list[bytes]:
    kinesis = aws.client("kinesis")
    name = physical_name(stream, aws.stage)
    shard = kinesis.list_shards(StreamName=name)["Shards"][0]["ShardId"]
    iterator = kinesis.get_shard_iterator(StreamName=name, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
    return [r["Data"] for r in kinesis.get_records(ShardIterator=iterator["ShardIterator"])["Records"]]


async def test_the_gateways_events_reach_the_clickstream_stream_one_json_line_each(aws, provisioned):
    producer = Producer(ClickstreamSettings(stage=aws.stage, region=aws.region, linger_s=3600))
    headers = {"x-shop-session": "s1", "x-shop-synthetic": "run1"}
    for kind in ("product_view", "add_to_cart"):
        producer.add(event(kind, headers, "gateway", product_id="p-1"))
    await producer.close()
    sent = records(aws, "clickstream")
    assert [json.loads(r)["event_type"] for r in sent] == ["product_view", "add_to_cart"]
    assert all(r.endswith(b"\n") and r.count(b"\n") == 1 for r in sent), "Firehose concatenates records as they are"
    assert producer.stats() | {"stream": ""} == {"stream": "", "queued": 0, "sent": 2, "dropped": 0, "failed_puts": 0}


async def test_a_stream_that_is_missing_costs_the_request_path_nothing_and_keeps_the_records(aws):
    producer = Producer(ClickstreamSettings(stage="nosuchstage", region=aws.region, linger_s=3600))
    producer.add(event("search", {}, "gateway", query="x"))
    await producer.flush()
    assert producer.stats()["failed_puts"] == 1
    assert len(producer.queue) == 1, "kept for the next round"


def test_the_edges_access_lines_reach_the_edge_logs_stream(aws, provisioned):
    shipper = StreamShipper(physical_name("edge-logs", aws.stage), lambda: aws.client("kinesis"))
    shipper.add("1764400000.000\t198.18.0.1\t-")
    shipper.add("1764400001.000\t198.18.0.2\t-")
    shipper.drain()
    assert records(aws, "edge-logs") == [b"1764400000.000\t198.18.0.1\t-\n", b"1764400001.000\t198.18.0.2\t-\n"]
    assert shipper.sent == 2


async def test_a_server_side_order_travels_from_the_gateway_to_athenas_answer(aws, provisioned, tmp_path: Path):
    producer = Producer(ClickstreamSettings(stage=aws.stage, region=aws.region, linger_s=3600))
    producer.add(event("order_placed", {"x-shop-session": "s9"}, "gateway", order_id="ord-9", revenue=9.5))
    await producer.close()
    clients = {s: aws.client(s) for s in ("firehose", "glue", "kinesis", "s3")}
    deliveries = [describe(n, clients["firehose"], clients["glue"]) for n in provisioned.delivery_streams.values()]
    worker = Worker(deliveries, clients, tmp_path)
    (tmp_path / "firehose.flush").write_text(str(datetime.now(UTC).timestamp()))
    worker.tick()
    lake = athena.Lake(physical_name(DATABASE, aws.stage, "_"), aws.endpoint_url, aws.region)
    for source in athena.sources(aws.client("s3"), provisioned.buckets["data-lake"]):
        lake.attach(source)
    orders = lake.run(next(q for q in QUERIES if q.name == "orders-by-traffic")).records()
    assert orders == [{"traffic": "customers", "orders": 1, "revenue": 9.5}]


async def test_the_front_door_puts_each_access_line_on_the_edge_logs_stream_in_cloudfronts_field_order(
    serve_app, aws, provisioned, tmp_path: Path
):
    import asyncio

    import httpx
    from edge_support import start_edge

    from reference.edge import REALTIME_LOG_FIELDS

    edge = await start_edge(serve_app, aws.stage, tmp_path)
    async with httpx.AsyncClient(base_url=edge.url) as client:
        assert (await client.get("/api/catalog/products", headers={"user-agent": "tester/1"})).status_code == 200
    shipper = edge.app.access_log.shipper
    for _ in range(100):  # the line reaches the shipper when the request's exchange is logged
        if shipper._pending or shipper.sent:
            break
        await asyncio.sleep(0.02)
    await asyncio.to_thread(shipper.drain)
    (record,) = records(aws, "edge-logs")
    fields = dict(zip(REALTIME_LOG_FIELDS, record.decode().rstrip("\n").split("\t"), strict=True))
    assert (fields["cs-method"], fields["cs-uri-stem"], fields["sc-status"]) == ("GET", "/api/catalog/products", "200")
    assert fields["cs-user-agent"] == "tester/1"
