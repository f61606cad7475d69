"""Replicas, the balancer's configuration and stats, and CPU quotas: without starting a process."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from localcloud import cgroups, fleet, lb
from localcloud.settings import SettingsError, load_settings
from reference.capacity import POD_CPU_MILLICORES


def test_replicas_are_read_as_service_equals_count() -> None:
    settings = load_settings(SHOP_REPLICAS="gateway=2, catalog=4")
    assert settings.replicas == {"gateway": 2, "catalog": 4}
    assert load_settings().replicas == {}


def test_replicas_are_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOP_REPLICAS", "catalog=3")
    assert load_settings().replicas == {"catalog": 3}


@pytest.mark.parametrize(
    ("value", "says"),
    [("gateway", "not service=count"), ("gateway=two", "not service=count"), ("shop=2", "no service named 'shop'"),
     ("gateway=0", "outside 1..16"), ("gateway=17", "outside 1..16")],
)  # fmt: skip
def test_a_bad_replica_setting_names_the_variable_and_the_problem(value: str, says: str) -> None:
    with pytest.raises(SettingsError, match="SHOP_REPLICAS") as caught:
        load_settings(SHOP_REPLICAS=value)
    assert says in str(caught.value)


def test_the_balancer_fronts_the_gateway_and_each_multi_replica_service_only_when_one_has_replicas() -> None:
    present = ["gateway", "catalog", "cart"]
    assert load_settings().balanced(present) == set()
    assert load_settings(SHOP_REPLICAS="catalog=2").balanced(present) == {"gateway", "catalog"}
    assert load_settings(SHOP_BALANCER="haproxy").balanced(present) == {"gateway"}
    assert load_settings(SHOP_BALANCER="haproxy", SHOP_REPLICAS="catalog=1").balanced(present) == {"gateway", "catalog"}
    assert load_settings(SHOP_REPLICAS="catalog=2", SHOP_BALANCER="none").balanced(present) == set()


def test_the_cpu_quota_is_off_by_default_and_request_means_the_pods_request() -> None:
    assert load_settings().quota_millicores() is None
    assert load_settings(SHOP_CPU_QUOTA="request").quota_millicores() == POD_CPU_MILLICORES
    assert load_settings(SHOP_CPU_QUOTA="0.5").quota_millicores() == 500
    with pytest.raises(SettingsError, match=r"SHOP_CPU_QUOTA.*not a CPU quantity"):
        load_settings(SHOP_CPU_QUOTA="lots")


def test_cpu_quantities_become_cfs_quotas() -> None:
    assert cgroups.millicores("250m") == 250
    assert cgroups.millicores("1") == 1000
    assert cgroups.quota_us(250) == 25_000
    with pytest.raises(ValueError, match="positive"):
        cgroups.millicores("0m")


def _listening() -> socket.socket:
    # an unbound socket has a file descriptor, which is all the configuration needs
    return socket.socket(socket.AF_INET, socket.SOCK_STREAM)


def test_the_balancer_config_balances_least_request_and_checks_readyz() -> None:
    front, stats = _listening(), _listening()
    try:
        pool = lb.Pool("catalog", front, (("catalog-1", "127.0.0.1:4001"), ("catalog-2", "127.0.0.1:4002")))
        text = lb.config([pool], stats)
        fds = front.fileno(), stats.fileno()
    finally:
        front.close()
        stats.close()
    backend = text.split("\nbackend catalog\n")[1]
    assert "balance leastconn" in backend
    assert "option httpchk GET /readyz" in backend
    assert "server catalog-1 127.0.0.1:4001 check inter" in backend
    assert "server catalog-2 127.0.0.1:4002 check inter" in backend
    assert f"frontend catalog\n    bind fd@{fds[0]}\n" in text  # the service's own socket, handed over
    assert f"bind fd@{fds[1]}" in text
    assert "stats uri /stats" in text


def test_per_replica_counters_come_from_the_stats_csv() -> None:
    text = (
        "# pxname,svname,scur,stot,status,hrsp_2xx,hrsp_5xx,\n"
        "stats,FRONTEND,1,5,OPEN,4,0,\n"
        "catalog,FRONTEND,2,2,OPEN,2,0,\n"
        "catalog,catalog-1,0,10,UP,10,0,\n"
        "catalog,catalog-2,1,12,DOWN,11,1,\n"
        "catalog,BACKEND,1,22,UP,21,1,\n"
    )
    rows = lb.parse_stats(text)
    assert [(r["svname"], r["status"], r["stot"], r["hrsp_5xx"]) for r in rows] == [
        ("catalog-1", "UP", "10", "0"),
        ("catalog-2", "DOWN", "12", "1"),
    ]


def test_replicas_are_numbered_only_when_there_are_several() -> None:
    assert fleet.replica_name("catalog", 1, 1) == "catalog"
    assert fleet.replica_name("catalog", 2, 3) == "catalog-2"


def _fake_v1(root: Path) -> Path:
    cpu = root / "cpu"
    cpu.mkdir(parents=True)
    (cpu / "cpu.cfs_quota_us").write_text("-1")
    return cpu


def test_a_v1_group_gets_the_quota_and_its_throttling_is_read(tmp_path: Path) -> None:
    cpu = _fake_v1(tmp_path)
    quotas, where = cgroups.Quotas.open("shop", root=tmp_path)
    assert quotas is not None, where
    assert "v1" in where
    group = quotas.group("catalog-1", 250)
    assert (cpu / "shop" / "catalog-1" / "cpu.cfs_quota_us").read_text() == "25000"
    assert (cpu / "shop" / "catalog-1" / "cpu.cfs_period_us").read_text() == "100000"
    (group.path / "cpu.stat").write_text("nr_periods 10\nnr_throttled 4\nthrottled_time 3000000\n")
    assert group.stat() == {"nr_periods": 10, "nr_throttled": 4, "throttled_us": 3000}
    (group.path / "cpu.stat").unlink()  # a real group's files vanish with it
    for leftover in group.path.iterdir():
        leftover.unlink()
    quotas.close(timeout_s=0.1)
    assert not (cpu / "shop").exists()


def test_a_v2_group_writes_cpu_max(tmp_path: Path) -> None:
    (tmp_path / "cgroup.controllers").write_text("cpuset cpu io memory pids")
    (tmp_path / "cgroup.subtree_control").write_text("cpu memory")
    quotas, where = cgroups.Quotas.open("shop", root=tmp_path)
    assert quotas is not None, where
    assert (tmp_path / "shop" / "cgroup.subtree_control").read_text() == "+cpu"
    quotas.group("gateway-1", 500)
    assert (tmp_path / "shop" / "gateway-1" / "cpu.max").read_text() == "50000 100000"


def test_without_a_cpu_controller_quotas_are_off_and_say_why(tmp_path: Path) -> None:
    quotas, why = cgroups.Quotas.open("shop", root=tmp_path)
    assert quotas is None
    assert "no CPU cgroup controller" in why


def test_groups_left_by_a_killed_supervisor_are_swept_and_live_ones_kept(tmp_path: Path) -> None:
    cpu = _fake_v1(tmp_path)
    dead = cpu / "cloudshop-local-999999999"  # no such pid
    (dead / "gateway-1").mkdir(parents=True)
    live = cpu / f"cloudshop-local-{os.getpid()}"
    (live / "gateway-1").mkdir(parents=True)
    cgroups.sweep_stale(cpu)
    assert not dead.exists()
    assert (live / "gateway-1").exists()
