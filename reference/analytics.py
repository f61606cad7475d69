"""The data lake's schema: one Glue table per delivery stream, how Firehose delivers it, and the Athena queries.

The clickstream stream carries one JSON object per record (the storefront's events through
the gateway, and the gateway's own server-side events); its delivery stream converts them to
Parquet with the Glue table's schema, and records that do not fit go under the error prefix.
The edge-logs stream carries CloudFront real-time log records (tab-separated, in the
distribution's field order, reference/edge.py): Firehose has no deserializer for that, so they
are delivered as they are (gzip) and the Glue table reads them as tab-separated text, the
way AWS documents for real-time logs. Both are written under ``<prefix>year=/month=/day=/``
(the record's arrival time) and the tables use partition projection: no crawler.

The queries are written once, in Athena's SQL (Trino): rendered to AWS::Athena::NamedQuery by
cfn/analytics.py, and run locally by DuckDB after sqlglot transpiles them (localcloud/firehose/athena.py).
"""

# ruff: noqa: S608 - the queries are assembled from this module's constants, never from input

from __future__ import annotations

from dataclasses import dataclass

from reference.edge import REALTIME_LOG_FIELDS
from reference.resources import DELIVERY_STREAMS

PARTITION_KEYS = ("year", "month", "day")
DATABASE = "lake"  # the Glue database: shop_<stage>_lake
DAY_PARTITIONS = "year=!{timestamp:yyyy}/month=!{timestamp:MM}/day=!{timestamp:dd}/"  # Firehose's expressions
ERROR_OUTPUT_TYPE = "format-conversion-failed"  # what !{firehose:error-output-type} becomes for a bad record
# Orders placed by the load harness's shoppers have e-mail addresses here (load/journeys/shopper.py).
SYNTHETIC_EMAIL_DOMAIN = "load.example.com"


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    type: str  # a Hive/Glue type: string, int, bigint, double, boolean, timestamp
    comment: str = ""


@dataclass(frozen=True, slots=True)
class LakeTable:
    """A Glue table over the files one delivery stream writes, and how that stream buffers and converts."""

    name: str
    delivery_stream: str  # name of a DeliveryStream of RESOURCES
    columns: tuple[Column, ...]
    format: str = "parquet"  # parquet: JSON records converted with this schema; tsv: delivered as they are (gzip)
    buffer_interval_s: int = 300  # Firehose's BufferingHints
    buffer_mb: int = 64  # Parquet conversion needs at least 64 MB

    @property
    def location(self) -> str:
        """The key prefix of the table's files in the lake bucket."""
        return next(d for d in DELIVERY_STREAMS if d.name == self.delivery_stream).prefix

    @property
    def prefix(self) -> str:
        """Firehose's Prefix: the location, then one folder per partition key of the arrival time."""
        return self.location + DAY_PARTITIONS

    @property
    def error_prefix(self) -> str:
        """Firehose's ErrorOutputPrefix: where records that do not fit the schema go."""
        return f"errors/{self.location}!{{firehose:error-output-type}}/" + DAY_PARTITIONS


@dataclass(frozen=True, slots=True)
class NamedQuery:
    name: str
    description: str
    sql: str  # Athena's SQL (Trino); ``{db}`` is replaced by the Glue database's physical name


C = Column


def _edge_column(field: str) -> Column:
    numeric = {
        "timestamp": "double", "time-to-first-byte": "double", "time-taken": "double", "sc-status": "int",
        "sc-bytes": "bigint", "cs-bytes": "bigint", "sc-content-len": "bigint", "sc-range-start": "bigint",
        "sc-range-end": "bigint", "c-port": "int", "cs-headers-count": "int",
    }  # fmt: skip
    return Column(field.replace("-", "_"), numeric.get(field, "string"))


# Event types of the clickstream; the gateway emits the ones marked server-side from what it forwards.
EVENT_TYPES = {
    "page_view": "browser: a view of the single-page app was shown",
    "product_view": "gateway: GET of one product",
    "search": "both: a search and its result count",
    "add_to_cart": "both: units of a product added to the cart",
    "checkout_started": "both: the shopper asked to buy the cart",
    "order_placed": "gateway (authoritative): checkout answered 201/200 with an order; browser: the page said so",
    "purchase": "gateway: one line of a placed order",
}

