"""The local evaluator judges alarms as CloudWatch documents it: M of N, missing data, percentiles, periods."""

from __future__ import annotations

import json

import pytest

from localcloud.observability.evaluator import AlarmView, datapoints, judge, notification, reason
from localcloud.observability.store import MetricKey, Store, statistic

# CloudWatch's table in "Configuring how CloudWatch alarms treat missing data" (an alarm of 3 evaluation
# periods and 3 datapoints to alarm; its evaluation range holds 5 datapoints, oldest first; 0 is a datapoint
# within the threshold, X one breaching it, - a missing one), with the state under each treatment.
RETAIN = "retain current state"
DOCS_TABLE = [
    ("0 - X - X", {"missing": "OK", "ignore": "OK", "breaching": "OK", "notBreaching": "OK"}),
    ("0 - - - -", {"missing": "OK", "ignore": "OK", "breaching": "OK", "notBreaching": "OK"}),
    ("- - - - -", {"missing": "INSUFFICIENT_DATA", "ignore": RETAIN, "breaching": "ALARM", "notBreaching": "OK"}),
    ("0 X X - X", {"missing": "ALARM", "ignore": "ALARM", "breaching": "ALARM", "notBreaching": "ALARM"}),
    ("- - X - -", {"missing": "ALARM", "ignore": RETAIN, "breaching": "ALARM", "notBreaching": "OK"}),
]
VALUE = {"0": 0.0, "X": 10.0, "-": None}


def _values(row: str) -> list[float | None]:
    return [VALUE[c] for c in row.split()]


@pytest.mark.parametrize(("row", "expected"), DOCS_TABLE, ids=[r for r, _ in DOCS_TABLE])
@pytest.mark.parametrize("treatment", ["missing", "ignore", "breaching", "notBreaching"])
@pytest.mark.parametrize("current", ["OK", "ALARM"])
def test_the_documented_missing_data_table_holds_for_every_treatment(row, expected, treatment, current):
    verdict = judge(_values(row), threshold=5, comparison="GreaterThanThreshold", m=3, n=3, missing=treatment,
                    current=current)  # fmt: skip
    want = expected[treatment]
    assert verdict.state == (current if want == RETAIN else want)


@pytest.mark.parametrize(
    ("row", "state"),
    [("0 0 X 0 X", "ALARM"), ("X X 0 0 X", "OK"), ("0 0 X X 0", "ALARM"), ("X X X 0 0", "OK")],
)
def test_m_of_n_alarms_when_m_of_the_last_n_datapoints_breach(row, state):
    assert judge(_values(row), threshold=5, comparison="GreaterThanThreshold", m=2, n=3, missing="missing",
                 current="OK").state == state  # fmt: skip


@pytest.mark.parametrize(
    ("comparison", "value", "breaches"),
    [("GreaterThanThreshold", 5.0, False), ("GreaterThanOrEqualToThreshold", 5.0, True),
     ("LessThanThreshold", 5.0, False), ("LessThanOrEqualToThreshold", 5.0, True)],
)  # fmt: skip
def test_each_comparison_operator_treats_the_threshold_itself_as_cloudwatch_does(comparison, value, breaches):
    state = judge([value], threshold=5, comparison=comparison, m=1, n=1, missing="missing", current="OK").state
    assert state == ("ALARM" if breaches else "OK")


def test_statistics_come_from_raw_values_and_p99_is_the_nearest_rank():
    points = [(0.0, float(v), 1) for v in range(1, 101)]  # 1..100
    assert statistic("p99", points) == 99.0
    assert statistic("p50", points) == 50.0
    assert statistic("p100", points) == 100.0
    assert statistic("p99.9", points) == 100.0
    assert statistic("SampleCount", points) == 100.0
    assert statistic("Average", points) == 50.5
    assert statistic("Sum", [(0.0, 2.0, 3)]) == 6.0
    assert statistic("Maximum", []) is None


def _alarm(**over) -> AlarmView:
    raw = {"AlarmName": "shop-local-checkout-p99", "Namespace": "Shop", "MetricName": "Latency",
           "Dimensions": [{"Name": "Service", "Value": "checkout"}], "ExtendedStatistic": "p99", "Period": 10,
           "EvaluationPeriods": 2, "DatapointsToAlarm": 1, "ComparisonOperator": "GreaterThanThreshold",
           "Threshold": 100.0, "TreatMissingData": "notBreaching", "StateValue": "OK",
           "AlarmActions": ["arn:aws:sns:us-east-1:123456789012:shop-local-alarms"]}  # fmt: skip
    return AlarmView(raw | over)


def test_periods_are_aligned_to_the_epoch_and_the_incomplete_one_is_not_judged():
    store, alarm = Store(), _alarm()
    key = MetricKey("Shop", "Latency", (("Service", "checkout"),))
    for v in range(1, 101):
        store.add(key, 1000.0 + v / 100, float(v))  # period [1000, 1010): p99 = 99
    store.add(key, 1010.5, 500.0)  # the next period, still running at 1015
    values, starts = datapoints(store, alarm, now=1015.0)
    assert (starts[-1], values[-1]) == (1000.0, 99.0)
    assert len(values) == alarm.n + 2
    values, starts = datapoints(store, alarm, now=1020.0)
    assert (starts[-1], values[-1], values[-2]) == (1010.0, 500.0, 99.0)


def test_the_reason_and_the_message_read_like_cloudwatchs():
    alarm = _alarm()
    values, starts = [None, None, 50.0, 250.0], [970.0, 980.0, 990.0, 1000.0]
    verdict = judge(values, threshold=100, comparison="GreaterThanThreshold", m=1, n=2, missing="notBreaching",
                    current="OK")  # fmt: skip
    why = reason(alarm, verdict, values, starts)
    assert why.startswith("Threshold Crossed: 1 out of the last 2 datapoints [250.0 (01/01/70 00:16:40), 50.0")
    assert "was greater than the threshold (100.0)" in why
    message = notification(alarm, "OK", "ALARM", why, 1010.0, "us-east-1", "123456789012")
    assert (message["NewStateValue"], message["OldStateValue"]) == ("ALARM", "OK")
    assert message["Region"] == "US East (N. Virginia)"
    assert message["Trigger"]["ExtendedStatistic"] == "p99"
    assert message["Trigger"]["Dimensions"] == [{"value": "checkout", "name": "Service"}]
    json.dumps(message)
