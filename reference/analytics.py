"""The data lake's schema: one Glue table per delivery stream, and the Athena queries over them.

Firehose converts each stream's JSON records to Parquet with the table's schema and writes
them under ``<prefix>year=/month=/day=/``; the tables use partition projection, so Athena
needs no crawler to find new days.
"""

from __future__ import annotations

from dataclasses import dataclass

from reference.resources import DELIVERY_STREAMS

PARTITION_KEYS = ("year", "month", "day")
DATABASE = "lake"  # the Glue database: shop_<stage>_lake


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    type: str  # a Hive/Glue type: string, int, bigint, double, timestamp, ...
    comment: str = ""


@dataclass(frozen=True, slots=True)
class LakeTable:
    """A Glue table over the Parquet files one delivery stream writes."""

    name: str
    delivery_stream: str  # name of a DeliveryStream of RESOURCES
    columns: tuple[Column, ...]


@dataclass(frozen=True, slots=True)
class NamedQuery:
    name: str
    description: str
    sql: str  # ``{db}`` is replaced by the Glue database's physical name


C = Column

TABLES = (
    LakeTable(
        "clickstream",
        "clickstream-to-lake",
        (
            C("event_id", "string"),
            C("occurred_at", "timestamp"),
            C("session_id", "string", "guest or user session"),
            C("user_sub", "string", "empty for guests"),
            C("event_type", "string", "page_view, search, add_to_cart, checkout, ..."),
            C("path", "string"),
            C("product_id", "string"),
            C("query", "string"),
            C("status", "int"),
            C("latency_ms", "double"),
        ),
    ),
    LakeTable(
        "edge_logs",
        "edge-logs-to-lake",
        (
            C("timestamp", "double", "epoch seconds with milliseconds"),
            C("c_ip", "string"),
            C("cs_method", "string"),
            C("cs_uri_stem", "string"),
            C("sc_status", "int"),
            C("time_taken", "double"),
            C("x_edge_result_type", "string"),
            C("cs_user_agent", "string"),
        ),
    ),
)

QUERIES = (
    NamedQuery(
        "top-products-viewed",
        "The 20 products viewed most in the last 7 days",
        "SELECT product_id, count(*) AS views FROM {db}.clickstream "
        "WHERE event_type = 'page_view' AND product_id <> '' "
        "AND date(occurred_at) > current_date - interval '7' day "
        "GROUP BY product_id ORDER BY views DESC LIMIT 20",
    ),
    NamedQuery(
        "search-without-results",
        "Searches that led nowhere, to improve the catalog",
        "SELECT query, count(*) AS n FROM {db}.clickstream "
        "WHERE event_type = 'search' AND status = 404 GROUP BY query ORDER BY n DESC LIMIT 50",
    ),
    NamedQuery(
        "edge-error-rate-by-hour",
        "Share of 5xx responses at the edge, hour by hour",
        "SELECT date_trunc('hour', from_unixtime(timestamp)) AS hour, "
        "avg(CASE WHEN sc_status >= 500 THEN 1.0 ELSE 0.0 END) AS error_rate "
        "FROM {db}.edge_logs GROUP BY 1 ORDER BY 1",
    ),
)


def check_lake() -> list[str]:
    """Every table must read a delivery stream of RESOURCES, once."""
    streams = [d.name for d in DELIVERY_STREAMS]
    used = [t.delivery_stream for t in TABLES]
    problems = [
        f"table {t.name} reads unknown delivery stream {t.delivery_stream}"
        for t in TABLES
        if t.delivery_stream not in streams
    ]
    problems += [f"delivery stream {s} has no table" for s in streams if s not in used]
    return problems
