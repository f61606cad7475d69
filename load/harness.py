"""``python -m load [run|knee|efficiency|k8s] [--target local|URL] [--seconds 60] [--users 20] [--shape ramp] ...``.

A run: the local stack (started on a free port under stage ``load`` unless one runs), Locust
headless with every journey mixed by weight and a shape of stages, SLO gates live and at the
end, queue depths and CPU per process sampled meanwhile, then the WAF's blocks per rule, the
ledger, and a report under ``artifacts/load/<timestamp>/`` whose path is printed. Exit code 1
when a gate, the WAF's targets or the ledger failed, saying why.
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from load import queues
from load.bench.checkout import stock_up
from load.bench.run import ROOT, local_cloud
from localcloud import state

HERE = Path(__file__).parent
ARTIFACTS = ROOT / "artifacts" / "load"
CLIENT_IP_HEADER = "x-load-client-ip"  # the stack this harness starts trusts it; see load/README.md
RATE_LIMIT = 1000  # the rate-based rule's limit (per 5 min) on the stack started for a WAF run; see load/README.md


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    if args.mode == "k8s":
        from load import k8s

        return k8s.main(args)
    if args.mode == "efficiency":
        from load import efficiency

        return efficiency.run(args)
    if args.mode == "knee":  # the knee is about shoppers: no attackers or poison to muddy where it breaks
        args.attackers, args.poison = 0, 0.0
    out = args.out or ARTIFACTS / time.strftime("%Y%m%d-%H%M%S")
    out.mkdir(parents=True, exist_ok=True)
    with stack(args) as (url, local, started):
        result = drive(args, url, local, out, flood_limit=RATE_LIMIT if started and args.attackers else None)
        if local:  # the lake and the database go with the stack: keep the analytics (and a copy of the lake) now
            from localcloud.analytics.report import for_load_run

            result["analytics"] = for_load_run(args.stage, out)
    from load import report

    page = report.write(out, result)
    print(f"report: {page}")
    print(f"locust's report: {out / 'locust.html'}")
    return 0 if result["ok"] else 1


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m load", description=__doc__.split("\n\n")[0])
    parser.add_argument("mode", nargs="?", default="run", choices=["run", "knee", "efficiency", "k8s"])
    parser.add_argument("--target", default="local", help="local (default: start the stack if none runs) or a URL")
    parser.add_argument("--stage", default="load", help="the local stack's stage (default load)")
    parser.add_argument("--seconds", type=float, default=60, help="run length (default 60)")
    parser.add_argument("--users", type=int, default=20, help="peak virtual users of the shape (default 20)")
    parser.add_argument("--shape", default="ramp", choices=["ramp", "step", "spike", "soak", "none"])
    parser.add_argument("--journeys", default="", help="weights for this run, e.g. browser=6,shopper=0")
    parser.add_argument("--attackers", type=int, default=1, help="attacker users mixed in, plus one flood (0: none)")
    parser.add_argument("--flood-rps", type=float, default=25, help="the flood's requests/s from one address (25)")
    parser.add_argument("--poison", type=float, default=0.02, help="share of events injected as poison (0.02)")
    parser.add_argument("--tighten", type=float, default=1, help="divide every latency SLO by this (proof of a gate)")
    parser.add_argument("--fail-fast", action="store_true", help="stop at the first live SLO breach")
    parser.add_argument("--workers", type=int, default=1, help="Locust processes on this machine (default 1)")
    parser.add_argument("--step-users", type=int, default=10, help="knee: users added per step (default 10)")
    parser.add_argument("--hold", type=float, default=20, help="knee: seconds per step (default 20)")
    parser.add_argument("--max-users", type=int, default=400, help="knee: stop here if nothing broke")
    parser.add_argument("--out", type=Path, default=None, help="report folder (default artifacts/load/<timestamp>)")
    parser.add_argument(
        "--accounts-secret",
        default=None,
        help='remote: a Secrets Manager secret {"users": [{"email", "password"}]} of Cognito test users',
    )
    parser.add_argument("--skip-ledger", action="store_true", help="do not run the ledger check at the end")
    return parser.parse_args(argv)


@contextmanager
def stack(args: argparse.Namespace) -> Iterator[tuple[str, bool, bool]]:
    """The front door's URL, whether it is the local stack, and whether this run started it."""
    if args.target != "local":
        yield args.target.rstrip("/"), False, False
        return
    running = state.read(args.stage)
    if running and running.get("SHOP_FRONT_DOOR_URL"):
        print(f"using the running local stack of stage {args.stage}: {running['SHOP_FRONT_DOOR_URL']}", flush=True)
        yield running["SHOP_FRONT_DOOR_URL"], True, False
        return
    env = os.environ | {"SHOP_STAGE": args.stage, "EDGE_CLIENT_IP_HEADER": CLIENT_IP_HEADER, "PYTHONUNBUFFERED": "1"}
    if args.attackers:  # so that the flood crosses it within the run; without attackers the model's limit stands
        env["EDGE_WAF_RATE_LIMIT"] = str(RATE_LIMIT)
    print(f"starting the local stack (stage {args.stage})", flush=True)
    with local_cloud(env) as url:
        yield url, True, True


