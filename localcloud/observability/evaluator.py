"""CloudWatch's alarm evaluation, run against the emulator's alarms.

What CloudWatch documents, and this does:

- **Periods** are aligned to the epoch (a 60 s period starts on the minute); only complete periods are
  evaluated. Each period's datapoint is the alarm's statistic (``Statistic`` or ``ExtendedStatistic``,
  p99 from the raw values) of the values whose timestamp falls in it.
- **Evaluation range.** The alarm looks at its last ``EvaluationPeriods + 2`` periods (CloudWatch retrieves
  more points than it evaluates; the docs' example shows five for three).
- **M of N.** With at least N real datapoints in the range, the N most recent real ones are judged and the
  missing-data treatment is not used: ALARM when at least M (``DatapointsToAlarm``) breach, else OK.
- **Missing data** with fewer than N real datapoints: missing points are filled by the treatment, as few as
  possible, and every real point counts: ``breaching`` fills breaching points, ``notBreaching`` good ones;
  ``missing`` judges the real points alone (no point at all: INSUFFICIENT_DATA); ``ignore`` keeps the
  current state when the missing points would decide it.

A change of state is ``SetAlarmState`` in the emulator (with CloudWatch's reason and reason data), then
CloudWatch's notification, published to each of the alarm's actions for the new state (AlarmActions,
OKActions, InsufficientDataActions), and one line of history (moto keeps no alarm history API).
"""

from __future__ import annotations

import json
import logging
import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from localcloud.observability.store import MetricKey, Store, dims_key, statistic

log = logging.getLogger("localcloud.alarms")
EXTRA_PERIODS = 2
REGIONS = {"us-east-1": "US East (N. Virginia)", "us-east-2": "US East (Ohio)", "us-west-2": "US West (Oregon)",
           "eu-west-1": "EU (Ireland)", "eu-central-1": "EU (Frankfurt)"}  # fmt: skip

COMPARISONS: dict[str, tuple[Callable[[float, float], bool], str]] = {
    "GreaterThanThreshold": (operator.gt, "greater than"),
    "GreaterThanOrEqualToThreshold": (operator.ge, "greater than or equal to"),
    "LessThanThreshold": (operator.lt, "less than"),
    "LessThanOrEqualToThreshold": (operator.le, "less than or equal to"),
}


@dataclass(frozen=True, slots=True)
class Verdict:
    state: str  # OK, ALARM, INSUFFICIENT_DATA
    judged: tuple[int, ...]  # indexes (into the range) of the real datapoints judged, newest first
    breaching: int  # how many of them breach


def judge(
    values: Sequence[float | None],
    *,
    threshold: float,
    comparison: str,
    m: int,
    n: int,
    missing: str,
    current: str,
) -> Verdict:
    """The state CloudWatch gives an alarm whose evaluation range holds ``values`` (oldest first, None: no data)."""
    breaches = COMPARISONS[comparison][0]
    real = [i for i, v in enumerate(values) if v is not None]
    judged = tuple(reversed(real[-n:]))
    b = sum(1 for i in judged if breaches(values[i], threshold))  # type: ignore[arg-type]
    if len(real) >= n:
        return Verdict("ALARM" if b >= m else "OK", judged, b)
    fill = n - len(real)
    if missing == "breaching":
        state = "ALARM" if b + fill >= m else "OK"
    elif missing == "notBreaching":
        state = "ALARM" if b >= m else "OK"
    elif not real:
        state = current if missing == "ignore" else "INSUFFICIENT_DATA"
    elif missing == "ignore":
        state = "ALARM" if b >= m else "OK" if b + fill < m else current
    else:  # missing: the real points alone decide
        state = "ALARM" if b >= min(m, len(real)) else "OK"
    return Verdict(state, judged, b)


@dataclass(frozen=True, slots=True)
class AlarmView:
    """The parts of a DescribeAlarms MetricAlarm the evaluation needs."""

    raw: dict[str, Any]

    @property
    def name(self) -> str:
        return self.raw["AlarmName"]

    @property
    def stat(self) -> str:
        return self.raw.get("ExtendedStatistic") or self.raw["Statistic"]

    @property
    def period(self) -> int:
        return int(self.raw["Period"])

    @property
    def n(self) -> int:
        return int(self.raw["EvaluationPeriods"])

    @property
    def m(self) -> int:
        return int(self.raw.get("DatapointsToAlarm") or self.n)

    @property
    def missing(self) -> str:
        return self.raw.get("TreatMissingData") or "missing"

    @property
    def key(self) -> MetricKey:
        dims = dims_key((d["Name"], d["Value"]) for d in self.raw.get("Dimensions", []))
        return MetricKey(self.raw["Namespace"], self.raw["MetricName"], dims)


