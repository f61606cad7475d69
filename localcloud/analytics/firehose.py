"""The local Firehose: reads each Kinesis stream and delivers it to the lake as its delivery stream declares.

moto stores delivery streams but never moves a record from a Kinesis source (and its DirectPut
ignores buffering, partitioning and Parquet). This worker does what Firehose does, from the
delivery stream's own description in the emulator and its Glue table:

- polls every shard of the source stream once a second, from the oldest record (TRIM_HORIZON);
- holds records until the buffering hints say deliver (size or interval, whichever first);
- with data format conversion on, turns each JSON record into a row of the Glue table's schema and
  writes Parquet (Snappy); a record that does not fit goes, as Firehose's error JSON, under the
  error prefix with ``format-conversion-failed`` and nowhere else;
- without conversion, writes the records as they are (GZIP when the compression format says so);
- fills the Prefix's expressions (``year=!{timestamp:yyyy}/...``) from each record's arrival time.

Its counts and lag are in ``<run dir>/firehose.json`` (rewritten every second), in its log, and in the
emulator's CloudWatch as Firehose's own metrics (namespace AWS/Firehose, every minute);
``python -m localcloud.analytics`` reads them. Writing ``<run dir>/firehose.flush`` asks it to read
to the end of every stream and deliver what it holds now, without waiting for the buffers (the
one local liberty: AWS's Firehose would deliver within the buffering interval anyway).

Run by ``nox -s up`` as the child ``firehose``: ``python -m localcloud.analytics.firehose``.
"""

from __future__ import annotations

import gzip
import json
import logging
import os
import signal
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from localcloud.analytics.convert import (
    DUCKDB_TYPES,
    Buffer,
    Misfit,
    Received,
    error_record,
    object_key,
    render_prefix,
    to_row,
)
from localcloud.health import aws_client
from localcloud.processes import Child, spawn
from localcloud.provision import Outputs
from reference.analytics import ERROR_OUTPUT_TYPE

log = logging.getLogger("localcloud.firehose")
POLL_S = 1.0  # Firehose reads each shard about once a second
STATUS_EVERY_S = 30.0
SHARDS_EVERY_S = 60.0
METRICS_EVERY_S = 60.0  # Firehose publishes its AWS/Firehose metrics about once a minute


@dataclass
class Delivery:
    """One delivery stream as the emulator describes it, with its Glue table's columns."""

    name: str
    stream: str
    bucket: str
    prefix: str
    error_prefix: str
    interval_s: float
    size_bytes: int
    compression: str
    table: dict[str, str] = field(default_factory=dict)  # catalog, database, table: set when converting
    columns: list[tuple[str, str]] = field(default_factory=list)

    @property
    def converts(self) -> bool:
        return bool(self.columns)


@dataclass
class Counts:
    records_read: int = 0
    bytes_read: int = 0
    records_delivered: int = 0
    records_failed: int = 0
    objects: int = 0
    millis_behind_latest: int = 0
    last_delivery: str = ""


def describe(name: str, firehose: Any, glue: Any) -> Delivery:
    """Read a delivery stream's declared settings (and its Glue schema when it converts) from the emulator."""
    description = firehose.describe_delivery_stream(DeliveryStreamName=name)["DeliveryStreamDescription"]
    source = description["Source"]["KinesisStreamSourceDescription"]
    destination = description["Destinations"][0]["ExtendedS3DestinationDescription"]
    hints = destination.get("BufferingHints", {})
    delivery = Delivery(
        name=name,
        stream=source["KinesisStreamARN"].rsplit("/", 1)[1],
        bucket=destination["BucketARN"].rsplit(":", 1)[1],
        prefix=destination.get("Prefix", ""),
        error_prefix=destination.get("ErrorOutputPrefix", ""),
        interval_s=float(hints.get("IntervalInSeconds", 300)),
        size_bytes=int(hints.get("SizeInMBs", 5)) * 1024 * 1024,
        compression=destination.get("CompressionFormat", "UNCOMPRESSED"),
    )
    conversion = destination.get("DataFormatConversionConfiguration", {})
    if conversion.get("Enabled"):
        schema = conversion["SchemaConfiguration"]
        table = glue.get_table(DatabaseName=schema["DatabaseName"], Name=schema["TableName"])["Table"]
        delivery.table = {
            "catalogId": schema.get("CatalogId", ""),
            "databaseName": schema["DatabaseName"],
            "tableName": schema["TableName"],
            "region": schema.get("Region", ""),
            "versionId": schema.get("VersionId", "LATEST"),
            "roleArn": schema.get("RoleARN", ""),
        }
        delivery.columns = [(c["Name"], c["Type"]) for c in table["StorageDescriptor"]["Columns"]]
    return delivery


