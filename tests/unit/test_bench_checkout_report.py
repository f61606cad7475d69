"""The checkout bench's pure parts: when a sweep step breaks, and how py-spy's folded stacks are summed."""

from __future__ import annotations

from load.bench.checkout import breaks, fold
from load.openloop import Sample, summarise


def step(latencies_ms: list[float], failed: int = 0):
    samples = [Sample("checkout", i / 10, ms / 1000, 201) for i, ms in enumerate(latencies_ms)]
    samples += [Sample("checkout", 0.0, 1.0, 504, "") for _ in range(failed)]
    return summarise(samples, rate=10, duration_s=len(samples) / 10)


def test_a_step_holds_until_its_errors_pass_one_percent_or_its_p99_passes_the_limit():
    assert breaks(step([100.0] * 200, failed=2), break_ms=3000) == ""
    assert breaks(step([100.0] * 200, failed=3), break_ms=3000).startswith("BREAKS: 3 errors of 203")
    assert breaks(step([100.0] * 98 + [4000.0] * 2), break_ms=3000) == "BREAKS: p99 4000 ms > 3000 ms"


def test_folded_stacks_give_self_time_by_package_and_inclusive_time_of_our_own_functions():
    text = "\n".join(
        [
            "run (uvicorn/main.py:1);handle (services/order/api.py:10);execute (sqlalchemy/engine/base.py:5) 6",
            "run (uvicorn/main.py:1);handle (services/order/api.py:10) 2",
            "run (uvicorn/main.py:1);poll (services/common/outbox.py:3);_send (psycopg/cursor.py:9) 2",
        ]
    )
    summary = fold(text)
    assert summary["samples"] == 10
    assert summary["self_by_package_pct"] == {"sqlalchemy": 60.0, "services/order": 20.0, "psycopg": 20.0}
    assert summary["inclusive_ours_pct"] == {
        "handle (services/order/api.py:10)": 80.0,
        "poll (services/common/outbox.py:3)": 20.0,
    }
