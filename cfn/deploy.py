"""Deploy the layers in order with CloudFormation change sets: ``nox -s deploy -- <stage> [layers...]``.

Each layer becomes stack ``shop-<stage>-<layer>``. A change set is created (CREATE for a new
stack, UPDATE otherwise), described, and executed only when it holds changes; ``--plan`` stops
after describing. Sizes come from cfn/presets.py for the stage; ``--set Key=Value`` overrides.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import boto3

from cfn.build import LAYERS, as_dict
from cfn.presets import PRESETS

CAPABILITIES = ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"]
NO_CHANGES = ("didn't contain changes", "No updates are to be performed")
DONE = ("CREATE_COMPLETE", "UPDATE_COMPLETE", "IMPORT_COMPLETE")
FAILED = ("ROLLBACK_COMPLETE", "UPDATE_ROLLBACK_COMPLETE", "CREATE_FAILED", "ROLLBACK_FAILED", "UPDATE_ROLLBACK_FAILED")


class DeployError(RuntimeError):
    pass


@dataclass
class Result:
    stack: str
    change_set_type: str
    changes: list[dict[str, Any]] = field(default_factory=list)
    executed: bool = False
    status: str = ""


def stack_name(stage: str, layer: str) -> str:
    return f"shop-{stage}-{layer}"


def parameters(template: dict[str, Any], stage: str, overrides: dict[str, str] | None = None) -> list[dict[str, str]]:
    """Stage, the stage's preset sizes and the overrides, restricted to the parameters the template declares."""
    declared = template.get("Parameters", {})
    values = {"Stage": stage} | PRESETS[stage] | (overrides or {})
    return [{"ParameterKey": k, "ParameterValue": str(v)} for k, v in sorted(values.items()) if k in declared]


class Deployer:
    """Creates, describes and executes change sets through one CloudFormation client."""

    def __init__(
        self, client: Any, *, poll_s: float = 5.0, timeout_s: float = 3600, log: Callable[[str], None] = print
    ):
        self.cfn, self.poll_s, self.timeout_s, self.log = client, poll_s, timeout_s, log

    def stack_status(self, stack: str) -> str | None:
        try:
            return self.cfn.describe_stacks(StackName=stack)["Stacks"][0]["StackStatus"]
        except self.cfn.exceptions.ClientError as exc:
            if "does not exist" in str(exc):
                return None
            raise

    def deploy(
        self, stack: str, template: dict[str, Any], params: list[dict[str, str]], *, execute: bool = True
    ) -> Result:
        status = self.stack_status(stack)
        kind = "CREATE" if status in (None, "REVIEW_IN_PROGRESS") else "UPDATE"
        name = f"{stack}-{time.strftime('%Y%m%d%H%M%S')}"
        self.cfn.create_change_set(
            StackName=stack,
            ChangeSetName=name,
            ChangeSetType=kind,
            TemplateBody=json.dumps(template, separators=(",", ":"), sort_keys=True),
            Parameters=params,
            Capabilities=CAPABILITIES,
            Tags=[{"Key": "project", "Value": "shop"}],
        )
        described = self._wait_change_set(stack, name)
        result = Result(stack, kind, [c["ResourceChange"] for c in described.get("Changes", [])])
        if described["Status"] == "FAILED":
            if any(text in described.get("StatusReason", "") for text in NO_CHANGES):
                self.log(f"{stack}: no changes")
                self.cfn.delete_change_set(StackName=stack, ChangeSetName=name)
                result.status = status or ""
                return result
            raise DeployError(f"{stack}: change set failed: {described.get('StatusReason')}")
        self.log(f"{stack}: {kind} with {len(result.changes)} change(s)")
        for change in result.changes:
            self.log(
                f"  {change.get('Action', '?'):<8} {change.get('LogicalResourceId')} ({change.get('ResourceType')})"
            )
        if not execute:
            return result
        self.cfn.execute_change_set(StackName=stack, ChangeSetName=name)
        result.executed, result.status = True, self._wait_stack(stack)
        return result

    def _wait_change_set(self, stack: str, name: str) -> dict[str, Any]:
        deadline = time.monotonic() + self.timeout_s
        while True:
            described = self.cfn.describe_change_set(StackName=stack, ChangeSetName=name)
            if described["Status"] in ("CREATE_COMPLETE", "FAILED"):
                return described
            if time.monotonic() > deadline:
                raise DeployError(f"{stack}: change set {name} still {described['Status']}")
            time.sleep(self.poll_s)

    def _wait_stack(self, stack: str) -> str:
        deadline = time.monotonic() + self.timeout_s
        while True:
            status = self.stack_status(stack) or ""
            if status in DONE:
                return status
            if status in FAILED:
                raise DeployError(f"{stack}: {status}")
            if time.monotonic() > deadline:
                raise DeployError(f"{stack}: still {status}")
            time.sleep(self.poll_s)


def deploy_all(
    client: Any, stage: str, layers: tuple[str, ...] = LAYERS, overrides: dict[str, str] | None = None, **kwargs: Any
) -> list[Result]:
    """Deploy ``layers`` in the order of cfn.build.LAYERS (each imports only from the ones before)."""
    from cfn.build import templates

    execute = kwargs.pop("execute", True)
    deployer = Deployer(client, **kwargs)
    results = []
    for layer, t in templates():
        if layer in layers:
            body = as_dict(t)
            results.append(
                deployer.deploy(stack_name(stage, layer), body, parameters(body, stage, overrides), execute=execute)
            )
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m cfn.deploy", description=__doc__)
    parser.add_argument("stage", choices=list(PRESETS))
    parser.add_argument("layers", nargs="*", help="layers to deploy (default: all, in order)")
    parser.add_argument("--plan", action="store_true", help="create and describe the change sets, execute none")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a parameter")
    parser.add_argument("--region", default=None, help="AWS region (CloudFront's edge layer needs us-east-1)")
    args = parser.parse_args(argv)
    unknown = set(args.layers) - set(LAYERS)
    if unknown:
        parser.error(f"unknown layers: {', '.join(sorted(unknown))}")
    overrides = dict(item.split("=", 1) for item in args.set)
    client = boto3.client("cloudformation", region_name=args.region)
    deploy_all(client, args.stage, tuple(args.layers) or LAYERS, overrides, execute=not args.plan)


if __name__ == "__main__":
    main()
