"""The scaling report: one HTML page with its plots inline as SVG (also written beside it).

Plots: throughput held within the SLO against replicas (with the USL fit and linear scaling),
p50/p95/p99 against offered load per replica count, and (for a step run) replicas and p99 over time.
"""

from __future__ import annotations

import html
import io
import math
from pathlib import Path
from typing import Any

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")  # no display: files only
import matplotlib.pyplot as plt

from load.scale.usl import Usl


def _svg(fig: Any, path: Path) -> str:
    fig.tight_layout()
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg")
    plt.close(fig)
    text = buffer.getvalue()
    path.write_text(text)
    return text[text.index("<svg") :]


def throughput_plot(result: dict[str, Any], path: Path) -> str | None:
    steps = [s for s in result["steps"] if s["capacity_rps"] > 0]
    if not steps:
        return None
    fig, ax = plt.subplots(figsize=(7, 4))
    n = [s["replicas"] for s in steps]
    x = [s["capacity_rps"] for s in steps]
    ax.plot(n, x, "o", markersize=8, label="measured: highest rate within the SLO")
    one = next((s["capacity_rps"] for s in steps if s["replicas"] == 1), None)
    grid = [1 + i * (max(n) - 1) / 50 for i in range(51)] if max(n) > 1 else [1]
    if one:
        ax.plot(grid, [one * g for g in grid], ":", color="grey", label="linear scaling")
    if usl := result.get("usl"):
        model = Usl(usl["lambda"], usl["sigma"], usl["kappa"])
        label = f"USL fit: sigma {model.sigma:.3f}, kappa {model.kappa:.4f}"
        ax.plot(grid, [model.throughput(g) for g in grid], "-", label=label)
    ax.set_xlabel("replicas of gateway and catalog (each a 250m pod)" if result.get("cpu_quota") else "replicas")
    ax.set_ylabel("product pages / s")
    ax.set_title("throughput held within the objective, by replicas")
    ax.set_xticks(n)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _svg(fig, path)


def latency_plot(result: dict[str, Any], path: Path) -> str | None:
    steps = [s for s in result["steps"] if s["sweep"]]
    if not steps:
        return None
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.8), sharey=True)
    for ax, key in zip(axes, ("p50_ms", "p95_ms", "p99_ms"), strict=True):
        for s in steps:
            rates = [r["offered_rate"] for r in s["sweep"]]
            ax.plot(rates, [r[key] for r in s["sweep"]], "o-", label=f"{s['replicas']} replica(s)")
        objective = result["objective"].get(key)
        if objective:
            ax.axhline(objective, color="red", linestyle="--", linewidth=1, label="objective")
        ax.set_title(key.replace("_ms", ""))
        ax.set_xlabel("offered product pages / s")
        ax.set_yscale("log")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("latency from intended send (ms)")
    axes[-1].legend(fontsize=8)
    return _svg(fig, path)


def write(out: Path, result: dict[str, Any]) -> Path:
    plots = {
        "throughput": throughput_plot(result, out / "throughput.svg"),
        "latency": latency_plot(result, out / "latency.svg"),
    }
    page = out / "report.html"
    page.write_text(_page(result, plots))
    return page


def _fmt(value: Any, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.{digits}f}" if isinstance(value, float) else html.escape(str(value))


