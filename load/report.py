"""Our own report of a load run: plots (PNG files, also inside the page) and the verdicts, as one HTML page.

Read from what the run left in its folder: Locust's ``stats_stats.csv``, ``stats_stats_history.csv``
(``--csv-full-history``) and ``stats_failures.csv``, plus the harness's samples (queues, CPU,
WAF metrics, ledger, SLO checks) passed in as ``result``.
"""

from __future__ import annotations

import base64
import csv
import itertools
import json
from collections import Counter
from pathlib import Path
from typing import Any

import jinja2
import matplotlib

matplotlib.use("Agg")  # no display: files only
import matplotlib.pyplot as plt

TEMPLATES = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"), autoescape=True, trim_blocks=True
)


def write(out: Path, result: dict[str, Any]) -> Path:
    """``out/report.html`` with its plots beside it as PNG; also ``out/result.json``."""
    stage = (result.get("args") or {}).get("stage")
    if stage and "observability" not in result:  # the local CloudWatch dashboard of the run's stack, linked
        from localcloud.observability.dashboard import for_load_run

        result["observability"] = for_load_run(stage, out)
    (out / "result.json").write_text(json.dumps(result, indent=2, default=str))
    history = _rows(out / "stats_stats_history.csv")
    plots = {
        "latency": latency(history, out / "latency.png"),
        "throughput": throughput(history, out / "throughput.png"),
        "errors": errors(_rows(out / "stats_failures.csv"), out / "errors.png"),
        "waf": waf(result.get("waf") or {}, out / "waf.png"),
        "queues": queues(result.get("queues") or [], out / "queues.png"),
        "cpu": cpu(result.get("cpu") or [], out / "cpu.png"),
    }
    images = {k: base64.b64encode(p.read_bytes()).decode() for k, p in plots.items() if p is not None}
    endpoints = [r for r in _rows(out / "stats_stats.csv") if r.get("Name")]
    page = out / "report.html"
    failures = _rows(out / "stats_failures.csv")
    template = TEMPLATES.get_template("report.html.j2")
    html = template.render(r=result, images=images, endpoints=endpoints, failures=failures)
    page.write_text(html)
    return page


def latency(history: list[dict[str, str]], path: Path) -> Path | None:
    rows = [r for r in history if r["Name"] == "Aggregated" and r["95%"] not in ("N/A", "0")]
    if not rows:
        return None
    t0 = int(rows[0]["Timestamp"])
    fig, ax = plt.subplots(figsize=(9, 3.5))
    for col in ("50%", "95%", "99%"):
        ax.plot([int(r["Timestamp"]) - t0 for r in rows], [_num(r[col]) for r in rows], label=f"p{col[:-1]}")
    return _save(fig, ax, path, "latency over time (last 10 s window)", "ms")


def throughput(history: list[dict[str, str]], path: Path) -> Path | None:
    rows = [r for r in history if r["Name"] == "Aggregated"]
    if not rows:
        return None
    t0 = int(rows[0]["Timestamp"])
    t = [int(r["Timestamp"]) - t0 for r in rows]
    fig, ax = plt.subplots(figsize=(9, 3.5))
    ax.plot(t, [_num(r["Requests/s"]) for r in rows], label="requests/s")
    ax.plot(t, [_num(r["Failures/s"]) for r in rows], label="failures/s")
    users = ax.twinx()
    users.plot(t, [_num(r["User Count"]) for r in rows], color="grey", linestyle=":", label="users")
    users.set_ylabel("users")
    return _save(fig, ax, path, "throughput over time", "per second")


def errors(failures: list[dict[str, str]], path: Path) -> Path | None:
    kinds: Counter[str] = Counter()
    for r in failures:
        kinds[r["Error"].split(":")[0][:60]] += int(r["Occurrences"])
    return _bars(kinds, path, "errors by kind")


def waf(metrics: dict[str, dict[str, float]], path: Path) -> Path | None:
    blocked = {rule: n for rule, n in metrics.get("BlockedRequests", {}).items() if rule != "ALL" and n}
    return _bars(Counter(blocked), path, "WAF blocks by rule")


def queues(samples: list[dict[str, Any]], path: Path) -> Path | None:
    if not samples:
        return None
    t0 = samples[0]["t"]
    fig, ax = plt.subplots(figsize=(9, 3.5))
    for name in [q["queue"] for q in samples[0]["queues"]]:
        rows = [(s["t"] - t0, next(q for q in s["queues"] if q["queue"] == name)) for s in samples]
        ax.plot([t for t, _ in rows], [q.get("waiting", 0) + q.get("in_flight", 0) for _, q in rows], label=name)
        ax.plot([t for t, _ in rows], [q.get("dead", 0) for _, q in rows], linestyle="--", label=f"{name} DLQ")
    return _save(fig, ax, path, "queue depth (waiting + in flight) and dead letters", "messages")


def cpu(samples: list[dict[str, Any]], path: Path) -> Path | None:
    if len(samples) < 2:
        return None
    totals: Counter[str] = Counter()
    for key, value in samples[-1]["seconds"].items():
        totals[key] = value - samples[0]["seconds"].get(key, 0)
    fig, ax = plt.subplots(figsize=(9, 3.5))
    t = [s["t"] - samples[0]["t"] for s in samples[1:]]
    for name, _ in totals.most_common(6):
        rate = [(b["seconds"].get(name, 0) - a["seconds"].get(name, 0)) / (b["t"] - a["t"])
                for a, b in itertools.pairwise(samples)]  # fmt: skip
        ax.plot(t, rate, label=name)
    return _save(fig, ax, path, "CPU per process of the stack (the six busiest)", "cores")


def _bars(counts: Counter[str], path: Path, title: str) -> Path | None:
    if not counts:
        return None
    items = counts.most_common(12)
    fig, ax = plt.subplots(figsize=(9, 0.5 + 0.35 * len(items)))
    ax.barh([k for k, _ in items][::-1], [v for _, v in items][::-1])
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def _save(fig: Any, ax: Any, path: Path, title: str, unit: str) -> Path:
    ax.set_title(title)
    ax.set_xlabel("seconds into the run")
    ax.set_ylabel(unit)
    ax.legend(loc="upper left", fontsize="small")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def _rows(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        return []
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def _num(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return float("nan")
