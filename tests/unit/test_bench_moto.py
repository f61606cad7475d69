"""The moto bench's arithmetic: where py-spy's samples fall, and the table of a report (load/bench/moto.py)."""

from __future__ import annotations

from load.bench import moto

FOLDED = "\n".join([
    "thread (1): T;handle (werkzeug/serving.py:1);wsgi (localcloud/moto_server.py:2);dispatch (moto/core/r.py:3) 6",
    "thread (1): T;handle (werkzeug/serving.py:1);write (socketserver.py:4) 3",
    "thread (1): T;emit (logging/__init__.py:5) 1",
])  # fmt: skip


def test_each_layer_counts_the_samples_it_is_anywhere_in_and_self_time_goes_to_the_leaf_package():
    summary = moto.summarise(FOLDED)
    assert summary["busy_samples"] == 10
    assert summary["inclusive_pct"] == {"werkzeug's server": 90.0, "moto": 60.0, "its access log": 10.0}
    assert summary["self_by_package_pct"] == {"moto": 60.0, "socketserver.py": 30.0, "logging": 10.0}


def test_the_table_gives_each_server_against_the_first_measured_in_the_same_run():
    runs = {"a": [{"cpu_ms_per_request": 4.0, "rps": 100.0, "failures": 0}],
            "b": [{"cpu_ms_per_request": 2.0, "rps": 150.0, "failures": 1}]}  # fmt: skip
    report = {
        "servers": ["a", "b"], "baseline": "a", "rounds": 1, "seconds": 10, "users": 4, "pollers": 8,
        "machine": {"cpus": 2}, "uptime": {"before": "load average: 1.00, 2.00, 3.00", "after": "load average: 2"},
        "idle_cpu_ms_per_s": {"a": 2.0, "b": 4.0}, "runs": runs, "cpu_ms_per_request": {"a": 4.0, "b": 2.0},
        "rps": {"a": 100.0, "b": 150.0}, "cpu_ratio": {"a": 1.0, "b": 0.5}, "rps_ratio": {"a": 1.0, "b": 1.5},
        "cpu_ratio_by_round": {"a": [1.0], "b": [0.5]},
    }  # fmt: skip
    lines = moto.table(report).splitlines()
    assert "load average: 1.00, 2.00, 3.00" in lines[1]
    b = next(line for line in lines if line.startswith("b "))
    assert b.split()[:5] == ["b", "2.00", "0.50", "150", "1.50"]
    assert "1 failed journeys" in b
    assert "2.00 (0.50)" in b, "a round's own ratio against the baseline's"


def test_each_round_is_also_given_against_the_baseline_of_the_same_round():
    base = [{"cpu_ms_per_request": 4.0}, {"cpu_ms_per_request": 2.0}, {"cpu_ms_per_request": 0.0}]
    other = [{"cpu_ms_per_request": 3.0}, {"cpu_ms_per_request": 2.5}, {"cpu_ms_per_request": 1.0}]
    assert moto.round_ratios(other, base) == [0.75, 1.25, None]