def _page(result: dict[str, Any], plots: dict[str, str | None]) -> str:
    o = result["objective"]
    rows = "".join(
        f"<tr><td>{s['replicas']}</td><td>{_fmt(s['capacity_rps'])}</td><td>{_fmt(s['per_pod_rps'])}</td>"
        f"<td>{_fmt(result['measured_efficiency'].get(str(s['replicas'])), 2)}</td>"
        f"<td>{_fmt(s['load_average'][0])}</td><td>{html.escape(s.get('error') or '')}</td></tr>"
        for s in result["steps"]
    )
    sweeps = "".join(
        f"<tr><td>{s['replicas']}</td><td>{_fmt(r['offered_rate'])}</td><td>{_fmt(r['achieved_rate'])}</td>"
        f"<td>{_fmt(r['p50_ms'])}</td><td>{_fmt(r['p95_ms'])}</td><td>{_fmt(r['p99_ms'])}</td>"
        f"<td>{r['errors']}/{r['sent']}</td></tr>"
        for s in result["steps"]
        for r in s["sweep"]
    )
    balancer = "".join(
        f"<tr><td>{s['replicas']}</td><td>{html.escape(b['svname'])}</td><td>{html.escape(b['status'])}</td>"
        f"<td>{html.escape(b['stot'])}</td><td>{html.escape(b['hrsp_5xx'])}</td></tr>"
        for s in result["steps"]
        for b in s["balancer"]
    )
    throttled = "".join(
        f"<tr><td>{s['replicas']}</td><td>{html.escape(name)}</td><td>{t['nr_periods']}</td>"
        f"<td>{t['nr_throttled']}</td></tr>"
        for s in result["steps"]
        for name, t in s["throttling"].items()
        if name.split("-")[0] in ("gateway", "catalog")
    )
    usl = result.get("usl")
    fit = (
        f"<p>USL fit: lambda {usl['lambda']:.1f}/s, contention sigma {usl['sigma']:.3f}, coherency kappa "
        f"{usl['kappa']:.4f}, throughput peaks at N = {_fmt(usl['peak_n'])}.</p>"
        if usl
        else "<p>No USL fit: no replica count held any rate, or none at 1 replica.</p>"
    )
    figures = "".join(f"<figure>{svg}</figure>" for svg in plots.values() if svg)
    four = result["measured_efficiency"].get("4")
    target = (
        f"<p><b>Target</b> (issue 16): 4 replicas hold &ge; 3.2&times; one replica's rate (efficiency &ge; 0.8): "
        f"{'met' if four >= 0.8 else 'NOT met'} (measured {four:.2f}).</p>"
        if four is not None
        else ""
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Capacity curve</title>
<style>body{{font-family:system-ui,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em}}
table{{border-collapse:collapse;margin:1em 0}}td,th{{border:1px solid #ccc;padding:3px 8px;text-align:right}}
figure{{margin:1em 0}}svg{{max-width:100%;height:auto}}.note{{background:#fff4e0;padding:.6em 1em}}</style></head>
<body><h1>Capacity curve: product page, gateway + catalog</h1>
<p class="note">Measured {html.escape(result["when"])} on {result["cpus"]} cores shared with the load generator
(load average {_fmt(result["load_average_before"][0])} before, {_fmt(result["load_average_after"][0])} after).
CPU quota per replica: {html.escape(result["cpu_quota"] or "none")}. {result["seconds_per_rate"]:.0f} s per
offered rate, open loop, latency from the intended send time. Objective ({o["group"]}): p95 &le; {o["p95_ms"]:.0f} ms,
p99 &le; {o["p99_ms"]:.0f} ms, errors &le; {o["max_error_rate"]:.0%}, at least {o["min_achieved"]:.0%} of the offered
rate answered.</p>
{fit}
{target}
<table><tr><th>replicas</th><th>held (req/s)</th><th>per pod</th><th>efficiency</th><th>load avg</th>
<th>not measured because</th></tr>{rows}</table>
{figures}
<h2>Every offered rate</h2>
<table><tr><th>replicas</th><th>offered</th><th>achieved</th><th>p50</th><th>p95</th><th>p99 ms</th><th>errors</th></tr>
{sweeps}</table>
<h2>Per-replica counters (HAProxy stats)</h2>
<table><tr><th>replicas</th><th>replica</th><th>status</th><th>requests</th><th>5xx</th></tr>{balancer}</table>
<h2>CPU throttling (cgroup cpu.stat)</h2>
<table><tr><th>replicas</th><th>pod</th><th>periods</th><th>throttled</th></tr>{throttled}</table>
</body></html>
"""


def step_plot(result: dict[str, Any], path: Path) -> str | None:
    timeline = result.get("timeline") or []
    if not timeline:
        return None
    services = [k for k in timeline[0] if k not in ("t", "offered")]
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(10, 6), sharex=True)
    t = [row["t"] for row in timeline]
    for name in services:
        top.step(t, [row[name]["replicas"] for row in timeline], where="post", label=f"{name} replicas")
    top.set_ylabel("replicas")
    top.yaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    offered = top.twinx()
    offered.step(t, [row["offered"] for row in timeline], where="post", color="grey", linestyle=":")
    offered.set_ylabel("offered product pages / s")
    top.legend(loc="upper left", fontsize=8)
    top.set_title("replicas under a step load (HPA algorithm on measured CPU); dotted: offered rate")
    top.grid(alpha=0.3)
    p99 = result.get("p99") or []
    bottom.plot([w["t"] for w in p99], [w["p99_ms"] for w in p99], "o-", markersize=3, label="p99")
    bottom.axhline(result["objective_p99_ms"], color="red", linestyle="--", linewidth=1, label="objective")
    bottom.set_yscale("log")
    bottom.set_ylabel("p99 per window (ms)")
    bottom.set_xlabel("seconds")
    bottom.legend(fontsize=8)
    bottom.grid(alpha=0.3)
    return _svg(fig, path)


def write_step(out: Path, result: dict[str, Any]) -> Path:
    svg = step_plot(result, out / "step.svg") or "<p>No timeline.</p>"
    h = result["hpa"]
    rows = "".join(
        f"<tr><td>{row['t']}</td><td>{_fmt(row['offered'])}</td>"
        + "".join(
            f"<td>{row[n]['replicas']} &rarr; {row[n]['desired']}</td><td>{_fmt(row[n]['cpu_pct'])}</td>"
            for n in row
            if n not in ("t", "offered")
        )
        + "</tr>"
        for row in result["timeline"]
    )
    services = [k for k in (result["timeline"][0] if result["timeline"] else {}) if k not in ("t", "offered")]
    head = "".join(f"<th>{html.escape(n)} replicas</th><th>{html.escape(n)} CPU %</th>" for n in services)
    page = out / "report.html"
    page.write_text(f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Autoscaling under a step</title>
<style>body{{font-family:system-ui,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em}}
table{{border-collapse:collapse;margin:1em 0}}td,th{{border:1px solid #ccc;padding:3px 8px;text-align:right}}
svg{{max-width:100%;height:auto}}.note{{background:#fff4e0;padding:.6em 1em}}</style></head>
<body><h1>Autoscaling replayed under a step load</h1>
<p class="note">Measured {html.escape(result["when"])} on {result["cpus"]} cores (load average after
{_fmt(result["load_average_after"][0])}). HPA: target {h["target_pct"]:.0f}% CPU of the request, sync
{h["sync_s"]:.0f} s, scale-down window {h["window_s"]:.0f} s, 1 to {h["max"]} replicas.</p>
<figure>{svg}</figure>
<table><tr><th>t (s)</th><th>offered /s</th>{head}</tr>{rows}</table>
</body></html>
""")
    return page