TABLES = (
    LakeTable(
        "clickstream",
        "clickstream-to-lake",
        (
            C("event_id", "string"),
            C("occurred_at", "timestamp"),
            C("source", "string", "browser or gateway (server side, authoritative for orders)"),
            C("synthetic", "boolean", "load-test traffic (X-Shop-Synthetic)"),
            C("load_run", "string", "the load run's id, empty for customers"),
            C("session_id", "string", "guest or user session"),
            C("user_sub", "string", "empty for guests"),
            C("event_type", "string", ", ".join(EVENT_TYPES)),
            C("path", "string"),
            C("product_id", "string"),
            C("query", "string"),
            C("result_count", "int"),
            C("quantity", "int"),
            C("order_id", "string"),
            C("revenue", "double", "order or line total in major units of currency"),
            C("currency", "string"),
            C("status", "int", "HTTP status the gateway answered"),
            C("latency_ms", "double"),
        ),
    ),
    LakeTable(
        "edge_logs",
        "edge-logs-to-lake",
        tuple(_edge_column(f) for f in REALTIME_LOG_FIELDS),
        format="tsv",
        buffer_interval_s=60,
        buffer_mb=5,
    ),
)

_GATEWAY = "FROM {db}.clickstream WHERE source = 'gateway'"
_TRAFFIC = "CASE WHEN synthetic THEN 'synthetic' ELSE 'customers' END AS traffic"
# Each order once: a repeated checkout answer (same Idempotency-Key) repeats its order_placed event.
_ORDERS = (
    "(SELECT order_id, min(occurred_at) AS placed_at, bool_or(synthetic) AS synthetic, max(revenue) AS revenue "
    f"{_GATEWAY} AND event_type = 'order_placed' GROUP BY order_id) AS o"
)

QUERIES = (
    NamedQuery(
        "conversion-funnel-by-day",
        "Sessions that browsed, added to the cart, started checkout and placed an order, day by day",
        f"SELECT date(occurred_at) AS day, {_TRAFFIC}, "
        "count(DISTINCT CASE WHEN event_type IN ('product_view', 'search') THEN session_id END) AS browsed, "
        "count(DISTINCT CASE WHEN event_type = 'add_to_cart' THEN session_id END) AS added_to_cart, "
        "count(DISTINCT CASE WHEN event_type = 'checkout_started' THEN session_id END) AS started_checkout, "
        "count(DISTINCT CASE WHEN event_type = 'order_placed' THEN session_id END) AS ordered "
        f"{_GATEWAY} GROUP BY 1, 2 ORDER BY 1, 2",
    ),
    NamedQuery(
        "orders-by-traffic",
        "Orders placed (server side, each order once) and their revenue, customers and load apart",
        f"SELECT {_TRAFFIC}, count(*) AS orders, sum(revenue) AS revenue FROM {_ORDERS} GROUP BY 1 ORDER BY 1",
    ),
    NamedQuery(
        "revenue-by-hour",
        "Revenue and orders placed, hour by hour (each order once)",
        f"SELECT date_trunc('hour', placed_at) AS hour, {_TRAFFIC}, count(*) AS orders, sum(revenue) AS revenue "
        f"FROM {_ORDERS} GROUP BY 1, 2 ORDER BY 1, 2",
    ),
    NamedQuery(
        "top-products-viewed-vs-bought",
        "The 20 products viewed most, with how many units of each were bought",
        "SELECT v.product_id, v.views, coalesce(b.units, 0) AS units_bought, "
        "round(coalesce(b.units, 0) * 1.0 / v.views, 4) AS units_per_view FROM "
        f"(SELECT product_id, count(*) AS views {_GATEWAY} AND event_type = 'product_view' "
        "AND product_id <> '' GROUP BY product_id) v LEFT JOIN "
        f"(SELECT product_id, sum(quantity) AS units {_GATEWAY} AND event_type = 'purchase' GROUP BY product_id) b "
        "ON b.product_id = v.product_id ORDER BY v.views DESC, v.product_id LIMIT 20",
    ),
    NamedQuery(
        "searches-without-results",
        "What shoppers looked for and did not find, to improve the catalog",
        "SELECT lower(trim(query)) AS query, count(*) AS searches, count(DISTINCT session_id) AS sessions "
        f"{_GATEWAY} AND event_type = 'search' AND result_count = 0 AND query <> '' "
        "GROUP BY 1 ORDER BY searches DESC, query LIMIT 50",
    ),
    NamedQuery(
        "pages-viewed-in-the-browser",
        "The storefront's views by path, from the browser's own events (the server never sees a page change)",
        "SELECT regexp_replace(path, '/[a-z]{0,4}-?[0-9a-f]{12,}[0-9a-f-]*', '/{id}') AS page, count(*) AS views, "
        "count(DISTINCT session_id) AS sessions FROM {db}.clickstream WHERE source = 'browser' "
        "AND event_type = 'page_view' GROUP BY 1 ORDER BY views DESC, page LIMIT 50",
    ),
    NamedQuery(
        "orders-seen-by-browser-and-server",
        "Orders the checkout answered (gateway) against the ones the browser reported: what client events lose",
        "SELECT source, count(DISTINCT order_id) AS orders FROM {db}.clickstream "
        "WHERE event_type = 'order_placed' AND order_id <> '' GROUP BY source ORDER BY source",
    ),
    NamedQuery(
        "edge-cache-hit-ratio-by-hour",
        "Share of requests the edge answered from its cache, hour by hour and cache behaviour",
        "SELECT date_trunc('hour', from_unixtime(timestamp)) AS hour, cache_behavior_path_pattern AS behavior, "
        "count(*) AS requests, "
        "avg(CASE WHEN x_edge_result_type IN ('Hit', 'RefreshHit') THEN 1.0 ELSE 0.0 END) AS hit_ratio "
        "FROM {db}.edge_logs GROUP BY 1, 2 ORDER BY 1, 2",
    ),
    NamedQuery(
        "waf-blocks-by-hour",
        "Requests the web ACL blocked (403 errors at the edge), hour by hour and country",
        "SELECT date_trunc('hour', from_unixtime(timestamp)) AS hour, coalesce(c_country, '-') AS country, "
        "count(*) AS blocked, count(DISTINCT c_ip) AS clients FROM {db}.edge_logs "
        "WHERE sc_status = 403 AND x_edge_result_type = 'Error' GROUP BY 1, 2 ORDER BY 1, blocked DESC",
    ),
    NamedQuery(
        "p95-latency-by-path",
        "95th percentile of the time viewers waited, by path (ids folded), busiest first",
        "SELECT regexp_replace(cs_uri_stem, '/[a-z]{0,4}-?[0-9a-f]{12,}[0-9a-f-]*|/[0-9]+', '/{id}') AS path, "
        "count(*) AS requests, round(approx_percentile(time_taken, 0.95) * 1000, 1) AS p95_ms, "
        "round(avg(time_taken) * 1000, 1) AS mean_ms FROM {db}.edge_logs "
        "WHERE sc_status < 400 GROUP BY 1 ORDER BY requests DESC LIMIT 25",
    ),
    NamedQuery(
        "edge-error-rate-by-hour",
        "Share of 5xx responses at the edge, hour by hour",
        "SELECT date_trunc('hour', from_unixtime(timestamp)) AS hour, "
        "avg(CASE WHEN sc_status >= 500 THEN 1.0 ELSE 0.0 END) AS error_rate "
        "FROM {db}.edge_logs GROUP BY 1 ORDER BY 1",
    ),
)


