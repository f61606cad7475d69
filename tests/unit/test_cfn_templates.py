"""The rendered templates: golden files, cfn-lint clean, imports only from earlier layers, model-derived shapes.

Golden files are rewritten only on purpose: ``UPDATE_GOLDEN=1 pytest tests/unit/test_cfn_templates.py``
(or ``nox -s cfn -- --update-golden``); review the diff before committing it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("troposphere")

from cfn.build import LAYERS, render
from cfn.presets import PRESETS, SIZES
from reference import RESOURCES
from reference.waf import WEB_ACL

GOLDEN = Path(__file__).parent / "golden" / "cfn"
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("cfn")
    render(out)
    return out


def load(rendered: Path, layer: str) -> dict[str, Any]:
    return json.loads((rendered / f"{layer}.json").read_text())


@pytest.mark.parametrize("layer", LAYERS)
def test_each_layer_renders_exactly_its_golden_template(rendered: Path, layer: str) -> None:
    for suffix in ("json", "yaml"):
        produced, golden = rendered / f"{layer}.{suffix}", GOLDEN / f"{layer}.{suffix}"
        if UPDATE:
            GOLDEN.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(produced, golden)
        assert golden.exists(), f"no golden file {golden}: run with UPDATE_GOLDEN=1 and review it"
        assert produced.read_text() == golden.read_text(), f"{layer}.{suffix} changed: UPDATE_GOLDEN=1, review the diff"


def test_rendering_twice_gives_the_same_bytes(rendered: Path, tmp_path: Path) -> None:
    render(tmp_path)
    for path in sorted(rendered.iterdir()):
        assert (tmp_path / path.name).read_bytes() == path.read_bytes(), path.name


def test_cfn_lint_reports_no_error_and_no_warning_on_any_template(rendered: Path) -> None:
    files = sorted(str(p) for p in rendered.iterdir())
    lint = shutil.which("cfn-lint", path=str(Path(sys.executable).parent)) or "cfn-lint"
    run = subprocess.run([lint, *files], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.strip() == ""


def test_each_layer_imports_only_what_an_earlier_layer_exports(rendered: Path) -> None:
    exported: set[str] = set()
    for layer in LAYERS:
        text = json.dumps(load(rendered, layer))
        imports = {chunk.split('"')[0] for chunk in text.split('"Fn::ImportValue": {"Fn::Sub": "')[1:]}
        assert imports <= exported, f"{layer} imports {sorted(imports - exported)} before any layer exports it"
        outputs = load(rendered, layer).get("Outputs", {}).values()
        exported |= {o["Export"]["Name"]["Fn::Sub"] for o in outputs if "Export" in o}


def test_every_size_parameter_has_a_value_in_every_preset(rendered: Path) -> None:
    for layer in LAYERS:
        for key in load(rendered, layer).get("Parameters", {}):
            if key in SIZES:
                assert all(key in PRESETS[stage] for stage in PRESETS), key


def test_the_web_acl_has_the_model_rules_in_priority_order(rendered: Path) -> None:
    acl = load(rendered, "edge")["Resources"]["WebAcl"]["Properties"]
    assert [(r["Name"], r["Priority"]) for r in acl["Rules"]] == sorted(
        ((r.name, r.priority) for r in WEB_ACL.rules), key=lambda pair: pair[1]
    )
    rate = next(r for r in acl["Rules"] if "RateBasedStatement" in r["Statement"])
    assert rate["Statement"]["RateBasedStatement"]["Limit"] == WEB_ACL.rule("rate-per-ip").statement.limit
    assert all(("OverrideAction" in r) != ("Action" in r) for r in acl["Rules"])


def test_every_bucket_is_encrypted_versioned_and_private(rendered: Path) -> None:
    buckets = {
        rid: r["Properties"]
        for layer in LAYERS
        for rid, r in load(rendered, layer)["Resources"].items()
        if r["Type"] == "AWS::S3::Bucket"
    }
    assert len(buckets) == len(RESOURCES.buckets)
    for rid, props in buckets.items():
        assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"], rid
        assert props["VersioningConfiguration"]["Status"] == "Enabled", rid
        assert set(props["PublicAccessBlockConfiguration"].values()) == {True}, rid


def test_every_queue_redrives_to_its_own_dlq_after_the_model_receive_count(rendered: Path) -> None:
    resources = load(rendered, "messaging")["Resources"]
    for queue in RESOURCES.queues:
        props = next(
            r["Properties"]
            for r in resources.values()
            if r["Properties"].get("QueueName", {}).get("Fn::Sub", "").endswith(f"-{queue.name}")
        )
        assert props["RedrivePolicy"]["maxReceiveCount"] == queue.max_receive_count
        assert props["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0].startswith("Dlq")


def test_subscriptions_carry_the_model_filter_policies_with_raw_delivery(rendered: Path) -> None:
    subs = [
        r["Properties"]
        for r in load(rendered, "messaging")["Resources"].values()
        if r["Type"] == "AWS::SNS::Subscription"
    ]
    assert len(subs) == len(RESOURCES.subscriptions)
    assert all(s["RawMessageDelivery"] for s in subs)
    policies = sorted(json.dumps(s.get("FilterPolicy"), sort_keys=True) for s in subs)
    assert policies == sorted(json.dumps(s.filter_policy(), sort_keys=True) for s in RESOURCES.subscriptions)


def test_a_service_role_allows_only_its_own_resources(rendered: Path) -> None:
    role = load(rendered, "cluster")["Resources"]["RoleCart"]["Properties"]
    statements = role["Policies"][0]["PolicyDocument"]["Statement"]
    text = json.dumps(statements)
    assert "shop-${Stage}-carts" in text
    assert "shop-${Stage}-sessions" in text
    assert "order-events" not in text
    assert '"*"' not in text
    assert all(not a.endswith("*") for s in statements for a in s["Action"])
