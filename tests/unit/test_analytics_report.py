"""nox -s analytics over a lake a load run kept: the same SQL over local files, the orders reconciled, the dashboard."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from localcloud.analytics import report
from localcloud.analytics.convert import to_row
from localcloud.analytics.firehose import parquet
from reference.analytics import table
from reference.edge import REALTIME_LOG_FIELDS

DAY = "year=2026/month=11/day=29"


def click(event_type: str, synthetic: bool = False, **fields: object) -> dict[str, object]:
    columns = [(c.name, c.type) for c in table("clickstream").columns]
    record = {"event_id": event_type, "occurred_at": "2026-11-29T10:15:00Z", "source": "gateway",
              "synthetic": synthetic, "session_id": "s1", "event_type": event_type} | fields  # fmt: skip
    return to_row(json.dumps(record).encode(), columns)


@pytest.fixture
def kept(tmp_path: Path) -> Path:
    """A snapshot folder as the load harness leaves it: the lake's files and the database's order ids."""
    columns = [(c.name, c.type) for c in table("clickstream").columns]
    rows = [click("product_view", product_id="p-1"), click("search", query="teapot", result_count=0),
            click("add_to_cart", product_id="p-1", quantity=1), click("checkout_started"),
            click("order_placed", order_id="ord-1", revenue=20.0),
            click("order_placed", order_id="ord-1", revenue=20.0),  # a repeated answer: the same order
            click("purchase", order_id="ord-1", product_id="p-1", quantity=1, revenue=20.0),
            click("order_placed", synthetic=True, order_id="ord-2", revenue=5.0)]  # fmt: skip
    folder = tmp_path / "lake" / "clickstream" / DAY
    folder.mkdir(parents=True)
    (folder / "a.parquet").write_bytes(parquet(rows, columns))
    line = {"timestamp": "1796032800.125", "sc-status": "200", "cs-uri-stem": "/index.html", "time-taken": "0.004",
            "x-edge-result-type": "Hit", "cache-behavior-path-pattern": "*"}  # fmt: skip
    edge = tmp_path / "lake" / "edge-logs" / DAY
    edge.mkdir(parents=True)
    text = "\t".join(line.get(f, "-") for f in REALTIME_LOG_FIELDS) + "\n"
    (edge / "b.gz").write_bytes(gzip.compress(text.encode()))
    meta = {"stage": "unit", "made_at": "2026-11-29T10:30:00+00:00", "worker": {},
            "db_orders": {"customers": ["ord-1"], "synthetic": ["ord-2"]}}  # fmt: skip
    (tmp_path / "figures.json").write_text(json.dumps(meta))
    return tmp_path


def test_orders_in_the_lake_are_counted_once_each_and_equal_the_databases(kept: Path):
    figures = report.saved(kept)
    assert figures.lake_orders == {"customers": {"ord-1"}, "synthetic": {"ord-2"}}
    assert figures.reconciled()
    assert report.orders_lines(figures) == [
        "orders in the lake: 1, orders in the database: 1  (customers: equal)",
        "orders in the lake: 1, orders in the database: 1  (synthetic: equal)",
    ]
    funnel = figures.results["conversion-funnel-by-day"].records()
    assert [(r["traffic"], r["browsed"], r["ordered"]) for r in funnel] == [("customers", 1, 1), ("synthetic", 0, 1)]


def test_an_order_missing_from_the_lake_is_named(kept: Path):
    meta = json.loads((kept / "figures.json").read_text())
    meta["db_orders"]["customers"].append("ord-lost")
    (kept / "figures.json").write_text(json.dumps(meta))
    figures = report.saved(kept)
    assert not figures.reconciled()
    assert "    only in the database: ord-lost" in report.orders_lines(figures)


def test_the_dashboard_has_a_plot_per_question_that_has_data_and_every_query(kept: Path):
    page = report.dashboard(report.saved(kept), kept / "out" / "index.html").read_text()
    assert page.count("data:image/png;base64,") == 5  # funnel, revenue, products, cache, latency; no WAF blocks
    for name in report.QUERIES:
        assert f'id="{name.name}"' in page
    assert "orders in the lake: 1, orders in the database: 1" in page
