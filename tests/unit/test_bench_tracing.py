"""The tracing bench's arithmetic: the cost is judged round by round, against the untraced stack of that round."""

from __future__ import annotations

import pytest

from load.bench.tracing import per_round_costs


def test_each_round_is_judged_against_its_own_untraced_measure() -> None:
    # The machine got busier in round 2: both stacks cost more, the ratio did not move.
    runs = {"off": [4.0, 6.0, 4.4], "on, rules": [4.2, 6.3, 4.62]}
    costs = per_round_costs(runs)["on, rules"]
    assert costs == pytest.approx([0.05, 0.05, 0.05])
    # A round with no untraced measure is left out rather than divided by zero.
    assert per_round_costs({"off": [0.0, 5.0], "on": [1.0, 5.5]})["on"] == pytest.approx([0.1])
