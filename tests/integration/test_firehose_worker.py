"""The local Firehose against moto: records put on the Kinesis streams reach the lake as the delivery streams
declare, bad records go under the error prefix only, and every named query runs over what arrived."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from localcloud.analytics import athena
from localcloud.analytics.firehose import Worker, describe
from localcloud.provision import Outputs, glue_table_input
from reference import physical_name
from reference.analytics import DATABASE, QUERIES, TABLES, table
from reference.edge import REALTIME_LOG_FIELDS


@pytest.fixture
def worker(aws, provisioned: Outputs, tmp_path: Path) -> Worker:
    clients = {s: aws.client(s) for s in ("firehose", "glue", "kinesis", "s3")}
    deliveries = [describe(n, clients["firehose"], clients["glue"]) for n in provisioned.delivery_streams.values()]
    return Worker(deliveries, clients, tmp_path)


def put(aws, stream: str, *records: bytes) -> None:
    aws.client("kinesis").put_records(
        StreamName=physical_name(stream, aws.stage), Records=[{"Data": r, "PartitionKey": "k"} for r in records]
    )


def click(event_type: str, **fields: object) -> bytes:
    record = {"event_id": event_type, "occurred_at": "2026-11-29T10:00:00.000+00:00", "source": "gateway",
              "synthetic": False, "session_id": "s1", "event_type": event_type} | fields  # fmt: skip
    return (json.dumps(record) + "\n").encode()


def edge_line(status: int, result: str, path: str = "/api/catalog/products") -> bytes:
    values = {"timestamp": "1796032800.125", "c-ip": "198.18.0.7", "sc-status": str(status), "cs-method": "GET",
              "cs-uri-stem": path, "time-taken": "0.012", "x-edge-result-type": result, "c-country": "DE",
              "cache-behavior-path-pattern": "/api/*"}  # fmt: skip
    return ("\t".join(values.get(f, "-") for f in REALTIME_LOG_FIELDS) + "\n").encode()


def keys(aws, provisioned: Outputs, prefix: str) -> list[str]:
    bucket = provisioned.buckets["data-lake"]
    return [o["Key"] for o in aws.client("s3").list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])]


def flush(worker: Worker, tmp_path: Path) -> None:
    (tmp_path / "firehose.flush").write_text(str(datetime.now(UTC).timestamp()))
    worker.tick()


def test_the_delivery_streams_declare_the_tables_buffering_prefixes_and_schema(worker: Worker):
    clickstream = next(d for d in worker.deliveries if d.name.endswith("clickstream-to-lake"))
    declared = table("clickstream")
    assert (clickstream.interval_s, clickstream.size_bytes) == (declared.buffer_interval_s, declared.buffer_mb * 2**20)
    assert (clickstream.prefix, clickstream.error_prefix) == (declared.prefix, declared.error_prefix)
    assert clickstream.columns == [(c.name, c.type) for c in declared.columns]
    edge = next(d for d in worker.deliveries if d.name.endswith("edge-logs-to-lake"))
    assert (edge.converts, edge.compression) == (False, "GZIP")


def test_records_wait_for_the_buffer_and_a_flush_delivers_them_as_parquet_by_day(aws, provisioned, worker, tmp_path):
    put(aws, "clickstream", click("product_view", product_id="p-1"), click("search", query="kettle", result_count=0))
    worker.tick()
    assert keys(aws, provisioned, "clickstream/") == [], "the buffering interval has not passed"
    assert worker.status(0)["deliveries"][physical_name("clickstream-to-lake", aws.stage)]["buffered_records"] == 2
    flush(worker, tmp_path)
    (key,) = keys(aws, provisioned, "clickstream/")
    today = datetime.now(UTC)
    assert key.startswith(f"clickstream/year={today:%Y}/month={today:%m}/day={today:%d}/")
    assert key.endswith(".parquet")
    status = json.loads((tmp_path / "firehose.json").read_text())
    assert status["deliveries"][physical_name("clickstream-to-lake", aws.stage)]["records_delivered"] == 2


def test_a_malformed_clickstream_record_lands_under_the_error_prefix_and_nowhere_else(
    aws, provisioned, worker, tmp_path
):
    put(aws, "clickstream", click("add_to_cart", product_id="p-2", quantity="two"), b"not json at all\n",
        click("add_to_cart", product_id="p-3", quantity=1))  # fmt: skip
    flush(worker, tmp_path)
    errors = keys(aws, provisioned, "errors/clickstream/")
    assert len(errors) == 1
    assert errors[0].startswith("errors/clickstream/format-conversion-failed/year=")
    body = aws.client("s3").get_object(Bucket=provisioned.buckets["data-lake"], Key=errors[0])["Body"].read()
    failed = [json.loads(line) for line in body.decode().splitlines()]
    assert [f["lastErrorMessage"].split(":")[0] for f in failed] == ["field quantity", "not a JSON record"]
    lake = query_lake(aws, provisioned)
    rows = lake.con.execute(f'SELECT product_id FROM "{database(aws)}".clickstream').fetchall()  # noqa: S608
    assert rows == [("p-3",)], "only the record that fits is in the table"


def test_edge_log_lines_arrive_as_gzip_text_and_athenas_edge_queries_read_them(aws, provisioned, worker, tmp_path):
    put(aws, "edge-logs", edge_line(200, "Hit"), edge_line(200, "Miss"), edge_line(403, "Error", "/api/x"))
    flush(worker, tmp_path)
    (key,) = keys(aws, provisioned, "edge-logs/")
    raw = aws.client("s3").get_object(Bucket=provisioned.buckets["data-lake"], Key=key)["Body"].read()
    assert len(gzip.decompress(raw).decode().splitlines()) == 3
    lake = query_lake(aws, provisioned)
    ratio = lake.run(next(q for q in QUERIES if q.name == "edge-cache-hit-ratio-by-hour")).records()
    assert [(r["requests"], r["hit_ratio"]) for r in ratio] == [(3, pytest.approx(1 / 3))]
    blocks = lake.run(next(q for q in QUERIES if q.name == "waf-blocks-by-hour")).records()
    assert [(r["country"], r["blocked"]) for r in blocks] == [("DE", 1)]


def test_every_named_query_runs_over_the_lake_in_the_emulator(aws, provisioned, worker, tmp_path):
    put(aws, "clickstream", click("product_view", product_id="p-1"), click("add_to_cart", product_id="p-1", quantity=2),
        click("checkout_started"), click("order_placed", order_id="ord-1", revenue=12.5, currency="EUR"),
        click("purchase", order_id="ord-1", product_id="p-1", quantity=2, revenue=12.5))  # fmt: skip
    put(aws, "edge-logs", edge_line(200, "Miss"))
    flush(worker, tmp_path)
    lake = query_lake(aws, provisioned)
    results = {q.name: lake.run(q) for q in QUERIES}
    funnel = results["conversion-funnel-by-day"].records()
    assert [(r["browsed"], r["added_to_cart"], r["started_checkout"], r["ordered"]) for r in funnel] == [(1, 1, 1, 1)]
    assert results["top-products-viewed-vs-bought"].records()[0]["units_bought"] == 2


def test_the_glue_tables_in_the_emulator_equal_the_templates(aws, provisioned):
    from cfn import analytics as template

    rendered = template.build().to_dict()["Resources"]
    glue = aws.client("glue")
    bucket = provisioned.buckets["data-lake"]
    for lake_table in TABLES:
        declared = rendered[f"GlueTable{''.join(p.title() for p in lake_table.name.split('_'))}"]["Properties"]
        declared = resolve(declared["TableInput"], bucket)
        stored = glue.get_table(DatabaseName=database(aws), Name=lake_table.name)["Table"]
        assert stored["StorageDescriptor"]["Columns"] == declared["StorageDescriptor"]["Columns"]
        assert stored["PartitionKeys"] == declared["PartitionKeys"]
        assert stored["Parameters"] == declared["Parameters"]
        for key in ("InputFormat", "OutputFormat", "SerdeInfo", "Location"):
            assert stored["StorageDescriptor"][key] == declared["StorageDescriptor"][key], key
        assert glue_table_input(lake_table, f"s3://{bucket}/") == declared


def resolve(value: object, bucket: str) -> object:
    """The template's Fn::Sub values with the bucket filled in and ${!x} unescaped, as CloudFormation would."""
    if isinstance(value, dict):
        if set(value) == {"Fn::Sub"}:
            return value["Fn::Sub"].replace("${BucketDataLake}", bucket).replace("${!", "${")
        return {k: resolve(v, bucket) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve(v, bucket) for v in value]
    return value


