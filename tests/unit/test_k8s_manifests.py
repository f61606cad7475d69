"""The Kubernetes manifests: valid (strict), golden, and shaped by the service list."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("kubernetes_validate")

from cfn.k8s import Values, manifests, render
from reference import RESOURCES, SERVICES

GOLDEN = Path(__file__).parent / "golden" / "k8s"
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return render(tmp_path_factory.mktemp("k8s"))[0].parent


def test_kubernetes_validate_strict_accepts_every_manifest(rendered: Path) -> None:
    tool = shutil.which("kubernetes-validate", path=str(Path(sys.executable).parent)) or "kubernetes-validate"
    files = sorted(str(p) for p in rendered.iterdir())
    run = subprocess.run([tool, "--strict", "--quiet", *files], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr


def test_the_dev_manifests_match_their_golden_files(rendered: Path) -> None:
    for path in sorted(rendered.iterdir()):
        golden = GOLDEN / path.name
        if UPDATE:
            GOLDEN.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, golden)
        assert golden.exists(), f"no golden {golden}: run with UPDATE_GOLDEN=1 and review it"
        assert path.read_text() == golden.read_text(), f"{path.name} changed: UPDATE_GOLDEN=1, review the diff"


def test_every_service_has_its_account_deployment_budget_autoscaler_and_service() -> None:
    docs = [d for ds in manifests().values() for d in ds]
    for svc in SERVICES:
        kinds = {d["kind"] for d in docs if d["metadata"]["name"] == svc.name}
        assert kinds == {"ServiceAccount", "Deployment", "PodDisruptionBudget", "HorizontalPodAutoscaler", "Service"}


def test_each_queue_consumer_runs_a_worker_under_its_own_service_account() -> None:
    deployments = {d["metadata"]["name"]: d for ds in manifests().values() for d in ds if d["kind"] == "Deployment"}
    for queue in RESOURCES.queues:
        worker = deployments[f"{queue.consumer}-worker"]
        assert worker["spec"]["template"]["spec"]["serviceAccountName"] == queue.consumer


def test_pods_spread_over_zones_and_probe_their_health() -> None:
    deployment = next(d for d in manifests()["20-cart.yaml"] if d["kind"] == "Deployment")
    spec = deployment["spec"]["template"]["spec"]
    assert spec["topologySpreadConstraints"][0]["topologyKey"] == "topology.kubernetes.io/zone"
    assert spec["topologySpreadConstraints"][0]["whenUnsatisfiable"] == "DoNotSchedule"
    container = spec["containers"][0]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["resources"]["requests"]["cpu"]


def test_the_stage_names_every_resource_a_service_is_given() -> None:
    env = {
        e["name"]: e["value"]
        for d in manifests(Values(stage="prod"))["20-cart.yaml"]
        if d["kind"] == "Deployment"
        for e in d["spec"]["template"]["spec"]["containers"][0]["env"]
    }
    assert env["SHOP_TABLE_CARTS"] == "shop-prod-carts"
    assert env["SHOP_STAGE"] == "prod"


def test_the_ingress_routes_api_to_the_gateway_over_https_only() -> None:
    ingress = manifests()["10-ingress.yaml"][0]
    annotations = ingress["metadata"]["annotations"]
    assert annotations["alb.ingress.kubernetes.io/listen-ports"] == '[{"HTTPS": 443}]'
    path = ingress["spec"]["rules"][0]["http"]["paths"][0]
    assert path["path"] == "/api"
    assert path["backend"]["service"]["name"] == "gateway"


def test_autoscalers_carry_the_capacity_models_numbers() -> None:
    from reference import capacity

    docs = [d for ds in manifests().values() for d in ds]
    hpas = {d["metadata"]["name"]: d["spec"] for d in docs if d["kind"] == "HorizontalPodAutoscaler"}
    for svc in SERVICES:
        plan = capacity.plan(svc.name)
        spec = hpas[svc.name]
        assert (spec["minReplicas"], spec["maxReplicas"]) == (plan.min_replicas, plan.max_replicas)
        assert spec["metrics"][0]["resource"]["target"]["averageUtilization"] == plan.target_utilisation_pct
        assert spec["behavior"]["scaleDown"]["stabilizationWindowSeconds"] == capacity.SCALE_DOWN_WINDOW_S
    assert hpas["gateway"]["maxReplicas"] > hpas["payment"]["maxReplicas"]  # sized by each one's peak


def test_queue_consumers_scale_on_queue_depth_with_keda_not_on_cpu() -> None:
    from reference import capacity

    docs = [d for ds in manifests().values() for d in ds]
    scaled = {d["metadata"]["name"]: d["spec"] for d in docs if d["kind"] == "ScaledObject"}
    hpa_names = {d["metadata"]["name"] for d in docs if d["kind"] == "HorizontalPodAutoscaler"}
    for queue in RESOURCES.queues:
        worker = f"{queue.consumer}-worker"
        assert worker not in hpa_names  # KEDA makes its own HPA: two would fight
        (trigger,) = scaled[worker]["triggers"]
        assert trigger["type"] == "aws-sqs-queue"
        assert set(trigger["metadata"]) == {"queueURL", "queueLength", "awsRegion"}  # KEDA's documented keys
        assert trigger["metadata"]["queueURL"] == f"shop-dev-{queue.name}"
        assert trigger["metadata"]["queueLength"] == str(capacity.queue_length_per_pod(queue.name))
        assert scaled[worker]["scaleTargetRef"] == {"name": worker}
    auth = [d for d in manifests()["00-namespace.yaml"] if d["kind"] == "TriggerAuthentication"]
    assert auth[0]["spec"]["podIdentity"] == {"provider": "aws", "identityOwner": "workload"}
