"""The alarms of reference/observability.py as PutMetricAlarm calls for one stage: what provisioning creates.

The same rules, repeated over the same resources and named the same as in the CloudFormation template
(cfn/observability.py): ``shop-<stage>-<rule>-<resource>``. Values that only an account knows (the Aurora
cluster's id, the distribution's) are named by ``IMPORTS``; tests/integration/test_alarms.py proves the
emulator's alarms are exactly the template's with those imports given.
"""

from __future__ import annotations

from typing import Any

from reference import RESOURCES, SERVICES, physical_name
from reference.observability import ALARMS, AlarmRule, Watched

ALARM_TOPIC = "alarms"


def imports(stage: str) -> dict[str, str]:
    """The local value of each export the alarms import (``shop-<stage>-<key>`` in the template)."""
    values = {f"dlq-{q.name}-name": physical_name(q.dlq_name, stage) for q in RESOURCES.queues}
    values["database-cluster-id"] = physical_name("aurora", stage)
    values["distribution-id"] = "LOCALFRONTDOOR"
    return {physical_name(k, stage): v for k, v in values.items()}


def watched(rule: AlarmRule, stage: str) -> list[tuple[str, list[dict[str, str]]]]:
    """(name suffix, dimensions) of every resource the rule watches, as cfn/observability.py repeats it."""
    fixed = [{"Name": k, "Value": v} for k, v in rule.dimensions]
    name = lambda logical: physical_name(logical, stage)  # noqa: E731
    local = imports(stage)
    match rule.watched:
        case Watched.DLQ:
            return [(q.name, [{"Name": "QueueName", "Value": local[name(f"dlq-{q.name}-name")]}])
                    for q in RESOURCES.queues]  # fmt: skip
        case Watched.QUEUE:
            return [(q.name, [{"Name": "QueueName", "Value": name(q.name)}]) for q in RESOURCES.queues]
        case Watched.TABLE:
            return [(t.name, [{"Name": "TableName", "Value": name(t.name)}]) for t in RESOURCES.tables]
        case Watched.STREAM:
            return [(s.name, [{"Name": "StreamName", "Value": name(s.name)}]) for s in RESOURCES.streams]
        case Watched.DATABASE:
            return [("aurora", [{"Name": "DBClusterIdentifier", "Value": local[name("database-cluster-id")]}])]
        case Watched.CDN:
            dims = [{"Name": "DistributionId", "Value": local[name("distribution-id")]}]
            return [("cdn", [*dims, {"Name": "Region", "Value": "Global"}])]
        case Watched.SERVICE:
            return [(sv.name, [{"Name": "Service", "Value": sv.name}, *fixed]) for sv in SERVICES]
        case Watched.SHOP:
            return [("", fixed)]
    raise ValueError(rule.watched)


def definitions(stage: str, topic_arn: str, period_s: int | None = None) -> list[dict[str, Any]]:
    """PutMetricAlarm's arguments for every alarm; ``period_s`` replaces every period (a local liberty)."""
    out = []
    for rule in ALARMS:
        statistic = {"ExtendedStatistic": rule.statistic} if rule.statistic.startswith("p") else {
            "Statistic": rule.statistic}  # fmt: skip
        for suffix, dimensions in watched(rule, stage):
            out.append({
                "AlarmName": physical_name(f"{rule.name}-{suffix}" if suffix else rule.name, stage),
                "AlarmDescription": rule.summary,
                "Namespace": rule.namespace,
                "MetricName": rule.metric,
                "Dimensions": dimensions,
                "Period": period_s or rule.period_s,
                "EvaluationPeriods": rule.evaluation_periods,
                "DatapointsToAlarm": rule.m_of_n[0],
                "ComparisonOperator": rule.comparison,
                "Threshold": float(rule.threshold),
                "TreatMissingData": str(rule.missing),
                "AlarmActions": [topic_arn],
                "OKActions": [topic_arn],
                **statistic,
            })  # fmt: skip
    return out


def provision(cloudwatch: Any, sns: Any, stage: str, period_s: int | None = None) -> tuple[str, list[str]]:
    """Create (or bring back in line) the alarm topic and every alarm; remove alarms of ours no rule makes.

    Returns the topic's ARN and the alarm names.
    """
    topic_arn = sns.create_topic(Name=physical_name(ALARM_TOPIC, stage))["TopicArn"]
    wanted = definitions(stage, topic_arn, period_s)
    for alarm in wanted:
        cloudwatch.put_metric_alarm(**alarm)
        # CloudWatch starts an alarm in INSUFFICIENT_DATA (moto in OK): the evaluator's first look decides.
        cloudwatch.set_alarm_state(AlarmName=alarm["AlarmName"], StateValue="INSUFFICIENT_DATA",
                                   StateReason="Unchecked: Initial alarm creation")  # fmt: skip
    names = {a["AlarmName"] for a in wanted}
    ours = physical_name("", stage)
    stale = [a["AlarmName"] for page in cloudwatch.get_paginator("describe_alarms").paginate(AlarmNamePrefix=ours)
             for a in page["MetricAlarms"] if a["AlarmName"] not in names]  # fmt: skip
    if stale:
        cloudwatch.delete_alarms(AlarmNames=stale)
    return topic_arn, sorted(names)
