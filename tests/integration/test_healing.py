"""Healing like EKS and the fault switches, against real servers: a killed replica answers again on its own
socket, PostgreSQL killed comes back on its data, the control API toggles a fault proxy with its counters
moving, and a flag file change makes the payment provider fail, counted at /_faults, with the breaker."""

from __future__ import annotations

import json
import os
import signal
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import redis

from localcloud import backends, fleet, lb
from localcloud.control import Control
from localcloud.faultproxy import Proxies
from localcloud.healing import Backoff, Component, Healer
from localcloud.processes import spawn
from reference.faults import flagd_document
from services.common import flags
from tests.payment_support import authorization, payment_db_secret, running, settings_for

__all__ = ["payment_db_secret"]  # a fixture of this module


def _until(check: Callable[[], Any], what: str, timeout_s: float = 60.0, tick: Callable[[], None] = lambda: None):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        tick()
        try:
            if result := check():
                return result
        except (OSError, psycopg.Error):
            pass
        time.sleep(0.05)
    raise AssertionError(f"no {what} within {timeout_s:.0f} s")


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - loopback
        return json.loads(response.read())


def test_a_killed_replica_is_restarted_on_its_socket_answers_again_and_is_counted(tmp_path: Path):
    sock = backends.listen("127.0.0.1", 0)
    url = fleet.url(sock)
    argv = fleet.uvicorn_argv("tests.heal_support:create_app", sock)
    env = os.environ | {"PYTHONPATH": str(Path(__file__).resolve().parents[2])}

    def start():
        return spawn("web-1", argv, log_dir=tmp_path, env=env, pass_fds=[sock.fileno()])

    said: list[str] = []
    healer = Healer(said.append, Backoff(initial_s=0.1))
    control = Control(healer.report)
    control_url = control.start()
    component = healer.add(Component("web-1", "service", start(), start, service="web"))
    try:
        first = _until(lambda: _get(f"{url}/readyz")["pid"], "first answer")
        os.killpg(component.child.pid, signal.SIGKILL)
        second = _until(lambda: _get(f"{url}/readyz")["pid"], "answer after the kill", tick=healer.tick)
        assert second != first  # the same address, another process
        [view] = _get(f"{control_url}/components")
        assert (view["name"], view["service"], view["restarts"], view["alive"], view["last_exit"]) == (
            "web-1", "web", 1, True, -signal.SIGKILL)  # fmt: skip
        assert view["pid"] == second
        assert view["last_restart"] > 0
        assert any("web-1 exited with code -9" in line for line in said)
    finally:
        component.child.stop()
        control.stop()
        sock.close()


