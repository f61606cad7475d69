"""``python -m chaos`` (``nox -s chaos``): fault experiments that prove their fault took effect.

  list              the experiments (chaos/experiments/*.json) and what each proves
  NAME [NAME...]    run these (a name of broken/ runs a deliberately broken one)
  all               run every experiment of chaos/experiments/ (not broken/)

Locally the stack of --stage is used when one runs (``nox -s up`` writes its state file), else one is
started with fault proxies in front of PostgreSQL, Valkey and the emulator and stopped at the end.
Each experiment: steady state under open-loop background traffic through the front door, the fault,
positive evidence that it took effect, the hold, the rollback (always), the time back to steady state,
and the ledger. The report goes to artifacts/chaos/<timestamp>/index.html. Exit code 0 when every
experiment passed, 1 otherwise.

--target aws NAME starts the experiment's AWS FIS template (cfn/fis.py, deployed with the stack) and
polls it until it ends; FIS stops it itself when one of its alarms fires.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from chaos import experiment as experiments

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "artifacts" / "chaos"
SHOPPERS = 16  # each has one checkout in flight at a time
LEDGER_WAIT_S = 90


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m chaos", description=__doc__.split("\n\n")[0],
        epilog=__doc__.split("\n\n", 1)[1], formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    parser.add_argument("what", nargs="*", default=["list"], help="list | all | experiment name(s)")
    parser.add_argument("--target", choices=["local", "aws"], default="local", help="local (default) or aws (FIS)")
    parser.add_argument(
        "--stage",
        default="chaos",
        help="the local stack's stage (default chaos; nox -s up's is local); with --target aws: the deployed stage",
    )
    parser.add_argument("--out", type=Path, default=None, help="report folder (default artifacts/chaos/<timestamp>)")
    parser.add_argument("--skip-ledger", action="store_true", help="do not run the ledger after each experiment")
    parser.add_argument("--warmup", type=float, default=60.0, help="seconds to wait for steady state before (60)")
    parser.add_argument("--region", default=os.environ.get("AWS_REGION", "us-east-1"), help="aws: the region")
    parser.add_argument("--poll", type=float, default=10.0, help="aws: seconds between polls of the experiment")
    return parser.parse_args(argv)


def select(what: list[str]) -> list[experiments.Experiment]:
    known = experiments.catalogue()
    broken = experiments.broken()
    if what == ["all"]:
        return list(known.values())
    unknown = [n for n in what if n not in known and n not in broken]
    if unknown:
        raise SystemExit(f"unknown experiment(s): {', '.join(unknown)}; `list` shows them")
    return [known.get(n) or broken[n] for n in what]


def aws_names(what: list[str]) -> list[str]:
    """The experiments of cfn/fis.py named (``all``: every one); SystemExit for one FIS has no template for."""
    from cfn.fis import EXPERIMENTS

    known = [e.name for e in EXPERIMENTS]
    if what == ["all"]:
        return known
    unknown = [n for n in what if n not in known]
    if unknown:
        raise SystemExit(
            f"no FIS template for {', '.join(unknown)} (FIS has no action for it); on AWS: {', '.join(known)}"
        )
    return what


def listing() -> str:
    lines = []
    for title, group in (("experiments (all)", experiments.catalogue()), ("broken on purpose", experiments.broken())):
        lines.append(f"{title}:")
        for name, e in group.items():
            lines.append(f"  {name:<32} {e.title}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    if args.what == ["list"]:
        print(listing())
        return 0
    if args.target == "aws":
        from chaos import aws

        return aws.main(aws_names(args.what), stage=args.stage, region=args.region, poll_s=args.poll)
    chosen = select(args.what)
    out = args.out or ARTIFACTS / time.strftime("%Y%m%d-%H%M%S")
    return run_local(args, chosen, out)


def run_local(args: argparse.Namespace, chosen: list[experiments.Experiment], out: Path) -> int:
    from chaos import report, runner
    from chaos.context import Context
    from chaos.stack import Stack
    from chaos.traffic import Traffic, timeline

    started = time.time()
    results = []
    with stack(args.stage) as env:
        live = Stack.of(args.stage, env)
        shop = prepare(live)
        for n, e in enumerate(chosen, 1):
            print(f"[{n}/{len(chosen)}] {e.name}: {e.title}", flush=True)
            missing = lacking(e, live)
            traffic = Traffic(shop, e.extension.rate, e.extension.mix)
            ctx = Context(live, traffic)
            if missing:
                record = runner.verdict({"name": e.name, "title": e.title, "problems": [missing], "journal": [],
                                         "started": time.time(), "steady_before": False})  # fmt: skip
            else:
                traffic.start()
                try:
                    record = runner.run(e, ctx, out / e.name, ledger=None if args.skip_ledger else _ledger(args.stage),
                                        warmup_s=args.warmup)  # fmt: skip
                finally:
                    traffic.stop()
                begin = record["started"] - 1
                record["timeline"] = timeline(traffic.samples, begin, max(s.intended_s for s in traffic.samples) + 1) \
                    if traffic.samples else []  # fmt: skip
            results.append(record)
            mark = "PASSED" if record["status"] == "passed" else record["status"].upper()
            rec = record.get("recovery_s")
            after = record.get("recover_from", "rollback")
            print(f"  -> {mark}" + (f" (steady again {rec:.1f} s after the {after})" if rec is not None else "")
                  + "".join(f"\n     {p}" for p in record["problems"]), flush=True)  # fmt: skip
    score = runner.score(results)
    run = {"started": started, "wall_s": round(time.time() - started, 1), "stage": args.stage,
           "load_average": os.getloadavg(), "experiments": [e.name for e in chosen]}  # fmt: skip
    page = report.write(out, run, results, score)
    print(f"score {score['score']} ({score['passed']}/{score['total']} passed) in {run['wall_s']:.0f} s")
    print(f"report: {page}")
    return 0 if score["passed"] == score["total"] else 1


def lacking(e: experiments.Experiment, live: Any) -> str:
    """Why the running stack cannot run ``e`` ("" when it can)."""
    needs = set(e.extension.needs)
    if "control" in needs and not live.env.get("SHOP_CONTROL_URL"):
        return "the stack has no control API (SHOP_CONTROL_URL): it cannot be run here"
    if "fault-proxies" in needs:
        try:
            if not live.faults():
                return "the stack runs without fault proxies: restart it with --fault-proxies"
        except Exception as exc:  # noqa: BLE001
            return f"the stack's fault proxies are not reachable: {exc}"
    if "flags" in needs and not live.env.get("SHOP_FLAGS_FILE"):
        return "the stack has no flags file (SHOP_FLAGS_FILE): it cannot be run here"
    return ""


@contextmanager
def stack(stage: str):
    """The environment of the running stack of ``stage``, or of one started here (fault proxies on) until the end."""
    from localcloud import state

    if state.use_running_stack(stage):
        print(f"using the running local stack of stage {stage}", flush=True)
        yield state.read(stage) or {}
        return
    from load.bench.run import local_cloud

    env = {"SHOP_READY_TIMEOUT": "240"} | os.environ | {  # a shared 2-core machine may take minutes to start it
        "SHOP_STAGE": stage, "SHOP_FAULT_PROXIES": "1", "EDGE_CLIENT_IP_HEADER": "x-load-client-ip",
        "PYTHONUNBUFFERED": "1",
    }  # fmt: skip
    print(f"starting the local stack (stage {stage}, fault proxies on)", flush=True)
    with local_cloud(env):
        state.use_running_stack(stage)
        yield state.read(stage) or {}


def prepare(live: Any) -> Any:
    """Products with ample stock and shoppers signed in: what the background traffic buys with."""
    from chaos.stack import http
    from chaos.traffic import Shop
    from load.bench.checkout import shoppers, stock_up

    health = http("GET", f"{live.front_door}/healthz", timeout=30)
    services = {k: v["url"] for k, v in health["services"].items()}
    products = stock_up(services["catalog"])
    tokens = shoppers(live.front_door, SHOPPERS)
    print(f"traffic: {len(products)} products with stock, {len(tokens)} shoppers signed in", flush=True)
    return Shop(live.front_door, products, tokens)


def _ledger(stage: str):
    from load.ledger import settled

    def check(started: float, ended: float, expected_dead: int) -> dict[str, Any]:
        since = datetime.fromtimestamp(started, UTC)
        until = datetime.fromtimestamp(ended, UTC) + timedelta(seconds=1)
        # a saga whose runner was killed is resumed by the sweeper after its lease (30 s): give it time
        verdict = settled(since, until, timeout_s=LEDGER_WAIT_S, stage=stage, expected_dead=expected_dead)
        violated = verdict.violated()
        return {"ok": verdict.ok, "counts": verdict.counts, "violated": {f.rule: f.violations for f in violated},
                "examples": {f.rule: [list(x) for x in f.examples[:3]] for f in violated}}  # fmt: skip

    return check


if __name__ == "__main__":
    sys.exit(main())
