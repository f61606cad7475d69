"""What ``nox -s analytics`` shows: every named query's answer, orders in the lake against the database, a dashboard.

``live(stage)`` works on the running stack: it asks the Firehose worker to deliver what it holds,
runs the queries with DuckDB over the lake in the emulator's S3, and counts the orders in the
database. ``snapshot`` does the same and keeps a copy of the lake and of the database's order ids
beside it, so the figures outlive the stack (the load harness calls it before it stops its stack);
``saved(folder)`` reads such a copy. ``dashboard`` writes the HTML page with the plots.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from localcloud import figures
from localcloud.analytics import athena
from reference import physical_name
from reference.analytics import DATABASE, QUERIES, SYNTHETIC_EMAIL_DOMAIN, TABLES, NamedQuery

PRODUCER_LINGER_S = 2.5  # the gateway and the front door put their batches about once a second
# Each order the lake knows, once, with whether load traffic placed it (Athena's SQL, like the named queries).
LAKE_ORDERS = NamedQuery(
    "lake-order-ids",
    "",
    "SELECT order_id, bool_or(synthetic) AS synthetic FROM {db}.clickstream "
    "WHERE source = 'gateway' AND event_type = 'order_placed' GROUP BY order_id",
)
# An order is placed once it was confirmed: from then on checkout answers 201 with it (services/checkout).
DB_ORDERS = (
    'SELECT o.order_id, o.email LIKE %s AS synthetic FROM "order".orders o WHERE EXISTS '
    "(SELECT 1 FROM \"order\".order_status_history h WHERE h.order_id = o.order_id AND h.to_status = 'confirmed')"
)


@dataclass
class Figures:
    source: str  # where the lake was read: an s3:// URL or a folder
    results: dict[str, athena.Result]
    lake_orders: dict[str, set[str]]  # customers | synthetic -> order ids
    db_orders: dict[str, set[str]] | None  # None: no database to count in
    worker: dict[str, Any] = field(default_factory=dict)
    made_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))

    def reconciled(self) -> bool:
        return self.db_orders is not None and all(
            self.lake_orders.get(k, set()) == self.db_orders.get(k, set()) for k in ("customers", "synthetic")
        )


# --------------------------------------------------------------------------- the worker


def run_dir() -> Path | None:
    outputs = os.environ.get("SHOP_OUTPUTS")
    return Path(outputs).parent if outputs else None


def worker_status(folder: Path | None) -> dict[str, Any]:
    try:
        return json.loads((folder / "firehose.json").read_text()) if folder else {}
    except (OSError, ValueError):
        return {}


def flush(folder: Path, timeout_s: float = 30.0, say: Any = print) -> dict[str, Any]:
    """Ask the worker to deliver what it holds (after the producers' last batches) and wait until it has."""
    time.sleep(PRODUCER_LINGER_S)
    asked = time.time()
    (folder / "firehose.flush").write_text(str(asked))
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        status = worker_status(folder)
        if status.get("flushed_at", 0) >= asked:
            return status
        time.sleep(0.2)
    say(f"warning: the Firehose worker did not deliver within {timeout_s:.0f} s (see {folder / 'logs/firehose.log'})")
    return worker_status(folder)


# --------------------------------------------------------------------------- queries and orders


def run_queries(lake: athena.Lake) -> dict[str, athena.Result]:
    return {q.name: lake.run(q) for q in QUERIES}


def lake_orders(lake: athena.Lake) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {"customers": set(), "synthetic": set()}
    for order_id, synthetic in lake.run(LAKE_ORDERS).rows:
        found["synthetic" if synthetic else "customers"].add(order_id)
    return found


def db_orders(database_url: str) -> dict[str, set[str]]:
    import psycopg

    from localcloud.health import libpq_url

    found: dict[str, set[str]] = {"customers": set(), "synthetic": set()}
    with psycopg.connect(libpq_url(database_url)) as conn:
        for order_id, synthetic in conn.execute(DB_ORDERS, (f"%@{SYNTHETIC_EMAIL_DOMAIN}",)):  # type: ignore[arg-type]
            found["synthetic" if synthetic else "customers"].add(order_id)
    return found


def live(stage: str, say: Any = print, do_flush: bool = True) -> Figures:
    """Figures of the running stack (its variables already in the environment)."""
    folder = run_dir()
    status = flush(folder, say=say) if folder and do_flush else worker_status(folder)
    outputs = json.loads(Path(os.environ["SHOP_OUTPUTS"]).read_text())
    bucket = outputs["buckets"]["data-lake"]
    from localcloud.health import aws_client

    s3 = aws_client("s3", endpoint_url=os.environ.get("AWS_ENDPOINT_URL"), region=outputs["region"])
    lake = athena.Lake(physical_name(DATABASE, stage, "_"), os.environ.get("AWS_ENDPOINT_URL"), outputs["region"])
    try:
        for source in athena.sources(s3, bucket):
            lake.attach(source)
        results, orders = run_queries(lake), lake_orders(lake)
    finally:
        lake.close()
    database = os.environ.get("DATABASE_URL")
    return Figures(f"s3://{bucket}/", results, orders, db_orders(database) if database else None, status)


def snapshot(stage: str, out: Path, say: Any = print) -> Figures:
    """``live`` plus a copy of the lake and the database's order ids in ``out`` (for after the stack stops)."""
    figures = live(stage, say)
    outputs = json.loads(Path(os.environ["SHOP_OUTPUTS"]).read_text())
    from localcloud.health import aws_client

    s3 = aws_client("s3", endpoint_url=os.environ.get("AWS_ENDPOINT_URL"), region=outputs["region"])
    bucket = outputs["buckets"]["data-lake"]
    for table in TABLES:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=table.location):
            for obj in page.get("Contents", []):
                target = out / "lake" / obj["Key"]
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read())
    saved = {"stage": stage, "made_at": figures.made_at, "worker": figures.worker,
             "db_orders": {k: sorted(v) for k, v in (figures.db_orders or {}).items()}}  # fmt: skip
    (out / "figures.json").write_text(json.dumps(saved, indent=2))
    dashboard(figures, out / "index.html")
    return figures