class Worker:
    """Every delivery stream of the outputs, read, buffered and delivered; one thread, one loop."""

    def __init__(self, deliveries: list[Delivery], clients: dict[str, Any], run_dir: Path | None):
        self.deliveries = deliveries
        self.kinesis, self.s3 = clients["kinesis"], clients["s3"]
        self.cloudwatch = clients.get("cloudwatch")
        self._published = {d.name: Counts() for d in deliveries}
        self.status_file = run_dir / "firehose.json" if run_dir else None
        self.flush_file = run_dir / "firehose.flush" if run_dir else None
        self.buffers = {d.name: Buffer(d.interval_s, d.size_bytes) for d in deliveries}
        self.counts = {d.name: Counts() for d in deliveries}
        self.iterators: dict[tuple[str, str], str] = {}
        self.shards: dict[str, tuple[float, list[tuple[str, str]]]] = {}
        self.flushed_at = 0.0  # wall time of the last flush request served
        self.stopping = False

    # ------------------------------------------------------------------ reading

    def iterators_of(self, delivery: Delivery) -> list[tuple[str, str]]:
        """The stream's shards (listed again every minute: a stream may be resharded) and their iterators."""
        listed_at, keys = self.shards.get(delivery.stream, (-SHARDS_EVERY_S, []))
        if time.monotonic() - listed_at >= SHARDS_EVERY_S:
            shards = self.kinesis.list_shards(StreamName=delivery.stream)["Shards"]
            keys = [(delivery.stream, s["ShardId"]) for s in shards]
            self.shards[delivery.stream] = (time.monotonic(), keys)
        for key in keys:
            if key not in self.iterators:
                self.iterators[key] = self.kinesis.get_shard_iterator(
                    StreamName=key[0], ShardId=key[1], ShardIteratorType="TRIM_HORIZON"
                )["ShardIterator"]
        return keys

    def read(self, delivery: Delivery, now: float) -> int:
        """One GetRecords per shard into the buffer; the number of records read."""
        read = 0
        for key in self.iterators_of(delivery):
            answer = self.kinesis.get_records(ShardIterator=self.iterators[key], Limit=10_000)
            self.iterators[key] = answer["NextShardIterator"]
            counts = self.counts[delivery.name]
            counts.millis_behind_latest = int(answer.get("MillisBehindLatest", 0))
            for record in answer["Records"]:
                arrival = record["ApproximateArrivalTimestamp"]
                received = Received(record["Data"], arrival.astimezone(UTC), record["SequenceNumber"])
                self.buffers[delivery.name].add(received, now)
                counts.records_read += 1
                counts.bytes_read += len(record["Data"])
            read += len(answer["Records"])
        return read

    # ------------------------------------------------------------------ delivering

    def deliver(self, delivery: Delivery) -> None:
        records = self.buffers[delivery.name].take()
        if not records:
            return
        counts = self.counts[delivery.name]
        by_prefix: dict[str, list[Any]] = {}
        failed: dict[str, list[str]] = {}
        for record in records:
            if not delivery.converts:
                by_prefix.setdefault(render_prefix(delivery.prefix, record.arrival), []).append(record.data)
                continue
            try:
                row = to_row(record.data, delivery.columns)
            except Misfit as exc:
                prefix = render_prefix(delivery.error_prefix, record.arrival, ERROR_OUTPUT_TYPE)
                failed.setdefault(prefix, []).append(json.dumps(error_record(record, str(exc), delivery.table)))
                continue
            by_prefix.setdefault(render_prefix(delivery.prefix, record.arrival), []).append(row)
        created = datetime.now(UTC)
        for prefix, items in by_prefix.items():
            if delivery.converts:
                body, suffix = parquet(items, delivery.columns), ".parquet"
            else:
                body, suffix = b"".join(items), ""
                if delivery.compression == "GZIP":
                    body, suffix = gzip.compress(body), ".gz"
            self.put(delivery, object_key(prefix, delivery.name, created, suffix), body)
            counts.records_delivered += len(items)
        for prefix, lines in failed.items():
            self.put(delivery, object_key(prefix, delivery.name, created, ""), ("\n".join(lines) + "\n").encode())
            counts.records_failed += len(lines)
        counts.last_delivery = created.isoformat(timespec="seconds")
        log.info(
            "%s: delivered %d record(s) in %d object(s), %d to the error prefix",
            delivery.name,
            sum(len(v) for v in by_prefix.values()),
            len(by_prefix),
            sum(len(v) for v in failed.values()),
        )

    def put(self, delivery: Delivery, key: str, body: bytes) -> None:
        self.s3.put_object(Bucket=delivery.bucket, Key=key, Body=body)
        self.counts[delivery.name].objects += 1

    # ------------------------------------------------------------------ the loop

    def tick(self) -> None:
        now = time.monotonic()
        requested = self.flush_requested()
        for delivery in self.deliveries:
            while self.read(delivery, now) and requested:
                pass  # a flush reads to the end of the stream first
            if requested or self.stopping or self.buffers[delivery.name].due(now):
                self.deliver(delivery)
        if requested:
            self.flushed_at = requested
        self.write_status(now)

    def flush_requested(self) -> float:
        """The time of a flush request not yet served (0.0: none)."""
        if self.flush_file is None:
            return 0.0
        try:
            asked = float(self.flush_file.read_text().strip() or 0)
        except (OSError, ValueError):
            return 0.0
        return asked if asked > self.flushed_at else 0.0

    def status(self, now: float) -> dict[str, Any]:
        return {
            "pid": os.getpid(),
            "updated_at": time.time(),
            "flushed_at": self.flushed_at,
            "deliveries": {
                d.name: asdict(self.counts[d.name])
                | {
                    "source": d.stream,
                    "buffered_records": len(self.buffers[d.name].records),
                    "buffered_bytes": self.buffers[d.name].bytes,
                    "buffer_age_s": round(self.buffers[d.name].age_s(now), 1),
                    "buffer_interval_s": d.interval_s,
                    "buffer_mb": d.size_bytes // (1024 * 1024),
                    "converts_to": "parquet" if d.converts else d.compression.lower(),
                }
                for d in self.deliveries
            },
        }

    def write_status(self, now: float) -> None:
        if self.status_file is None:
            return
        temp = self.status_file.with_suffix(".tmp")
        temp.write_text(json.dumps(self.status(now), indent=2))
        os.replace(temp, self.status_file)

    def metric_data(self, now: float) -> list[dict[str, Any]]:
        """Firehose's own metrics (namespace AWS/Firehose) since the last call: counts as deltas, lag as gauges."""
        data = []
        for d in self.deliveries:
            counts, before = self.counts[d.name], self._published[d.name]
            values = {
                "DataReadFromKinesisStream.Records": (counts.records_read - before.records_read, "Count"),
                "DataReadFromKinesisStream.Bytes": (counts.bytes_read - before.bytes_read, "Bytes"),
                "DeliveryToS3.Records": (counts.records_delivered - before.records_delivered, "Count"),
                "KinesisMillisBehindLatest": (counts.millis_behind_latest, "Milliseconds"),
                "DeliveryToS3.DataFreshness": (self.buffers[d.name].age_s(now), "Seconds"),
            }
            if d.converts:
                values["SucceedConversion.Records"] = values["DeliveryToS3.Records"]
                values["FailedConversion.Records"] = (counts.records_failed - before.records_failed, "Count")
            dimensions = [{"Name": "DeliveryStreamName", "Value": d.name}]
            data += [{"MetricName": k, "Dimensions": dimensions, "Value": float(v), "Unit": u}
                     for k, (v, u) in values.items()]  # fmt: skip
            self._published[d.name] = Counts(**asdict(counts))
        return data

    def publish(self, now: float) -> None:
        if self.cloudwatch is not None:
            self.cloudwatch.put_metric_data(Namespace="AWS/Firehose", MetricData=self.metric_data(now))

    def run(self) -> None:
        last_report = last_metrics = time.monotonic()
        while not self.stopping:
            try:
                self.tick()
                if time.monotonic() - last_metrics > METRICS_EVERY_S:
                    last_metrics = time.monotonic()
                    self.publish(last_metrics)
            except Exception:  # the emulator may blip; Firehose retries too
                log.exception("tick failed; retrying in a second")
            if time.monotonic() - last_report > STATUS_EVERY_S:
                last_report = time.monotonic()
                for name, counts in self.counts.items():
                    log.info("%s: %s", name, json.dumps(asdict(counts)))
            time.sleep(POLL_S)
        self.tick()  # deliver what is held before stopping
        log.info("stopped; final counts %s", json.dumps({k: asdict(v) for k, v in self.counts.items()}))


