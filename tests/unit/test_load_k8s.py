"""The Locust master and workers for EKS: valid Kubernetes, workers that find the master, the gates in charge."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

pytest.importorskip("kubernetes_validate")

from load.k8s import manifests


def test_kubernetes_validate_strict_accepts_the_locust_manifests(tmp_path: Path) -> None:
    path = tmp_path / "locust.yaml"
    path.write_text(yaml.safe_dump_all(manifests(4, "https://staging.example.com", 200, 600), sort_keys=False))
    tool = shutil.which("kubernetes-validate", path=str(Path(sys.executable).parent)) or "kubernetes-validate"
    run = subprocess.run([tool, "--strict", "--quiet", str(path)], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr


def test_the_workers_reach_the_master_by_its_service_and_the_master_waits_for_all_of_them() -> None:
    docs = {d["kind"]: d for d in manifests(4, "https://staging.example.com", 200, 600)}
    worker = docs["Deployment"]["spec"]["template"]["spec"]["containers"][0]
    master = docs["Job"]["spec"]["template"]["spec"]["containers"][0]
    assert docs["Deployment"]["spec"]["replicas"] == 4
    assert worker["args"][worker["args"].index("--master-host") + 1] == docs["Service"]["metadata"]["name"]
    assert master["args"][master["args"].index("--expect-workers") + 1] == "4"
    assert "load/locustfile.py" in master["args"]  # the gates' listeners set the Job's exit code
    assert docs["Job"]["spec"]["backoffLimit"] == 0  # a broken SLO is a failed Job, not a retried one