def saved(folder: Path) -> Figures:
    """Figures from a snapshot's copy of the lake (DuckDB over local files: the same views, the same SQL)."""
    meta = json.loads((folder / "figures.json").read_text())
    lake = athena.Lake(physical_name(DATABASE, meta["stage"], "_"))
    try:
        for table in TABLES:
            location = folder / "lake" / table.location
            suffix = ".parquet" if table.format == "parquet" else ".gz"
            files = len(list(location.rglob(f"*{suffix}"))) if location.exists() else 0
            lake.attach(athena.Source(table, str(location) + "/", files))
        results, orders = run_queries(lake), lake_orders(lake)
    finally:
        lake.close()
    db = {k: set(v) for k, v in meta["db_orders"].items()} if meta["db_orders"] else None
    return Figures(str(folder / "lake"), results, orders, db, meta.get("worker", {}), meta["made_at"])


# --------------------------------------------------------------------------- text


def table_text(result: athena.Result, limit: int = 12) -> str:
    if not result.rows:
        return "  (no rows)"
    cells = [[_cell(v) for v in row] for row in result.rows[:limit]]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(result.columns)]
    lines = ["  " + "  ".join(c.ljust(w) for c, w in zip(result.columns, widths, strict=True))]
    lines += ["  " + "  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in cells]
    if len(result.rows) > limit:
        lines.append(f"  ... {len(result.rows) - limit} more row(s)")
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.3f}".rstrip("0").rstrip(".")
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    return "-" if value is None else str(value)


def orders_lines(figures: Figures) -> list[str]:
    lines = []
    for traffic in ("customers", "synthetic"):
        lake = figures.lake_orders.get(traffic, set())
        if figures.db_orders is None:
            lines.append(f"orders in the lake: {len(lake)} ({traffic}); no database to compare with")
            continue
        db = figures.db_orders.get(traffic, set())
        verdict = "equal" if lake == db else "DIFFERENT"
        lines.append(f"orders in the lake: {len(lake)}, orders in the database: {len(db)}  ({traffic}: {verdict})")
        if lake != db:
            lines += [f"    only in the database: {i}" for i in sorted(db - lake)[:5]]
            lines += [f"    only in the lake: {i}" for i in sorted(lake - db)[:5]]
    return lines


def worker_lines(status: dict[str, Any]) -> list[str]:
    lines = []
    for name, d in status.get("deliveries", {}).items():
        lines.append(
            f"  {name}: read {d['records_read']}, delivered {d['records_delivered']} in {d['objects']} object(s), "
            f"{d['records_failed']} to the error prefix, {d['buffered_records']} buffered "
            f"({d['buffer_age_s']} s of {d['buffer_interval_s']:.0f} s), {d['millis_behind_latest']} ms behind"
        )
    return lines