def parquet(rows: list[dict[str, Any]], columns: list[tuple[str, str]]) -> bytes:
    """Rows of the schema as one Parquet file (Snappy), written by DuckDB (imported here: only the worker needs it)."""
    import duckdb

    with tempfile.TemporaryDirectory(prefix="firehose-") as tmp:
        source, target = Path(tmp) / "rows.json", Path(tmp) / "out.parquet"
        source.write_text("\n".join(json.dumps(r) for r in rows))
        types = ", ".join(f"'{name}': '{DUCKDB_TYPES[kind]}'" for name, kind in columns)
        con = duckdb.connect(config={"autoinstall_known_extensions": False, "autoload_known_extensions": False})
        try:
            rows_of = f"SELECT * FROM read_json('{source}', format='newline_delimited', columns={{{types}}})"  # noqa: S608
            con.execute(f"COPY ({rows_of}) TO '{target}' (FORMAT parquet, COMPRESSION snappy)")
        finally:
            con.close()
        return target.read_bytes()


def start(env: dict[str, str], log_dir: Path) -> Child:
    """The worker as a child of ``nox -s up`` (it dies with it), logging to ``<log_dir>/firehose.log``."""
    return spawn("firehose", [sys.executable, "-m", "localcloud.analytics.firehose"], log_dir=log_dir, env=env)


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    outputs_file = os.environ.get("SHOP_OUTPUTS")
    if not outputs_file or not Path(outputs_file).exists():
        print("error: SHOP_OUTPUTS must name the outputs.json of a provisioned stack", file=sys.stderr)
        return 2
    outputs = Outputs.from_json(Path(outputs_file).read_text())
    endpoint = os.environ.get("AWS_ENDPOINT_URL")
    clients = {
        s: aws_client(s, endpoint_url=endpoint, region=outputs.region)
        for s in ("firehose", "glue", "kinesis", "s3", "cloudwatch")
    }
    deliveries = [describe(name, clients["firehose"], clients["glue"]) for name in outputs.delivery_streams.values()]
    worker = Worker(deliveries, clients, Path(outputs_file).parent)

    def stop(signum: int, frame: object) -> None:
        worker.stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for d in deliveries:
        log.info(
            "%s: %s -> s3://%s/%s every %.0f s or %d MB, %s",
            d.name, d.stream, d.bucket, d.prefix, d.interval_s, d.size_bytes // 2**20,
            f"Parquet with {d.table['databaseName']}.{d.table['tableName']}" if d.converts else d.compression,
        )  # fmt: skip
    worker.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