def drive(args: argparse.Namespace, url: str, local: bool, out: Path, flood_limit: int | None) -> dict[str, Any]:
    """One Locust run against ``url`` with the samplers around it; everything the report needs.

    ``flood_limit``: the rate rule's limit when this run set it; the flood must then have been blocked.
    """
    env = locust_env(args, out)
    if local:
        state.use_running_stack(args.stage)
        services = {k: v["url"] for k, v in json.loads(_get(f"{url}/healthz"))["services"].items()}
        env["LOAD_PRODUCTS"] = ",".join(stock_up(services["catalog"]))
        env["LOAD_CLIENT_IP_HEADER"] = CLIENT_IP_HEADER
    if args.accounts_secret:
        env["LOAD_ACCOUNTS_FILE"] = accounts_file(args.accounts_secret)
    sampler = queues.Sampler(args.stage if local else None, stack_pid(args.stage) if local else None)
    waf_before = waf_metrics(url)
    started = datetime.now(UTC)
    sampler.start()
    poison = queues.Poisoner(args.stage, args.poison, args.seconds) if local and args.poison else None
    with poison or nullcontext():
        code = locust(args, url, env, out, sampler)
    ended = datetime.now(UTC)
    waf = waf_delta(waf_before, waf_metrics(url))
    ledger = None
    if local and not args.skip_ledger:
        ledger = queues.ledger(args.stage, started, ended, poison.sent if poison else 0)
    sampler.stop()
    verdict = json.loads((out / "verdict.json").read_text()) if (out / "verdict.json").exists() else {}
    knee = json.loads((out / "knee.json").read_text()) if (out / "knee.json").exists() else None
    if knee:
        knee |= bottleneck(knee, sampler.cpu)
        good = knee["last_good"]
        print(f"knee: highest steady load with every SLO held: {good['users']} users, {good['rps']} req/s"
              if good else "knee: no step held every SLO", flush=True)  # fmt: skip
        print(f"knee: bottleneck (most CPU at the break): {knee['bottleneck']} {knee['cpu_share_at_break']}")
    flood = waf.get("BlockedRequests", {}).get("WafRatePerIp", 0)
    problems = []
    if code not in (0, None):
        problems.append(verdict.get("verdict", f"locust exited with code {code}"))
    if flood_limit and args.flood_rps * args.seconds > flood_limit * 1.2 and not flood:
        problems.append(f"the flood sent ~{args.flood_rps * args.seconds:.0f} requests from one address and the "
                        f"rate-based rule (limit {flood_limit} per 5 min) blocked none")  # fmt: skip
    if ledger is not None and not ledger["ok"]:
        problems.append(f"the ledger found violations: {ledger['violated']}")
    ok = not problems
    print(("RUN PASSED" if ok else "RUN FAILED: " + " ".join(problems)), flush=True)
    return {
        "ok": ok, "problems": problems, "args": {k: str(v) for k, v in vars(args).items()}, "target": url,
        "started": started.isoformat(), "ended": ended.isoformat(), "load_average": os.getloadavg(),
        "verdict": verdict, "waf": waf, "queues": sampler.depths, "cpu": sampler.cpu, "ledger": ledger,
        "poison_sent": poison.sent if poison else 0, "knee": knee, "exit_code": code,
    }  # fmt: skip