@pytest.mark.skipif(lb.binary() is None, reason="haproxy is not installed (apt-get install haproxy)")
def test_a_killed_balancer_is_restarted_on_the_sockets_it_had_and_balances_again(tmp_path: Path):
    replica_sock = backends.listen("127.0.0.1", 0)
    env = os.environ | {"PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    argv = fleet.uvicorn_argv("tests.heal_support:create_app", replica_sock)
    replica = spawn("web-1", argv, log_dir=tmp_path, env=env, pass_fds=[replica_sock.fileno()])
    front, stats = backends.listen("127.0.0.1", 0), backends.listen("127.0.0.1", 0)
    pools = [lb.Pool("web", front, (("web-1", fleet.url(replica_sock).removeprefix("http://")),))]

    def start():
        return lb.start(pools, stats, tmp_path, tmp_path, keep_sockets=True)

    healer = Healer(lambda _: None, Backoff(initial_s=0.1))
    component = healer.add(Component("balancer", "balancer", start(), start))
    try:
        _until(lambda: _get(f"{fleet.url(front)}/readyz")["pid"] == replica.pid, "an answer through the balancer")
        os.killpg(component.child.pid, signal.SIGKILL)
        _until(lambda: component.restarts == 1, "restart", tick=healer.tick)
        answer = _until(lambda: _get(f"{fleet.url(front)}/readyz"), "an answer after the restart", tick=healer.tick)
        assert answer["pid"] == replica.pid
    finally:
        component.child.stop()
        replica.stop()
        for sock in (front, stats, replica_sock):
            sock.close()


def test_postgres_killed_is_restarted_on_its_data_with_every_committed_row(tmp_path: Path):
    log_dir = tmp_path / "logs"
    log_dir.mkdir()
    with backends.embedded_postgres(tmp_path, log_dir) as pg:
        with psycopg.connect(pg.url, autocommit=True) as conn:
            conn.execute("create table kept (n int)")
            conn.execute("insert into kept select generate_series(1, 100)")
        healer = Healer(lambda _: None, Backoff(initial_s=0.1))
        component = healer.add(Component("postgres", "backend", pg.child, pg.respawn))
        os.kill(pg.child.pid, signal.SIGKILL)  # the postmaster only: its backends are left, as in a crash
        _until(lambda: component.restarts == 1, "restart", tick=healer.tick)
        with psycopg.connect(pg.url) as conn:
            assert conn.execute("select count(*) from kept").fetchone() == (100,)
        assert component.child.pid != pg.child.pid
        assert component.child.alive()


def test_the_control_api_switches_a_fault_proxy_and_its_counters_move(servers):
    proxies = Proxies()
    control = Control(lambda: [], proxies.state, proxies.set)
    url = control.start()
    try:
        proxy = proxies.add("valkey", "127.0.0.1", int(servers.valkey.url.rsplit(":", 1)[1].split("/")[0]))
        client = redis.Redis(port=proxy.port, socket_timeout=5)
        assert client.ping()
        r = httpx.put(f"{url}/faults/valkey", json={"mode": "reset"})
        assert r.status_code == 200
        assert r.json()["mode"] == "reset"
        with pytest.raises(redis.ConnectionError):
            redis.Redis(port=proxy.port, socket_timeout=5, retry=None).ping()
        r = httpx.put(f"{url}/faults/valkey", json={"mode": "pass", "latency_ms": 50})
        assert r.json()["latency_ms"] == 50
        assert redis.Redis(port=proxy.port, socket_timeout=5).ping()
        counters = httpx.get(f"{url}/faults").json()["valkey"]["counters"]
        assert counters["reset"] >= 1
        assert counters["forwarded"] >= 2
        assert counters["delayed"] >= 1
        assert httpx.put(f"{url}/faults/valkey", json={"mode": "slow"}).json()["field"] == "mode"
        missing = httpx.put(f"{url}/faults/postgress", json={"mode": "reset"})
        assert missing.status_code == 404
        assert "valkey" in missing.json()["detail"]
    finally:
        control.stop()
        proxies.close()


@pytest.fixture
def flag_file(tmp_path: Path):
    path = tmp_path / "flags.json"

    def write(values: dict[str, Any]) -> None:
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(flagd_document(values)))
        os.replace(tmp, path)

    write({})
    flags.reset(flags.FlagFile(str(path), poll_s=0))
    yield write
    flags.reset()


