"""``nox -s bench -- up``: how long ``python -m localcloud up`` takes to be ready, part by part, over N warm starts.

Each start runs the stack as ``nox -s up`` does (its own stage ``benchup``, a free port), reads the
console's part lines (``postgres up 0.48 s``...) until ``ready:``, then takes the CPU-seconds of the
whole process tree (user + system of every process the supervisor started, exited ones included, by
process) and stops it (SIGTERM, which the supervisor treats as Ctrl-C). A "warm" start has the
virtual environment installed and the seed and provision caches filled: when one misses, the bench first
fills it with one start it does not count (``--no-prime`` counts that one too; ``SHOP_SEED_CACHE=off``
measures starts that seed every time). It prints min / median / max per part, the CPU-seconds and
the load average around each start (the machine is shared: a load above the core count means the
wall-clock figures are mostly other people's work), and writes ``artifacts/bench/up.json`` and a
plot ``artifacts/bench/up.png``.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psutil

from load.bench.run import ARTIFACTS, ROOT

STAGE = "benchup"
PART = re.compile(r"^  (?P<name>\S+)\s+up\s+(?P<seconds>[\d.]+) s\s+(?P<detail>.*)$")
TOTAL = re.compile(r"^up in (?P<seconds>[\d.]+) s")
READY_TIMEOUT_S = 600


def parts_of(lines: list[str]) -> dict[str, float]:
    """The part lines of one start's console, in order; a part seen twice (the seed waves) is numbered."""
    parts: dict[str, float] = {}
    for line in lines:
        if match := PART.match(line):
            name, n = match["name"], 2
            while name in parts:
                name, n = f"{match['name']} {n}", n + 1
            parts[name] = float(match["seconds"])
        elif match := TOTAL.match(line):
            parts["total"] = float(match["seconds"])
    return parts


# Which process is which, by its command line; the supervisor's reaped children (seeds, initdb, pg_dump) count
# under "supervisor + seeds".
GROUPS = (
    ("services", "uvicorn services."),
    ("zygote", "localcloud.zygote"),  # the interpreter the services are forked from (SHOP_PREFORK, on by default)
    ("frontdoor", "localcloud.frontdoor"),
    ("moto", "localcloud.moto_server"),
    ("postgres", "pginstall/bin/postgres"),
    ("valkey", "valkey-server"),
)


def tree_cpu_s(root: psutil.Process) -> dict[str, float]:
    """User + system CPU-seconds of ``root`` and every descendant (reaped children's included), by group."""
    groups: dict[str, float] = {}
    for proc in [root, *root.children(recursive=True)]:
        try:
            times = proc.cpu_times()
            command = " ".join(proc.cmdline())
        except psutil.Error:
            continue
        group = "supervisor + seeds" if proc.pid == root.pid else "other"
        group = next((name for name, mark in GROUPS if mark in command), group)
        spent = times.user + times.system + times.children_user + times.children_system
        groups[group] = round(groups.get(group, 0.0) + spent, 2)
    return groups


def one_start(env: dict[str, str]) -> dict[str, Any]:
    """Start the stack, wait for ``ready:``, measure, stop it; returns the start's record."""
    load_before = os.getloadavg()[0]
    argv = [sys.executable, "-m", "localcloud", "up", "--port", "0"]
    proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    cpu: dict[str, float] | None = None
    deadline = time.monotonic() + READY_TIMEOUT_S
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            print(f"  | {line}", end="", flush=True)
            lines.append(line.rstrip("\n"))
            if line.startswith("ready:"):
                cpu = tree_cpu_s(psutil.Process(proc.pid))
                break
            if time.monotonic() > deadline:
                break
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)  # not SIGINT: a shell's background job ignores it
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    if cpu is None:
        raise SystemExit(f"the stack did not get ready (exit code {proc.returncode}); its output is above")
    return {
        "parts": parts_of(lines),
        "cpu_s": round(sum(cpu.values()), 2),
        "cpu_s_by_process": cpu,
        "seed_cache": "restored"
        if any("kept from an earlier run" in ln and "(seed cache" in ln for ln in lines)
        else "seeded",
        "provision_cache": "restored"
        if any("kept from an earlier run" in ln and "(provision cache" in ln for ln in lines)
        else "provisioned",
        "load_average": {"before": round(load_before, 2), "after": round(os.getloadavg()[0], 2)},
    }