# --------------------------------------------------------------------------- the dashboard


def dashboard(figures: Figures, page: Path) -> Path:
    """One HTML page: the reconciliation, a plot per question, every query's rows and SQL."""
    page.parent.mkdir(parents=True, exist_ok=True)
    plots = {name: _png(fn, figures.results) for name, fn in PLOTS.items()}
    from jinja2 import Environment

    html = Environment(autoescape=True).from_string(PAGE).render(
        f=figures, plots={k: v for k, v in plots.items() if v}, queries=QUERIES, orders=orders_lines(figures),
        worker=worker_lines(figures.worker), cell=_cell,
    )  # fmt: skip
    page.write_text(html)
    return page


def _png(plot: Any, results: dict[str, athena.Result]) -> str | None:
    with figures.figure(6.4, 3.4) as (fig, ax):
        return figures.png_base64(fig) if plot(ax, results) else None


def _funnel(ax: Any, results: dict[str, athena.Result]) -> bool:
    stages = ["browsed", "added_to_cart", "started_checkout", "ordered"]
    totals: dict[str, list[int]] = {}
    for row in results["conversion-funnel-by-day"].records():
        sums = totals.setdefault(row["traffic"], [0] * len(stages))
        for i, s in enumerate(stages):
            sums[i] += row[s]
    if not totals:
        return False
    width = 0.8 / len(totals)
    for n, (traffic, sums) in enumerate(sorted(totals.items())):
        ax.bar([i + n * width for i in range(len(stages))], sums, width, label=traffic)
    ax.set_xticks(
        [i + width * (len(totals) - 1) / 2 for i in range(len(stages))], [s.replace("_", " ") for s in stages]
    )
    ax.set_ylabel("sessions")
    ax.set_title("Conversion funnel (sessions, all days)")
    ax.legend()
    return True


def _revenue(ax: Any, results: dict[str, athena.Result]) -> bool:
    rows = results["revenue-by-hour"].records()
    if not rows:
        return False
    hours = sorted({r["hour"] for r in rows})
    kinds = sorted({r["traffic"] for r in rows})
    width = 0.8 / len(kinds)
    for n, traffic in enumerate(kinds):
        revenue = {r["hour"]: r["revenue"] for r in rows if r["traffic"] == traffic}
        ax.bar([i + n * width for i in range(len(hours))], [revenue.get(h, 0) for h in hours], width, label=traffic)
    ax.set_xticks([i + width * (len(kinds) - 1) / 2 for i in range(len(hours))],
                  [h.strftime("%m-%d %H:00") for h in hours])  # fmt: skip
    ax.set_ylabel("revenue (major units)")
    ax.set_title("Revenue by hour (UTC)")
    ax.legend()
    return True


def _products(ax: Any, results: dict[str, athena.Result]) -> bool:
    rows = results["top-products-viewed-vs-bought"].records()[:10]
    if not rows:
        return False
    places = range(len(rows))
    ax.barh([p - 0.2 for p in places], [r["views"] for r in rows], 0.4, label="views")
    ax.barh([p + 0.2 for p in places], [r["units_bought"] for r in rows], 0.4, label="units bought")
    ax.set_yticks(list(places), [r["product_id"] for r in rows])
    ax.tick_params(axis="y", labelsize=7)
    ax.invert_yaxis()
    ax.set_title("Top products: viewed vs bought")
    ax.legend(loc="lower right")
    return True


def _cache(ax: Any, results: dict[str, athena.Result]) -> bool:
    rows = results["edge-cache-hit-ratio-by-hour"].records()
    if not rows:
        return False
    requests: dict[str, int] = {}
    hits: dict[str, float] = {}
    for r in rows:
        requests[r["behavior"]] = requests.get(r["behavior"], 0) + r["requests"]
        hits[r["behavior"]] = hits.get(r["behavior"], 0) + r["hit_ratio"] * r["requests"]
    names = sorted(requests)
    bars = ax.bar(names, [hits[n] / requests[n] for n in names])
    ax.bar_label(bars, [f"{round(hits[n])} of {requests[n]}" for n in names])
    ax.set_ylim(0, 1.1)
    ax.set_ylabel("hit ratio")
    ax.set_title("Edge cache hit ratio by cache behaviour")
    return True