_PARQUET = "org.apache.hadoop.hive.ql.io.parquet"
_TEXT_INPUT = "org.apache.hadoop.mapred.TextInputFormat"
_TEXT_OUTPUT = "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat"
PROJECTION_RANGES = {"year": (2024, 2100), "month": (1, 12), "day": (1, 31)}


def storage(table: LakeTable) -> dict[str, object]:
    """The Glue StorageDescriptor's formats and SerDe of a table (its columns and location apart)."""
    if table.format == "parquet":
        return {
            "InputFormat": f"{_PARQUET}.MapredParquetInputFormat",
            "OutputFormat": f"{_PARQUET}.MapredParquetOutputFormat",
            "SerdeInfo": {"SerializationLibrary": f"{_PARQUET}.serde.ParquetHiveSerDe"},
        }
    return {
        "InputFormat": _TEXT_INPUT,
        "OutputFormat": _TEXT_OUTPUT,
        "Compressed": True,
        "SerdeInfo": {
            "SerializationLibrary": "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe",
            "Parameters": {"field.delim": "\t", "serialization.format": "\t", "serialization.null.format": "-"},
        },
    }


def table_parameters(table: LakeTable, location: str) -> dict[str, str]:
    """The table's parameters: partition projection over the day folders under ``location`` (an s3:// URL)."""
    params = {"projection.enabled": "true", "classification": "parquet" if table.format == "parquet" else "csv"}
    for key, (low, high) in PROJECTION_RANGES.items():
        params |= {f"projection.{key}.type": "integer", f"projection.{key}.range": f"{low},{high}"}
        if key != "year":
            params[f"projection.{key}.digits"] = "2"
    params["storage.location.template"] = location + "/".join(f"{k}=${{{k}}}" for k in PARTITION_KEYS) + "/"
    return params


def table(name: str) -> LakeTable:
    return next(t for t in TABLES if t.name == name)


def check_lake() -> list[str]:
    """Every table must read a delivery stream of RESOURCES, once; query names are unique."""
    streams = [d.name for d in DELIVERY_STREAMS]
    used = [t.delivery_stream for t in TABLES]
    problems = [
        f"table {t.name} reads unknown delivery stream {t.delivery_stream}"
        for t in TABLES
        if t.delivery_stream not in streams
    ]
    problems += [f"delivery stream {s} has no table" for s in streams if s not in used]
    problems += [f"table {t.name} has unknown format {t.format}" for t in TABLES if t.format not in ("parquet", "tsv")]
    names = [q.name for q in QUERIES]
    problems += [f"query {n} is named twice" for n in sorted(set(names)) if names.count(n) > 1]
    return problems