def locust_env(args: argparse.Namespace, out: Path) -> dict[str, str]:
    fixed = (args.attackers + 1) if args.attackers else 0
    return os.environ | {
        "LOAD_RUN": uuid.uuid4().hex[:8],
        "LOAD_SHAPE": "knee" if args.mode == "knee" else args.shape,
        "LOAD_USERS": str(args.users),
        "LOAD_SECONDS": str(args.seconds),
        "LOAD_FIXED_USERS": str(fixed),
        "LOAD_JOURNEYS": args.journeys,
        "LOAD_ATTACKERS": str(args.attackers),
        "LOAD_FLOOD_RPS": str(args.flood_rps),
        "LOAD_TIGHTEN": str(args.tighten),
        "LOAD_FAIL_FAST": "1" if args.fail_fast else "0",
        "LOAD_VERDICT_FILE": str(out / "verdict.json"),
        "LOAD_KNEE_FILE": str(out / "knee.json"),
        "LOAD_STEP_USERS": str(args.step_users),
        "LOAD_HOLD_S": str(args.hold),
        "LOAD_MAX_USERS": str(args.max_users),
        "PYTHONUNBUFFERED": "1",
    }


def locust(args: argparse.Namespace, url: str, env: dict[str, str], out: Path, sampler: queues.Sampler) -> int:
    """Locust headless, its output shown as it comes; its exit code (1: a gate broke)."""
    argv = [sys.executable, "-m", "locust", "-f", str(HERE / "locustfile.py"), "--headless", "-H", url]
    argv += ["--csv", str(out / "stats"), "--csv-full-history", "--html", str(out / "locust.html")]
    argv += ["--only-summary", "--loglevel", "WARNING", "--stop-timeout", "5", "--exit-code-on-error", "0"]
    if args.shape == "none" and args.mode == "run":
        argv += ["-u", str(args.users), "-r", str(max(1, args.users // 5)), "-t", f"{int(args.seconds)}s"]
    if args.workers > 1:
        argv += ["--processes", str(args.workers)]
    limit = None if args.mode == "knee" else args.seconds + 120
    proc = subprocess.Popen(argv, env=env, cwd=ROOT)
    sampler.generator = proc.pid  # its CPU is sampled beside the stack's: is the generator the bottleneck?
    try:
        return proc.wait(limit)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait()


def accounts_file(secret: str) -> str:
    """The test users of ``secret`` in a private temporary file for the journeys (never in the report folder)."""
    import boto3

    users = json.loads(
        boto3.client("secretsmanager", region_name=os.environ.get("AWS_REGION")).get_secret_value(SecretId=secret)[
            "SecretString"
        ]
    )["users"]
    fd, path = tempfile.mkstemp(prefix="load-accounts-", suffix=".json")  # 0600
    with os.fdopen(fd, "w") as f:
        json.dump([{"email": u["email"], "password": u["password"]} for u in users], f)
    atexit.register(os.unlink, path)
    print(f"signing in as {len(users)} test user(s) from the secret {secret}", flush=True)
    return path


def stack_pid(stage: str) -> int | None:
    try:
        return json.loads(state.path(stage).read_text())["pid"]
    except (OSError, ValueError, KeyError):
        return None


def bottleneck(knee: dict[str, Any], cpu: list[dict[str, Any]]) -> dict[str, Any]:
    """The last step that held, and the process that used the most CPU during the step that broke (or the last)."""
    steps = knee["steps"]
    good = [s for s in steps if s["held"]]
    last = steps[-1] if steps else None
    busiest: dict[str, float] = {}
    if last:
        inside = [c for c in cpu if last["from"] <= c["t"] <= last["to"]]
        if len(inside) >= 2:
            first, final = inside[0]["seconds"], inside[-1]["seconds"]
            span = inside[-1]["t"] - inside[0]["t"]
            busiest = {k: round((final.get(k, 0) - first.get(k, 0)) / span, 2) for k in final}
            busiest = dict(sorted(busiest.items(), key=lambda kv: -kv[1])[:6])
    return {"last_good": good[-1] if good else None, "cpu_share_at_break": busiest,
            "bottleneck": next(iter(busiest), None)}  # fmt: skip


def waf_metrics(url: str) -> dict[str, dict[str, float]]:
    """Counts per metric and rule from the front door (empty where there is none: a remote target)."""
    try:
        body = json.loads(_get(f"{url}/_edge/waf/metrics"))
    except (OSError, ValueError):
        return {}
    out: dict[str, dict[str, float]] = {}
    for m in body.get("metrics", []):
        out.setdefault(m["MetricName"], {})[m["Dimensions"]["Rule"]] = m["Value"]
    return out


def waf_delta(before: dict[str, dict[str, float]], after: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
    return {
        metric: {rule: n - before.get(metric, {}).get(rule, 0) for rule, n in rules.items()}
        for metric, rules in after.items()
    }


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - the target under test
        return response.read().decode()