async def test_a_flag_makes_the_provider_fail_the_breaker_opens_and_closes_and_no_charge_is_doubled(
    aws, payment_db_secret, flag_file
):
    settings = settings_for(aws, payment_db_secret, breaker_min_calls=4, breaker_window=4, breaker_half_open_calls=1)
    async with running(settings) as svc:
        breaker = svc.app.state.orchestrator.breaker
        now = [0.0]
        breaker.clock = lambda: now[0]
        flag_file({"payment.provider.failure-rate": 1.0, "payment.provider.failure-rat": 1.0})  # and a typo
        answers = [await svc.client.post("/internal/payments/authorize", json=authorization("pm_card_ok"))
                   for _ in range(5)]  # fmt: skip
        assert [a.status_code for a in answers] == [504] * 5
        assert [a.json()["reason"] for a in answers] == ["provider_error"] * 4 + ["circuit_open"]
        evidence = (await svc.client.get("/_faults")).json()
        assert evidence["flags"]["payment.provider.failure-rate"]["injected"] == 4  # the 5th never reached it
        assert evidence["flags"]["payment.provider.failure-rat"]["evaluations"] == 0  # the typo did nothing
        assert evidence["breaker"]["state"] == "open"
        assert evidence["breaker"]["rejected"] == 1
        assert await svc.provider.holds.states() == []  # a 503 holds nothing

        # Its compensation needs no provider call: the provider never heard of that payment.
        void = await svc.client.post(f"/internal/payments/{answers[-1].json()['payment_id']}/void")
        assert void.status_code == 200
        assert void.json()["status"] == "voided"

        flag_file({})
        now[0] = 10.0  # past PAYMENT_BREAKER_OPEN_S: one trial call, which succeeds and closes it
        ok = await svc.client.post("/internal/payments/authorize", json=authorization("pm_card_ok"))
        assert ok.status_code == 201
        assert ok.json()["status"] == "authorized"
        again = await svc.client.post("/internal/payments/authorize", json=authorization("pm_card_ok"))
        assert again.status_code == 201
        evidence = (await svc.client.get("/_faults")).json()["breaker"]
        assert evidence["state"] == "closed"
        assert evidence["transitions"] == {"closed->open": 1, "open->half-open": 1, "half-open->closed": 1}
        assert len(await svc.provider.holds.states()) == 2  # one hold per authorized payment, none twice


async def test_a_provider_timeout_by_flag_holds_once_and_a_retry_of_the_key_does_not_charge_again(
    aws, payment_db_secret, flag_file
):
    async with running(settings_for(aws, payment_db_secret)) as svc:
        flag_file({"payment.provider.timeout-rate": 1.0})
        body = authorization("pm_card_ok")
        first = await svc.client.post("/internal/payments/authorize", json=body)
        again = await svc.client.post("/internal/payments/authorize", json=body)
        assert (first.status_code, again.status_code) == (504, 504)
        assert first.json()["payment_id"] == again.json()["payment_id"]
        assert svc.provider.calls["authorize"] == 1
        assert len(await svc.provider.holds.states()) == 1
        assert (await svc.client.get("/_faults")).json()["flags"]["payment.provider.timeout-rate"]["injected"] == 1


async def test_dynamodb_and_sns_errors_by_flag_come_from_botocore_as_aws_would_send_them(aws, flag_file):
    import boto3
    from botocore.config import Config
    from botocore.exceptions import ClientError

    session = boto3.Session(region_name=aws.region)
    flags.install_botocore_hooks(session)
    once = Config(retries={"mode": "standard", "total_max_attempts": 1})
    dynamodb = session.client("dynamodb", endpoint_url=aws.endpoint_url, config=once)
    sns = session.client("sns", endpoint_url=aws.endpoint_url, config=once)
    flag_file({"dynamodb.error-rate": 1.0, "sns.publish.failure": True})
    with pytest.raises(dynamodb.exceptions.ProvisionedThroughputExceededException):
        dynamodb.list_tables()
    with pytest.raises(ClientError) as caught:
        sns.publish(TopicArn="arn:aws:sns:us-east-1:123456789012:none", Message="x")
    assert caught.value.response["Error"]["Code"] == "InternalError"
    assert sns.list_topics()["ResponseMetadata"]["HTTPStatusCode"] == 200  # only publishing fails
    flag_file({})
    assert "TableNames" in dynamodb.list_tables()
    report = flags.faults().report()["flags"]
    assert (report["dynamodb.error-rate"]["injected"], report["sns.publish.failure"]["injected"]) == (1, 1)
    assert report["dynamodb.error-rate"]["evaluations"] == 2
