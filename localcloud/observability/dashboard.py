"""The dashboard of reference/observability.py (GRAPHS, then ALARMS), drawn locally as one HTML page.

The CloudFormation dashboard (cfn/observability.py) and this page come from the same two lists: a graph per
``Graph`` (one line per watched resource, the statistic per period, percentiles from raw values), the alarms'
states as the alarm widgets show them, and the state changes the evaluator made. The data is what the
worker last wrote (``build/observability/<stage>/dashboard.json``, every ``SHOP_OBSERVABILITY_SNAPSHOT_EVERY_S``).
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from localcloud import figures

ROOT = Path(__file__).resolve().parents[2]
STATE_COLOURS = {"ALARM": "#d62728", "OK": "#2ca02c", "INSUFFICIENT_DATA": "#7f7f7f"}

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>shop {{ stage }}: CloudWatch dashboard (local)</title>
<style>
body { font: 14px system-ui, sans-serif; margin: 1.5em; color: #222; }
.grid { display: grid; grid-template-columns: repeat(2, minmax(0, 1fr)); gap: 1em; }
.card { border: 1px solid #ddd; border-radius: 6px; padding: .5em; }
.card img { width: 100%; }
.empty { color: #888; padding: 2em 0; text-align: center; }
table { border-collapse: collapse; width: 100%; }
td, th { border-bottom: 1px solid #eee; padding: .25em .5em; text-align: left; vertical-align: top; }
.state { color: white; border-radius: 4px; padding: 0 .4em; font-weight: 600; font-size: 12px; }
</style></head><body>
<h1>shop-{{ stage }}-overview <small>(local; {{ generated }})</small></h1>
<p>The graphs and alarms of <code>reference/observability.py</code>, as the CloudFormation dashboard draws them;
{{ counts }}.</p>
<div class="grid">
{% for g in graphs %}<div class="card"><h3>{{ g.title }} <small>({{ g.statistic }})</small></h3>
{% if g.png %}<img alt="{{ g.title }}" src="data:image/png;base64,{{ g.png }}">
{% else %}<p class="empty">no data yet</p>{% endif %}
</div>
{% endfor %}</div>
<h2>Alarms</h2>
<table><tr><th>state</th><th>alarm</th><th>since</th><th>reason</th></tr>
{% for a in alarms %}<tr>
<td><span class="state" style="background: {{ colours[a.StateValue] }}">{{ a.StateValue }}</span></td>
<td>{{ a.AlarmName }}<br><small>{{ a.AlarmDescription }}</small></td><td>{{ a.StateUpdatedTimestamp[:19] }}</td>
<td><small>{{ a.StateReason }}</small></td></tr>
{% endfor %}</table>
<h2>History</h2>
<table><tr><th>time</th><th>alarm</th><th>change</th></tr>
{% for h in history %}<tr><td>{{ h.Timestamp }}</td><td>{{ h.AlarmName }}</td><td>{{ h.HistorySummary }}</td></tr>
{% else %}<tr><td colspan="3">no state change yet</td></tr>{% endfor %}</table>
</body></html>
"""


def render(data: dict[str, Any], history: list[dict[str, Any]], page: Path) -> Path:
    """Write the page (plots inline as PNG) and return its path."""
    from jinja2 import Environment

    page.parent.mkdir(parents=True, exist_ok=True)
    times = [t for g in data.get("graphs", []) for pts in g.get("lines", {}).values() for t, _ in pts]
    end = float(data.get("generated_at") or max(times, default=0))
    start = min(max(min(times, default=end), end - 3600), end - 600)  # at least 10 minutes, at most an hour
    span = (start - 60, end + 30)  # one x axis for every graph
    graphs = [g | {"png": _png(g, span)} for g in data.get("graphs", [])]
    alarms = sorted(data.get("alarms", []), key=lambda a: (a["StateValue"] != "ALARM", a["AlarmName"]))
    states = [a["StateValue"] for a in alarms]
    counts = ", ".join(f"{states.count(s)} {s}" for s in STATE_COLOURS if s in states) or "no alarms"
    html = Environment(autoescape=True).from_string(PAGE).render(
        stage=data.get("stage", ""), generated=_time(data.get("generated_at", 0)), graphs=graphs, alarms=alarms,
        history=list(reversed(history))[:100], colours=STATE_COLOURS, counts=counts,
    )  # fmt: skip
    page.write_text(html)
    return page


def _time(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _png(graph: dict[str, Any], span: tuple[float, float]) -> str | None:
    lines = {k: [(t, v) for t, v in pts if v is not None] for k, pts in graph.get("lines", {}).items()}
    lines = {k: v for k, v in lines.items() if v}
    if not lines:
        return None
    import matplotlib.dates as mdates

    with figures.figure(6.4, 3.0) as (fig, ax):
        for label, points in sorted(lines.items()):
            times = [datetime.fromtimestamp(t, UTC) for t, _ in points]
            ax.plot(times, [v for _, v in points], marker="o", markersize=2.5, linewidth=1.2, label=label)
        ax.set_ylabel(graph.get("unit", ""))
        locator = mdates.AutoDateLocator(minticks=4, maxticks=8)
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
        ax.set_xlim(datetime.fromtimestamp(span[0], UTC), datetime.fromtimestamp(span[1], UTC))
        ax.grid(alpha=0.3)
        ax.set_ylim(bottom=0)
        if len(lines) > 1:
            ax.legend(fontsize=7, ncol=2, loc="upper left")
        return figures.png_base64(fig)


def folder(stage: str) -> Path:
    """Where the worker of ``stage`` keeps its files: beside the repository, so they outlive the stack."""
    return ROOT / "build" / "observability" / stage


def from_folder(source: Path, page: Path) -> Path | None:
    """Draw the page from a worker's folder; None when it wrote nothing yet."""
    try:
        data = json.loads((source / "dashboard.json").read_text())
    except (OSError, ValueError):
        return None
    from localcloud.observability.evaluator import read_history

    return render(data, read_history(source / "history.jsonl"), page)


def for_load_run(stage: str, out: Path, fresh_s: float = 900.0) -> dict[str, Any]:
    """What the load report links: the dashboard of the run's stack, drawn into ``out/observability/``."""
    try:
        data = json.loads((folder(stage) / "dashboard.json").read_text())
        if time.time() - float(data.get("generated_at", 0)) > fresh_s:
            return {"error": f"the observability worker of stage {stage} wrote nothing in the last {fresh_s:.0f} s"}
        page = from_folder(folder(stage), out / "observability" / "index.html")
    except Exception as exc:  # noqa: BLE001 - the load run's verdict stands without its dashboard
        return {"error": f"{type(exc).__name__}: {exc}"}
    return {"page": "observability/index.html"} if page else {"error": "no dashboard data"}
