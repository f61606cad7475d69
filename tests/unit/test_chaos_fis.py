"""The FIS side of the chaos experiments: the templates cfn/fis.py renders, and starting and polling one (moto's FIS).

Nothing here reaches AWS: the request shapes are checked against moto's FIS, which validates them as
the API does, and the polling logic against its state machine. Not run against a real account.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

pytest.importorskip("troposphere")

from cfn import fis
from chaos import aws, experiment

# FIS actions the issue names, each of which some template must use.
WANTED = {
    "aws:eks:pod-delete", "aws:eks:pod-network-latency", "aws:eks:pod-cpu-stress",
    "aws:eks:terminate-nodegroup-instances", "aws:rds:failover-db-cluster",
    "aws:elasticache:interrupt-cluster-az-power", "aws:network:disrupt-connectivity",
}  # fmt: skip


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return json.loads(fis.build().to_json())


def _templates(t: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["Properties"]["Tags"]["experiment"]: r["Properties"] for r in t["Resources"].values()
            if r["Type"] == "AWS::FIS::ExperimentTemplate"}  # fmt: skip


def test_every_fis_action_of_the_issue_is_used_and_each_local_name_exists(template: dict[str, Any]) -> None:
    found = _templates(template)
    used = {a["ActionId"] for t in found.values() for a in t["Actions"].values()}
    assert used >= WANTED
    local = set(experiment.catalogue())
    aws_only = {"nodegroup-instances-terminated", "az-power-interruption"}
    assert set(found) - aws_only <= local
    assert {"consumer-poison-dlq-redrive", "payment-provider-5xx", "outbox-publish-failure"}.isdisjoint(found)


def test_every_template_stops_on_the_shop_wide_alarms_and_logs(template: dict[str, Any]) -> None:
    for name, t in _templates(template).items():
        alarms = [s["Value"]["Fn::Sub"] for s in t["StopConditions"]]
        assert alarms, name
        assert all(s["Source"] == "aws:cloudwatch:alarm" for s in t["StopConditions"]), name
        assert {a.rsplit(":", 1)[-1] for a in alarms} == {f"shop-${{Stage}}-{x}" for x in fis.STOP_ALARMS}
        assert t["LogConfiguration"]["LogSchemaVersion"] == 2
        for action in t["Actions"].values():
            assert set(action["Targets"].values()) <= set(t["Targets"]), name


def test_pod_actions_run_as_the_service_account_the_rbac_manifests_create(template: dict[str, Any]) -> None:
    accounts = {m["metadata"]["name"] for m in fis.rbac_manifests() if m["kind"] == "ServiceAccount"}
    for t in _templates(template).values():
        for action in t["Actions"].values():
            if action["ActionId"].startswith("aws:eks:pod-"):
                assert action["Parameters"]["kubernetesServiceAccount"] in accounts
    entry = next(r for r in template["Resources"].values() if r["Type"] == "AWS::EKS::AccessEntry")
    binding = next(m for m in fis.rbac_manifests() if m["kind"] == "RoleBinding")
    assert {"kind": "User", "name": entry["Properties"]["Username"], "apiGroup": "rbac.authorization.k8s.io"} in \
        binding["subjects"]  # fmt: skip


@pytest.fixture
def moto_fis() -> Any:
    moto = pytest.importorskip("moto")
    import boto3

    with moto.mock_aws():
        yield boto3.client("fis", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")


def _create(client: Any, experiment_name: str, stage: str) -> str:
    return client.create_experiment_template(
        clientToken=f"{experiment_name}-{stage}", description="d", roleArn="arn:aws:iam::123456789012:role/fis",
        stopConditions=[{"source": "none"}],
        targets={"Clusters0": {"resourceType": "aws:rds:cluster", "selectionMode": "ALL",
                               "resourceArns": ["arn:aws:rds:us-east-1:123456789012:cluster:shop-dev-aurora"]}},
        actions={"act0": {"actionId": "aws:rds:failover-db-cluster", "targets": {"Clusters": "Clusters0"}}},
        tags={"experiment": experiment_name, "stage": stage},
    )["experimentTemplate"]["id"]  # fmt: skip


def test_the_template_is_found_by_its_tags_started_and_polled_until_it_ends(moto_fis: Any) -> None:
    _create(moto_fis, "database-restarted", "staging")
    wanted = _create(moto_fis, "database-restarted", "dev")
    assert aws.find_template(moto_fis, "database-restarted", "dev") == wanted
    with pytest.raises(SystemExit, match="no FIS experiment template tagged experiment=cache-down stage=dev"):
        aws.find_template(moto_fis, "cache-down", "dev")
    said: list[str] = []
    started = aws.start(moto_fis, wanted, "database-restarted")
    ended = aws.poll(moto_fis, started, every_s=0, say=said.append, sleep=lambda _: None)
    assert ended["state"]["status"] in aws.ENDED
    assert said[0].startswith("  experiment: ")
    assert len(said) == len(set(said))


def test_an_experiment_still_running_at_the_limit_is_stopped() -> None:
    class Client:
        stopped = False

        def get_experiment(self, id: str) -> dict[str, Any]:
            status = "stopped" if self.stopped else "running"
            return {"experiment": {"id": id, "state": {"status": status, "reason": "r"}, "actions": {}}}

        def stop_experiment(self, id: str) -> None:
            self.stopped = True

    client = Client()
    ended = aws.poll(client, "EXP1", every_s=0, limit_s=0, say=lambda _: None, sleep=lambda _: None)
    assert client.stopped
    assert ended["state"]["status"] == "stopped"
