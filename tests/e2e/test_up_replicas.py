"""``up --replicas``: replicas behind HAProxy, each in a CPU cgroup, and nothing left behind when stopped."""

from __future__ import annotations

import re
import signal
from pathlib import Path

import httpx
import pytest
from stack_support import read_until_ready, ready_port

from localcloud import lb
from tests.e2e.test_up import launched, wait_gone

pytestmark = [
    pytest.mark.skipif(lb.binary() is None, reason="haproxy is not installed (apt-get install haproxy)"),
    pytest.mark.timeout(400),  # a stack of twelve service processes on a shared 2-core machine
]


def test_replicas_answer_behind_the_balancer_in_their_cgroups_and_all_go_on_stop() -> None:
    env = {"SHOP_STAGE": "replicas", "SHOP_READY_TIMEOUT": "240"}
    with launched(env, "--replicas", "gateway=2,catalog=2", "--cpu-quota", "request") as (proc, family):
        lines = read_until_ready(proc, timeout_s=360)
        port = ready_port(lines)
        balancer = next(line for line in lines if line.strip().startswith("balancer"))
        stats = re.search(r"stats (http://\S+)/stats", balancer)
        assert stats, balancer
        quotas = next(line for line in lines if line.strip().startswith("quotas"))
        group = Path(re.search(r"(/sys/fs/cgroup/\S+)\)", quotas)[1])  # type: ignore[index]

        for _ in range(6):  # through the front door, the balancer, the gateway's replicas, the catalog's
            page = httpx.get(f"http://127.0.0.1:{port}/api/catalog/products?page_size=1", timeout=30)
            assert page.status_code == 200
        rows = lb.stats(stats[1])
        by_replica = {r["svname"]: r for r in rows}
        assert {"gateway-1", "gateway-2", "catalog-1", "catalog-2"} <= set(by_replica)
        assert all(r["status"].startswith("UP") for r in rows)
        assert int(by_replica["gateway-1"]["stot"]) > 0
        assert int(by_replica["gateway-2"]["stot"]) > 0
        for replica in ("gateway-1", "gateway-2", "catalog-1", "catalog-2"):
            assert (group / replica / "cpu.cfs_quota_us").read_text().strip() == "25000"
            assert (group / replica / "cgroup.procs").read_text().split(), f"{replica}'s group is empty"
        family.record()

        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=60)
        assert proc.returncode == 0, out
    assert wait_gone(family) == set()
    assert not group.exists(), "the CPU cgroups should be removed with the stack"
