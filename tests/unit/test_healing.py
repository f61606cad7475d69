"""Healing like EKS, without a server: the back-off schedule, a crashed child restarted and counted, the control
API's input checks, and the faults read from a flagd file (each evaluation and injection counted)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from localcloud.control import BadField, parse_fault
from localcloud.faultproxy import Mode
from localcloud.healing import Backoff, Component, Healer
from localcloud.processes import spawn
from reference.faults import BY_KEY, FLAGS, flagd_document
from services.common import flags


def test_the_back_off_doubles_from_half_a_second_to_eight_as_kubelets_does_from_ten_to_three_hundred():
    assert Backoff().schedule(7) == [0.5, 1, 2, 4, 8, 8, 8]
    assert Backoff(initial_s=10, max_s=300).schedule(7) == [10, 20, 40, 80, 160, 300, 300]


def test_a_child_that_exits_is_restarted_after_the_back_off_and_counted(tmp_path: Path):
    said: list[str] = []
    argv = [sys.executable, "-c", "import sys; sys.exit(3)"]
    healer = Healer(said.append, Backoff(initial_s=1.0, max_s=4.0))
    first = spawn("crasher", argv, log_dir=tmp_path)
    first.popen.wait(10)
    component = healer.add(Component("crasher", "worker", first, lambda: spawn("crasher", argv, log_dir=tmp_path)))

    healer.tick(100.0)  # noticed: the first restart is 1 s away
    assert component.last_exit == 3
    assert component.restarts == 0
    assert component.due == 101.0
    healer.tick(100.5)
    assert component.restarts == 0, "restarted before its back-off was over"
    healer.tick(101.0)
    assert component.restarts == 1
    assert component.child.pid != first.pid
    component.child.popen.wait(10)
    healer.tick(101.1)  # the second crash in a row waits twice as long
    assert component.due == pytest.approx(103.1)
    view = healer.report()[0]
    assert view | {"pid": 0, "last_restart": 0} == {
        "name": "crasher", "kind": "worker", "service": None, "pid": 0, "alive": False, "restarts": 1,
        "last_exit": 3, "last_restart": 0,
    }  # fmt: skip
    assert any("crasher exited with code 3" in line for line in said)
    assert any("crasher restarted" in line for line in said)


def test_a_child_that_ran_long_enough_starts_its_back_off_anew(tmp_path: Path):
    healer = Healer(lambda _: None, Backoff(initial_s=1.0, reset_after_s=60))
    child = spawn("sleeper", [sys.executable, "-c", "import time; time.sleep(30)"], log_dir=tmp_path)
    try:
        component = healer.add(Component("sleeper", "worker", child, None, crashes_in_a_row=4, started=0.0))
        healer.tick(59.0)
        assert component.crashes_in_a_row == 4
        healer.tick(60.0)
        assert component.crashes_in_a_row == 0
    finally:
        child.stop()


def test_a_component_without_a_way_to_restart_is_reported_down_and_left_alone(tmp_path: Path):
    said: list[str] = []
    child = spawn("given", [sys.executable, "-c", "pass"], log_dir=tmp_path)
    child.popen.wait(10)
    healer = Healer(said.append)
    healer.add(Component("given", "backend", child))
    healer.tick(1.0)
    healer.tick(1000.0)
    assert healer.report()[0]["restarts"] == 0
    assert healer.down() == ["given"]
    assert "not restarted" in said[0]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"not json", "body"),
        (b"[1]", "body"),
        (b'{"mode": "slow"}', "mode"),
        (b'{"latency_ms": -1}', "latency_ms"),
        (b'{"latency_ms": 1.5}', "latency_ms"),
        (b'{"latency_ms": true}', "latency_ms"),
        (b'{"latency_ms": 60001}', "latency_ms"),
        (b'{"mode": "pass", "jitter": 3}', "jitter"),
    ],
)
def test_a_bad_fault_request_names_its_field(body: bytes, field: str):
    with pytest.raises(BadField) as caught:
        parse_fault(body)
    assert caught.value.field == field


def test_a_fault_request_may_set_the_mode_the_latency_or_both():
    assert parse_fault(b'{"mode": "blackhole"}') == (Mode.BLACKHOLE, None)
    assert parse_fault(b'{"latency_ms": 200}') == (None, 0.2)
    assert parse_fault(b"") == (None, None)


# --------------------------------------------------------------------------- flags


def _write(path: Path, values: dict) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(flagd_document(values)))
    os.replace(tmp, path)


def test_every_flag_names_services_that_exist_and_variants_of_its_type():
    from reference import SERVICES

    names = {s.name for s in SERVICES}
    for flag in FLAGS:
        assert flag.services, flag.key
        assert set(flag.services) <= names, flag.key
        assert all(isinstance(v, type(flag.off())) for v in flag.variants.values()), flag.key


def test_a_flag_file_is_read_again_only_after_the_poll_interval(tmp_path: Path):
    now = [0.0]
    path = tmp_path / "flags.json"
    _write(path, {"payment.provider.failure-rate": 0.5})
    file = flags.FlagFile(str(path), poll_s=1.0, clock=lambda: now[0])
    assert file.values() == {"payment.provider.failure-rate": 0.5}
    _write(path, {"payment.provider.failure-rate": 1.0, "x": 1})
    now[0] = 0.5
    assert file.values() == {"payment.provider.failure-rate": 0.5}
    now[0] = 1.0
    assert file.values()["payment.provider.failure-rate"] == 1.0


def test_a_broken_flag_file_keeps_the_last_good_values_and_says_why(tmp_path: Path):
    path = tmp_path / "flags.json"
    _write(path, {"sns.publish.failure": True})
    file = flags.FlagFile(str(path), poll_s=0)
    assert file.values() == {"sns.publish.failure": True}
    path.write_text('{"flags": {"sns.publish.failure": {"variants": {"on": true}, "defaultVariant": "of')
    assert file.values() == {"sns.publish.failure": True}
    assert file.error
    assert "keeping the last good values" in file.error


def test_a_disabled_flag_is_off_and_targeting_is_not_needed():
    disabled = {"state": "DISABLED", "variants": {"on": 1.0}, "defaultVariant": "on"}
    enabled = {"state": "ENABLED", "variants": {"on": 0.25, "off": 0}, "defaultVariant": "on"}
    doc = {"flags": {"a": disabled, "b": enabled}}
    assert flags.parse(doc) == {"b": 0.25}
    with pytest.raises(ValueError, match="defaultVariant"):
        flags.parse({"flags": {"c": {"variants": {"on": 1}, "defaultVariant": "off"}}})


def test_injections_follow_the_rate_and_are_counted_per_key(tmp_path: Path):
    path = tmp_path / "flags.json"
    _write(path, {"payment.provider.failure-rate": 0.5, "sns.publish.failure": True, "dynamodb.error-rate": "lots"})
    draws = iter([0.1, 0.9, 0.4, 0.6])
    faults = flags.Faults(flags.FlagFile(str(path), poll_s=0), rng=lambda: next(draws))
    assert [faults.inject("payment.provider.failure-rate") for _ in range(4)] == [True, False, True, False]
    assert faults.inject("sns.publish.failure") is True
    assert faults.inject("dynamodb.error-rate") is False  # a rate that is not a number injects nothing...
    report = faults.report()["flags"]
    assert report["payment.provider.failure-rate"] | {"value": None} == {
        "evaluations": 4, "injected": 2, "value": None, "known": True}  # fmt: skip
    assert report["dynamodb.error-rate"]["mistyped"] == 1  # ...and says so


def test_a_key_in_the_file_that_no_code_evaluates_shows_zero_evaluations(tmp_path: Path):
    path = tmp_path / "flags.json"
    _write(path, {"payment.provider.failure-rat": 1.0})  # a typo
    faults = flags.Faults(flags.FlagFile(str(path), poll_s=0))
    faults.inject("payment.provider.failure-rate")
    report = faults.report()["flags"]
    assert report["payment.provider.failure-rat"] == {"evaluations": 0, "injected": 0, "value": 1.0, "known": False}
    assert report["payment.provider.failure-rate"]["injected"] == 0
    assert set(BY_KEY) <= set(report)
