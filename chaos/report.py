"""The report of a chaos run: one HTML page (``index.html``) and ``results.json`` under artifacts/chaos/<timestamp>/.

Per experiment: its verdict and checks, a timeline of the background traffic's error rate and p95
latency with the fault window shaded and the recovery marked, the evidence that the fault took
effect, the alarms that fired, the recovery time and the ledger's verdict; above them, the score.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment

from localcloud.figures import png_base64

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>chaos run {{ run.started_text }}</title>
<style>
body { font: 14px system-ui, sans-serif; margin: 1.5em; color: #222; max-width: 1100px; }
table { border-collapse: collapse; } td, th { border-bottom: 1px solid #eee; padding: .25em .6em; text-align: left; }
.passed { color: #2ca02c; font-weight: 600; } .failed, .aborted { color: #d62728; font-weight: 600; }
.card { border: 1px solid #ddd; border-radius: 6px; padding: .5em 1em; margin: 1em 0; } img { max-width: 100%; }
code { background: #f4f4f4; padding: 0 .2em; }
</style></head><body>
<h1>Chaos run: {{ score.passed }}/{{ score.total }} passed, score {{ score.score }}</h1>
<p>{{ run.started_text }}, {{ run.wall_s }} s wall, stage <code>{{ run.stage }}</code>, load average {{ run.load }}.
The score is the share of each experiment's checks that held (steady state before, fault took effect, no
unexpected alarm, rolled back, recovered, ledger), averaged over the experiments.</p>
<table><tr><th>experiment</th><th>status</th><th>recovery</th><th>alarms fired</th><th>ledger</th><th>why</th></tr>
{% for r in results %}<tr><td><a href="#{{ r.name }}">{{ r.name }}</a></td>
<td class="{{ r.status }}">{{ r.status }}</td>
<td>{{ r.recovery_text }}</td><td>{{ r.alarms_fired|length }}</td><td>{{ r.ledger_text }}</td>
<td><small>{{ r.problems|join('; ') }}</small></td></tr>
{% endfor %}</table>
{% for r in results %}<div class="card" id="{{ r.name }}">
<h2>{{ r.name }} <span class="{{ r.status }}">{{ r.status }}</span></h2>
<p>{{ r.title }}</p>
{% if r.png %}<img alt="error rate and p95 latency of {{ r.name }}" src="data:image/png;base64,{{ r.png }}">{% endif %}
<h3>Checks</h3><ul>{% for k, v in r.checks.items() %}
<li>{{ '✓' if v else '✗' }} {{ k }}</li>{% endfor %}</ul>
{% if r.problems %}<p class="failed">{{ r.problems|join('<br>') }}</p>{% endif %}
<h3>Evidence that the fault took effect</h3><ul>
{% for e in r.evidence %}<li>{{ 'seen' if e.ok else 'NOT seen' }} ({{ e.probe }}): {{ e.detail }}</li>
{% else %}<li>none</li>{% endfor %}</ul>
<h3>Alarms that fired</h3><ul>
{% for name, reason in r.alarms_fired.items() %}<li><code>{{ name }}</code>: <small>{{ reason }}</small></li>
{% else %}<li>none</li>{% endfor %}</ul>
<p>Expected (not stop conditions): {{ r.alarms_expected|join(', ') or 'none' }}.
Fault window: {{ r.window_text }}. Recovery: {{ r.recovery_text }}.</p>
<h3>Ledger</h3><p>{{ r.ledger_text }}{% if r.ledger %}: <small>{{ r.ledger.counts }}</small>{% endif %}</p>
</div>{% endfor %}
</body></html>
"""


def timeline_png(record: dict[str, Any], rows: list[dict[str, float]]) -> str | None:
    """Error rate (%) and p95 latency (ms) per second, the fault window shaded, the recovery marked."""
    if not rows:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t0 = rows[0]["t"]
    xs = [r["t"] - t0 for r in rows]
    fig, (errors, latency) = plt.subplots(2, 1, figsize=(8, 4.2), dpi=100, sharex=True)
    try:
        errors.plot(xs, [100 * r["error_rate"] for r in rows], color="#d62728", linewidth=1.2)
        errors.set_ylabel("errors %")
        latency.plot(xs, [r["p95_ms"] for r in rows], color="#1f77b4", linewidth=1.2)
        latency.set_ylabel("p95 ms")
        latency.set_xlabel("seconds")
        start, end = record.get("fault_start"), record.get("fault_end")
        for ax in (errors, latency):
            ax.grid(alpha=0.3)
            ax.set_ylim(bottom=0)
            if start and end:
                ax.axvspan(start - t0, end - t0, color="#ff7f0e", alpha=0.18, label="fault")
            since = start if record.get("recover_from") == "injection" else end
            if since and record.get("recovery_s") is not None:
                ax.axvline(since - t0 + record["recovery_s"], color="#2ca02c", linestyle="--", label="steady again")
        errors.legend(fontsize=7, loc="upper right")
        return png_base64(fig)
    finally:
        plt.close(fig)


def write(out: Path, run: dict[str, Any], results: list[dict[str, Any]], score: dict[str, Any]) -> Path:
    """Write results.json and index.html into ``out``; returns the page."""
    out.mkdir(parents=True, exist_ok=True)
    plain = [{k: v for k, v in r.items() if k not in ("timeline", "png")} for r in results]
    (out / "results.json").write_text(json.dumps({"run": run, "score": score, "results": plain}, indent=2, default=str))
    shown = [r | _texts(r) for r in results]
    run = run | {
        "started_text": datetime.fromtimestamp(run["started"], UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
        "load": ", ".join(f"{x:.1f}" for x in run.get("load_average", ())),
    }
    page = out / "index.html"
    html = Environment(autoescape=True).from_string(PAGE).render(run=run, results=shown, score=score)
    page.write_text(html)
    return page


def _texts(r: dict[str, Any]) -> dict[str, Any]:
    ledger = r.get("ledger")
    start, end = r.get("fault_start"), r.get("fault_end")
    return {
        "recovery_text": "-"
        if r.get("recovery_s") is None
        else f"{r['recovery_s']:.1f} s after the {r.get('recover_from', 'rollback')}",
        "ledger_text": "not checked"
        if not ledger
        else ("ok" if ledger.get("ok") else f"VIOLATED {ledger.get('violated')}"),
        "window_text": f"{end - start:.1f} s" if start and end else "-",
        "png": r.get("png") or timeline_png(r, [x for x in r.get("timeline", []) if not math.isnan(x["p95_ms"])]),
        "evidence": r.get("evidence", []),
        "alarms_fired": r.get("alarms_fired", {}),
        "alarms_expected": r.get("alarms_expected", []),
        "problems": r.get("problems", []),
    }