def _waf(ax: Any, results: dict[str, athena.Result]) -> bool:
    rows = results["waf-blocks-by-hour"].records()
    if not rows:
        return False
    by_country: dict[str, int] = {}
    for r in rows:
        country = "unknown" if r["country"] == "-" else r["country"]
        by_country[country] = by_country.get(country, 0) + r["blocked"]
    names = sorted(by_country, key=lambda k: -by_country[k])[:10]
    ax.bar(names, [by_country[n] for n in names], color="#b03a2e")
    ax.set_ylabel("requests blocked")
    ax.set_title("WAF blocks by country")
    return True


def _latency(ax: Any, results: dict[str, athena.Result]) -> bool:
    rows = results["p95-latency-by-path"].records()[:12]
    if not rows:
        return False
    ax.barh([r["path"][:40] for r in rows], [r["p95_ms"] for r in rows])
    ax.invert_yaxis()
    ax.set_xlabel("p95 ms")
    ax.set_title("p95 latency by path (busiest first)")
    ax.tick_params(axis="y", labelsize=7)
    return True


PLOTS = {"funnel": _funnel, "revenue": _revenue, "products": _products, "cache": _cache, "waf": _waf,
         "latency": _latency}  # fmt: skip

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Shop analytics</title>
<style>
 body { font-family: system-ui, sans-serif; max-width: 72rem; margin: 1.5rem auto; padding: 0 1rem; color: #222; }
 .grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(30rem, 1fr)); gap: 1rem; }
 .grid img { width: 100%; border: 1px solid #ddd; }
 table { border-collapse: collapse; margin: .4rem 0 1rem; font-size: .9rem; }
 td, th { padding: .15rem .5rem; border-bottom: 1px solid #ddd; text-align: right; }
 td:first-child, th:first-child { text-align: left; }
 pre { background: #f4f4f4; padding: .5rem; white-space: pre-wrap; }
 .ok { color: #1e7d32; } .bad { color: #b03a2e; } code { background: #f4f4f4; padding: 0 .2rem; }
</style></head><body>
<h1>Shop analytics</h1>
<p>The named queries of <code>reference/analytics.py</code>, written in Athena's SQL, run by DuckDB over
<code>{{ f.source }}</code> at {{ f.made_at }}. Local stand-in for QuickSight; see docs/analytics.md.</p>
<h2>Orders: lake against database</h2>
<p class="{{ 'ok' if f.reconciled() else 'bad' }}">{% for line in orders %}{{ line }}<br>{% endfor %}</p>
{% if worker %}<h2>Firehose worker</h2><pre>{% for line in worker %}{{ line }}
{% endfor %}</pre>{% endif %}
<h2>Plots</h2>
<div class="grid">{% for name, png in plots.items() %}
<img alt="{{ name }}" src="data:image/png;base64,{{ png }}">{% endfor %}</div>
{% if not plots %}<p>No data in the lake yet.</p>{% endif %}
<h2>Every query</h2>
{% for q in queries %}{% set r = f.results[q.name] %}
<h3 id="{{ q.name }}">{{ q.name }}</h3><p>{{ q.description }}</p>
<table><tr>{% for c in r.columns %}<th>{{ c }}</th>{% endfor %}</tr>
{% for row in r.rows[:25] %}<tr>{% for v in row %}<td>{{ cell(v) }}</td>{% endfor %}</tr>{% endfor %}
{% if not r.rows %}<tr><td colspan="{{ r.columns|length }}">no rows</td></tr>{% endif %}</table>
<details><summary>SQL (Athena, then as DuckDB ran it)</summary><pre>{{ q.sql }}</pre><pre>{{ r.sql }}</pre></details>
{% endfor %}
</body></html>
"""


def for_load_run(stage: str, out: Path) -> dict[str, Any]:
    """What the load report shows of analytics: the snapshot's dashboard (in ``out/analytics/``) and the orders."""
    try:
        figures = snapshot(stage, out / "analytics")
    except Exception as exc:  # noqa: BLE001 - the load run's verdict stands without its analytics
        return {"error": f"{type(exc).__name__}: {exc}"}
    return {"page": "analytics/index.html", "orders": orders_lines(figures), "reconciled": figures.reconciled()}