def cache_is_warm() -> bool:
    """Whether the seed cache and the provision cache (of this bench's stage) hold what a start restores."""
    from localcloud import provisioncache, seedcache
    from localcloud.settings import load_settings

    root = seedcache.default_root()
    if root is None:
        return True  # nothing to prime: every start seeds and provisions
    provisioned = provisioncache.for_emulator("embedded", STAGE, load_settings(SHOP_STAGE=STAGE).aws_region)
    seeded = all((root / m / seedcache.digest(k) / seedcache.MANIFEST).is_file() for m, k in seedcache.KEPT.items())
    return seeded and provisioned is not None and provisioned.lookup() is not None


def bench(args: argparse.Namespace) -> dict[str, Any]:
    env = os.environ | {"SHOP_STAGE": STAGE, "SHOP_READY_TIMEOUT": str(READY_TIMEOUT_S), "PYTHONUNBUFFERED": "1"}
    primed = False
    if not args.no_prime and not cache_is_warm():
        print("priming: one start (not counted) fills the seed cache", flush=True)
        one_start(env)
        primed = True
    starts = []
    for n in range(1, args.starts + 1):
        print(f"start {n} of {args.starts}", flush=True)
        starts.append(one_start(env))
    names = list(dict.fromkeys(name for s in starts for name in s["parts"]))
    summary = {}
    for name in [*names, "cpu_s"]:
        values = [
            s["cpu_s"] if name == "cpu_s" else s["parts"][name] for s in starts if name == "cpu_s" or name in s["parts"]
        ]
        summary[name] = {"min": min(values), "median": statistics.median(values), "max": max(values)}
    report = {
        "scenario": "up",
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "starts": starts,
        "primed": primed,
        "summary": summary,
    }
    report["plot"] = str(plot(report, (args.out or ARTIFACTS / "up.json").with_suffix(".png")))
    return report


def table(report: dict[str, Any]) -> str:
    starts = report["starts"]
    loads = [s["load_average"]["before"] for s in starts] + [s["load_average"]["after"] for s in starts]
    lines = [
        f"scenario up: {len(starts)} starts of `python -m localcloud up` ({report['machine']['cpus']} cores; "
        f"seed cache: {', '.join(sorted({s['seed_cache'] for s in starts}))}; "
        f"provision cache: {', '.join(sorted({s.get('provision_cache', '?') for s in starts}))})",
        f"{'part':<12} {'min s':>8} {'median s':>9} {'max s':>8}",
    ]
    for name, row in report["summary"].items():
        label = "CPU-seconds" if name == "cpu_s" else name
        lines.append(f"{label:<12} {row['min']:>8.2f} {row['median']:>9.2f} {row['max']:>8.2f}")
    groups = dict.fromkeys(g for s in starts for g in s["cpu_s_by_process"])
    medians = {g: statistics.median(s["cpu_s_by_process"].get(g, 0.0) for s in starts) for g in groups}
    lines.append("CPU-seconds by process (median): " + ", ".join(f"{g} {v:.1f}" for g, v in medians.items()))
    lines.append(f"load average around the starts: {min(loads):.1f} to {max(loads):.1f}")
    if max(loads) > (report["machine"]["cpus"] or 1):
        lines.append("warning: other work was running: wall-clock figures are inflated; compare CPU-seconds")
    lines.append(f"plot: {report['plot']}")
    return "\n".join(lines)


def plot(report: dict[str, Any], out: Path) -> Path:
    """One bar per part at the median, the whisker from min to max; the total and CPU-seconds beside."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [(n, r) for n, r in report["summary"].items() if n not in {"cpu_s"}]
    names = [n for n, _ in rows][::-1]
    medians = [r["median"] for _, r in rows][::-1]
    low = [r["median"] - r["min"] for _, r in rows][::-1]
    high = [r["max"] - r["median"] for _, r in rows][::-1]
    fig, ax = plt.subplots(figsize=(8, 0.45 * len(names) + 1.4))
    colours = ["#4c72b0" if n != "total" else "#c44e52" for n in names]
    ax.barh(names, medians, xerr=[low, high], color=colours, capsize=3)
    cpu = report["summary"]["cpu_s"]
    loads = [s["load_average"]["before"] for s in report["starts"]]
    ax.set_xlabel("seconds (bar: median; whisker: min to max)")
    ax.set_title(
        f"python -m localcloud up, {len(report['starts'])} warm starts: CPU {cpu['median']:.0f} s (median), "
        f"load {min(loads):.1f}-{max(loads):.1f}",
        fontsize=9,
    )
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out