def database(aws) -> str:
    return physical_name(DATABASE, aws.stage, "_")


def query_lake(aws, provisioned: Outputs) -> athena.Lake:
    lake = athena.Lake(database(aws), aws.endpoint_url, aws.region)
    for source in athena.sources(aws.client("s3"), provisioned.buckets["data-lake"]):
        lake.attach(source)
    return lake


def test_the_worker_publishes_firehoses_own_metrics_to_cloudwatch(aws, provisioned, worker, tmp_path):
    worker.cloudwatch = aws.client("cloudwatch")
    put(aws, "clickstream", click("search", query="x"), b"{broken\n")
    flush(worker, tmp_path)
    worker.publish(0.0)
    name = physical_name("clickstream-to-lake", aws.stage)
    listed = aws.client("cloudwatch").list_metrics(Namespace="AWS/Firehose")["Metrics"]
    assert {"DeliveryToS3.Records", "FailedConversion.Records", "KinesisMillisBehindLatest"} <= {
        m["MetricName"] for m in listed if m["Dimensions"] == [{"Name": "DeliveryStreamName", "Value": name}]
    }
    delivered = [d for d in worker.metric_data(0.0) if d["MetricName"] == "DeliveryToS3.Records"]
    assert {d["Value"] for d in delivered} == {0.0}, "counts go out as deltas: nothing new since the last publish"