def datapoints(store: Store, alarm: AlarmView, now: float) -> tuple[list[float | None], list[float]]:
    """The alarm's evaluation range: one value (None when no data) and start time per complete period, oldest first."""
    end = (now // alarm.period) * alarm.period  # the current, incomplete period is not evaluated
    starts = [end - (alarm.n + EXTRA_PERIODS - i) * alarm.period for i in range(alarm.n + EXTRA_PERIODS)]
    points = store.window(alarm.key, starts[0], end)
    values = []
    for start in starts:
        inside = [p for p in points if start <= p[0] < start + alarm.period]
        values.append(statistic(alarm.stat, inside))
    return values, starts


def _stamp(t: float, fmt: str = "%d/%m/%y %H:%M:%S") -> str:
    return datetime.fromtimestamp(t, UTC).strftime(fmt)


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+0000"


def reason(alarm: AlarmView, verdict: Verdict, values: list[float | None], starts: list[float]) -> str:
    """CloudWatch's NewStateReason text (missing datapoints filled by the treatment are counted and named)."""
    if not verdict.judged and alarm.missing not in ("breaching", "notBreaching"):
        return f"Insufficient Data: {len(values)} datapoints were unknown."
    filled = max(0, alarm.n - len(verdict.judged)) if alarm.missing in ("breaching", "notBreaching") else 0
    breaching = verdict.breaching + (filled if alarm.missing == "breaching" else 0)
    total = len(verdict.judged) + filled
    count = breaching if verdict.state == "ALARM" else total - breaching
    words = COMPARISONS[alarm.raw["ComparisonOperator"]][1]
    if verdict.state != "ALARM":
        words = "not " + words
    shown = ", ".join(f"{values[i]} ({_stamp(starts[i])})" for i in verdict.judged)
    text = (
        f"Threshold Crossed: {count} out of the last {total} datapoints [{shown}] {'was' if count == 1 else 'were'} "
        f"{words} the threshold ({float(alarm.raw['Threshold'])})"
    )
    if filled:
        treated = "Breaching" if alarm.missing == "breaching" else "NonBreaching"
        text += f" ({filled} missing datapoint{'s' if filled > 1 else ''} treated as [{treated}])"
    need = alarm.m if verdict.state == "ALARM" else alarm.n - alarm.m + 1
    arrow = "OK -> ALARM" if verdict.state == "ALARM" else "ALARM -> OK"
    return f"{text} (minimum {need} datapoint{'s' if need > 1 else ''} for {arrow} transition)."


def reason_data(alarm: AlarmView, verdict: Verdict, values: list[float | None], starts: list[float], now: float) -> str:
    """CloudWatch's StateReasonData (JSON)."""
    data: dict[str, Any] = {
        "version": "1.0",
        "queryDate": _iso(now),
        "startDate": _iso(starts[0]),
        "period": alarm.period,
        "recentDatapoints": [values[i] for i in sorted(verdict.judged)],
        "threshold": float(alarm.raw["Threshold"]),
        "evaluatedDatapoints": [{"timestamp": _iso(starts[i]), "value": values[i]} for i in verdict.judged],
    }
    data["statistic" if "ExtendedStatistic" not in alarm.raw else "extendedStatistic"] = alarm.stat
    return json.dumps(data)


def notification(
    alarm: AlarmView, old: str, new: str, why: str, now: float, region: str, account: str
) -> dict[str, Any]:
    """The message CloudWatch publishes to an alarm's SNS actions."""
    raw = alarm.raw
    trigger: dict[str, Any] = {
        "MetricName": raw["MetricName"],
        "Namespace": raw["Namespace"],
        "StatisticType": "ExtendedStatistic" if "ExtendedStatistic" in raw else "Statistic",
        "Unit": raw.get("Unit"),
        "Dimensions": [{"value": d["Value"], "name": d["Name"]} for d in raw.get("Dimensions", [])],
        "Period": alarm.period,
        "EvaluationPeriods": alarm.n,
        "DatapointsToAlarm": alarm.m,
        "ComparisonOperator": raw["ComparisonOperator"],
        "Threshold": float(raw["Threshold"]),
        "TreatMissingData": alarm.missing,
        "EvaluateLowSampleCountPercentile": raw.get("EvaluateLowSampleCountPercentile", ""),
    }
    if "ExtendedStatistic" in raw:
        trigger["ExtendedStatistic"] = raw["ExtendedStatistic"]
    else:
        trigger["Statistic"] = raw["Statistic"].upper()
    return {
        "AlarmName": alarm.name,
        "AlarmDescription": raw.get("AlarmDescription"),
        "AWSAccountId": account,
        "AlarmConfigurationUpdatedTimestamp": _iso(raw["AlarmConfigurationUpdatedTimestamp"].timestamp())
        if isinstance(raw.get("AlarmConfigurationUpdatedTimestamp"), datetime)
        else None,
        "NewStateValue": new,
        "NewStateReason": why,
        "StateChangeTime": _iso(now),
        "Region": REGIONS.get(region, region),
        "AlarmArn": raw.get("AlarmArn"),
        "OldStateValue": old,
        "OKActions": raw.get("OKActions", []),
        "AlarmActions": raw.get("AlarmActions", []),
        "InsufficientDataActions": raw.get("InsufficientDataActions", []),
        "Trigger": trigger,
    }


ACTIONS = {"ALARM": "AlarmActions", "OK": "OKActions", "INSUFFICIENT_DATA": "InsufficientDataActions"}


class Evaluator:
    """Evaluates every alarm of the emulator from the store; a change is SetAlarmState, SNS and history."""

    def __init__(self, cloudwatch: Any, sns: Any, store: Store, *, history: Path | None, region: str, account: str):
        self.cloudwatch, self.sns, self.store = cloudwatch, sns, store
        self.history_file = history
        self.region, self.account = region, account
        self.evaluations = 0

    def alarms(self) -> list[AlarmView]:
        out = []
        for page in self.cloudwatch.get_paginator("describe_alarms").paginate(AlarmTypes=["MetricAlarm"]):
            out += [AlarmView(a) for a in page["MetricAlarms"] if a.get("ComparisonOperator") in COMPARISONS]
        return out

    def tick(self, now: float) -> list[dict[str, Any]]:
        """Evaluate every alarm once at ``now`` (epoch seconds); the state changes made."""
        changes = []
        for alarm in self.alarms():
            values, starts = datapoints(self.store, alarm, now)
            current = alarm.raw["StateValue"]
            verdict = judge(
                values, threshold=float(alarm.raw["Threshold"]), comparison=alarm.raw["ComparisonOperator"],
                m=alarm.m, n=alarm.n, missing=alarm.missing, current=current,
            )  # fmt: skip
            if verdict.state != current:
                changes.append(self.change(alarm, current, verdict, values, starts, now))
        self.evaluations += 1
        return changes

    def change(
        self, alarm: AlarmView, old: str, verdict: Verdict, values: list[float | None], starts: list[float], now: float
    ) -> dict[str, Any]:
        why = reason(alarm, verdict, values, starts)
        self.cloudwatch.set_alarm_state(
            AlarmName=alarm.name, StateValue=verdict.state, StateReason=why[:1023],
            StateReasonData=reason_data(alarm, verdict, values, starts, now),
        )  # fmt: skip
        message = notification(alarm, old, verdict.state, why, now, self.region, self.account)
        subject = f'{verdict.state}: "{alarm.name}" in {message["Region"]}'[:100]
        for target in alarm.raw.get(ACTIONS[verdict.state], []):
            if target.startswith("arn:aws:sns:"):
                self.sns.publish(TopicArn=target, Subject=subject, Message=json.dumps(message))
        item = {"AlarmName": alarm.name, "Timestamp": _iso(now), "HistoryItemType": "StateUpdate",
                "HistorySummary": f"Alarm updated from {old} to {verdict.state}", "NewStateReason": why}  # fmt: skip
        if self.history_file is not None:
            with self.history_file.open("a") as out:
                out.write(json.dumps(item) + "\n")
        log.info("%s: %s -> %s (%s)", alarm.name, old, verdict.state, why)
        return item


def read_history(path: Path, name: str | None = None) -> list[dict[str, Any]]:
    """The history lines the evaluator wrote (newest last), of one alarm or all."""
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return []
    items = [json.loads(line) for line in lines if line.strip()]
    return [i for i in items if name is None or i["AlarmName"] == name]
