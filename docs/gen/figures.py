"""Measured figures: the latest bench and load artifacts, dated, with the machine they ran on.

Read from ``artifacts/bench/<scenario>.json`` (``nox -s bench``) and ``artifacts/load/<run>/result.json``
(``nox -s load``); nothing is typed in by hand. With no artifact the page says so.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from docs.gen.resources import cell

NOT_MEASURED = "Not measured yet — run `nox -s bench`"


def latest_bench(artifacts: Path) -> list[dict[str, Any]]:
    """The newest report of each bench scenario (each scenario writes one file, overwritten by the next run)."""
    reports = []
    for path in sorted((artifacts / "bench").glob("*.json")):
        try:
            report = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        if isinstance(report, dict) and "results" in report:
            reports.append(report | {"_file": path.relative_to(artifacts.parent).as_posix()})
    return reports


def latest_load(artifacts: Path) -> dict[str, Any] | None:
    """The newest load run (its folder names sort by time)."""
    for path in sorted((artifacts / "load").glob("*/result.json"), reverse=True):
        try:
            return json.loads(path.read_text()) | {"_file": path.relative_to(artifacts.parent).as_posix()}
        except (OSError, json.JSONDecodeError):
            continue
    return None


def _machine(report: dict[str, Any]) -> str:
    m = report.get("machine") or {}
    if not m:
        return "machine not recorded"
    return f"{m.get('cpus', '?')} cores, Python {m.get('python', '?')}, {m.get('platform', '?')}"


def _load_average(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k} {v}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return " / ".join(f"{v:.2f}" for v in value)
    return str(value)


def page(artifacts: Path) -> str:
    """The figures page."""
    lines = [
        "# Measured figures",
        "",
        "The latest results of the benchmarks and the load harness found under `artifacts/` when this site "
        "was built, with when and where they ran. Figures from a busy machine (load average above the core "
        "count) are low and noisy: compare ratios within one run, not runs with each other.",
        "",
        "## Benchmarks (`nox -s bench`)",
        "",
    ]
    benches = latest_bench(artifacts)
    if not benches:
        lines += [f"{NOT_MEASURED} (it writes `artifacts/bench/<scenario>.json`).", ""]
    for report in benches:
        lines += [
            f"### {report.get('scenario', '?')}",
            "",
            f"Run **{report.get('when', 'at an unknown time')}** on {_machine(report)}; load average "
            f"{_load_average(report.get('load_average', '?'))}; {report.get('seconds', '?')} s per target, "
            f"{report.get('users', '?')} users. From `{report['_file']}`.",
            "",
            "| target | req/s | p50 ms | p99 ms | requests | failures |",
            "|---|---|---|---|---|---|",
        ]
        for r in report["results"]:
            lines.append(
                f"| {cell(r.get('label'))} | {r.get('rps', 0):,.0f} | {r.get('p50_ms', 0):.0f} | "
                f"{r.get('p99_ms', 0):.0f} | {r.get('requests', '')} | {r.get('failures', '')} |"
            )
        if "ratio" in report:
            lines.append("")
            lines.append(f"Ratio to the same-run ceiling: **{report['ratio']}**.")
        lines.append("")
    lines += ["## Load runs (`nox -s load`)", ""]
    run = latest_load(artifacts)
    if run is None:
        lines += ["Not measured yet — run `nox -s load` (it writes `artifacts/load/<time>/result.json`).", ""]
    else:
        verdict = run.get("verdict") or {}
        lines += [
            f"Run from **{run.get('started', '?')}** to {run.get('ended', '?')} against `{run.get('target', '?')}`, "
            f"on {_machine(run)}; load average {_load_average(run.get('load_average', '?'))}. "
            f"From `{run['_file']}`.",
            "",
            f"Result: **{'passed' if run.get('ok') else 'failed'}**"
            + (f": {cell('; '.join(run.get('problems') or []))}" if run.get("problems") else "."),
            "",
        ]
        if verdict.get("verdict"):
            lines += [f"> {cell(verdict['verdict'])}", ""]
        knee = run.get("knee") or {}
        if knee.get("last_good"):
            good = knee["last_good"]
            lines += [
                f"Knee: the highest steady load with every SLO held was {good.get('users')} users at "
                f"{good.get('rps')} req/s; busiest at the break: {knee.get('bottleneck')}.",
                "",
            ]
    return "\n".join(lines) + "\n"
