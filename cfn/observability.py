"""Observability layer: CF/ALB/EKS --> CW and EKS --> XR.

Log groups the CloudWatch observability add-on writes to (created first, to set retention and
encryption), the alarms of reference/observability.py repeated over every resource they watch,
a dashboard of those alarms, and the X-Ray sampling rules.
"""

from __future__ import annotations

import json

from troposphere import Ref, Sub, Template, cloudwatch, logs, sns, xray

from cfn.common import add_size, explain, export, imported, logical_id, name, new_template, tags, waive_log_group
from cfn.messaging import dlq_export
from cfn.security import kms_export
from reference import RESOURCES, SERVICES
from reference.observability import ALARMS, GRAPHS, SAMPLING_RULES, AlarmRule, Graph, SamplingRule, Watched

LAYER = "observability"
KEY = kms_export("main")
ALARM_TOPIC = "AlarmTopic"
# Log groups of the amazon-cloudwatch-observability add-on (Container Insights and Fluent Bit).
CONTAINER_LOG_GROUPS = ("application", "dataplane", "host", "performance")


def add_log_groups(t: Template) -> None:
    retention = add_size(t, "LogRetentionDays", number=True)
    for group in CONTAINER_LOG_GROUPS:
        resource = logs.LogGroup(
            logical_id("logs", group),
            LogGroupName=Sub(f"/aws/containerinsights/shop-${{Stage}}-eks/{group}"),
            RetentionInDays=retention,
            KmsKeyId=imported(KEY),
        )
        t.add_resource(explain(waive_log_group(resource), "CW", "EKS --> CW"))


def watched(rule: AlarmRule | Graph) -> list[tuple[str, list[cloudwatch.MetricDimension], str]]:
    """(name suffix, dimensions, model reference) for each resource the rule watches ("" for the shop as a whole)."""
    d = cloudwatch.MetricDimension
    fixed = [d(Name=k, Value=v) for k, v in rule.dimensions]
    match rule.watched:
        case Watched.DLQ:
            return [
                (q.name, [d(Name="QueueName", Value=imported(dlq_export(q.name)))], f"queue:{q.name}")
                for q in RESOURCES.queues
            ]
        case Watched.QUEUE:
            return [(q.name, [d(Name="QueueName", Value=name(q.name))], f"queue:{q.name}") for q in RESOURCES.queues]
        case Watched.TABLE:
            return [
                (tb.name, [d(Name="TableName", Value=name(tb.name))], f"table:{tb.name}") for tb in RESOURCES.tables
            ]
        case Watched.STREAM:
            return [(s.name, [d(Name="StreamName", Value=name(s.name))], f"stream:{s.name}") for s in RESOURCES.streams]
        case Watched.DATABASE:
            return [("aurora", [d(Name="DBClusterIdentifier", Value=imported("database-cluster-id"))], "AUR")]
        case Watched.CDN:
            dims = [d(Name="DistributionId", Value=imported("distribution-id")), d(Name="Region", Value="Global")]
            return [("cdn", dims, "CF --> CW")]
        case Watched.SERVICE:
            return [(sv.name, [d(Name="Service", Value=sv.name), *fixed], f"service:{sv.name}") for sv in SERVICES]
        case Watched.SHOP:
            return [("", fixed, "EKS --> CW")]
    raise ValueError(rule.watched)


def alarm_name(rule: AlarmRule, suffix: str) -> str:
    """The alarm's logical name (``shop-<stage>-`` in front makes it physical): the rule's, with the resource's."""
    return f"{rule.name}-{suffix}" if suffix else rule.name


def add_alarms(t: Template) -> list[cloudwatch.Alarm]:
    topic = sns.Topic(ALARM_TOPIC, TopicName=name("alarms"), KmsMasterKeyId=imported(KEY), Tags=tags(LAYER))
    t.add_resource(explain(topic, "CW"))
    export(t, "alarm-topic-arn", Ref(topic), "subscribe the on-call here")
    alarms = []
    for rule in ALARMS:
        statistic = (
            {"ExtendedStatistic": rule.statistic} if rule.statistic.startswith("p") else {"Statistic": rule.statistic}
        )
        for suffix, dimensions, ref in watched(rule):
            alarm = cloudwatch.Alarm(
                logical_id("alarm", rule.name, suffix),
                AlarmName=name(alarm_name(rule, suffix)),
                AlarmDescription=rule.summary,
                Namespace=rule.namespace,
                MetricName=rule.metric,
                Dimensions=dimensions,
                Period=rule.period_s,
                EvaluationPeriods=rule.evaluation_periods,
                DatapointsToAlarm=rule.m_of_n[0],
                ComparisonOperator=rule.comparison,
                Threshold=rule.threshold,
                TreatMissingData=str(rule.missing),
                AlarmActions=[Ref(topic)],
                OKActions=[Ref(topic)],
                **statistic,
            )
            alarms.append(t.add_resource(explain(alarm, "CW", ref, f"alarm:{rule.name}")))
    return alarms


def add_dashboard(t: Template, alarms: list[cloudwatch.Alarm]) -> None:
    """The graphs of reference/observability.py GRAPHS, then one alarm-status widget per alarm rule, in order."""
    widgets = [graph_widget(graph, i) for i, graph in enumerate(GRAPHS)]
    top = ((len(GRAPHS) + 1) // 2) * 6
    for i, rule in enumerate(ALARMS):
        arns = [f"${{{a.title}.Arn}}" for a in alarms if a.title.startswith(logical_id("alarm", rule.name))]
        widgets.append(
            {
                "type": "alarm",
                "x": (i % 2) * 12,
                "y": top + (i // 2) * 4,
                "width": 12,
                "height": 4,
                "properties": {"title": rule.summary or rule.name, "alarms": arns},
            }
        )
    body = Sub(json.dumps({"widgets": widgets}, sort_keys=True))
    t.add_resource(explain(cloudwatch.Dashboard("Dashboard", DashboardName=name("overview"), DashboardBody=body), "CW"))


def graph_widget(graph: Graph, i: int) -> dict[str, object]:
    """A CloudWatch metric widget: one line per resource the graph watches, its statistic per period."""
    lines = []
    if graph.watched is Watched.DLQ:  # an import cannot sit inside the body's Fn::Sub: name it as messaging does
        resources = [(q.name, [("QueueName", name(q.dlq_name))]) for q in RESOURCES.queues]
    else:
        resources = [(suffix, [(d.Name, d.Value) for d in dims]) for suffix, dims, _ in watched(graph)]
    for suffix, dimensions in resources:
        dims = [x for key, value in dimensions for x in (key, _sub_value(value))]
        lines.append([graph.namespace, graph.metric, *dims, {"label": suffix or graph.metric}])
    return {
        "type": "metric",
        "x": (i % 2) * 12,
        "y": (i // 2) * 6,
        "width": 12,
        "height": 6,
        "properties": {
            "title": graph.title,
            "metrics": lines,
            "stat": graph.statistic,
            "period": graph.period_s,
            "region": "${AWS::Region}",
            "view": "timeSeries",
            "yAxis": {"left": {"label": graph.unit, "showUnits": False}},
        },
    }


def _sub_value(value: object) -> str:
    """A dimension value as text inside the dashboard's Fn::Sub body (``shop-${Stage}-<queue>``)."""
    if isinstance(value, Sub):
        return value.to_dict()["Fn::Sub"]
    if isinstance(value, str):
        return value
    raise ValueError(f"no dashboard form for {value!r}")


def add_sampling_rule(t: Template, rule: SamplingRule) -> None:
    resource = xray.SamplingRule(
        logical_id("sampling", rule.name),
        SamplingRule=xray.SamplingRuleProperty(
            RuleName=Sub(f"shop-${{Stage}}-{rule.name}"),
            Priority=rule.priority,
            FixedRate=rule.rate,
            ReservoirSize=rule.reservoir,
            ServiceName="*",
            ServiceType="*",
            Host="*",
            HTTPMethod=rule.http_method,
            URLPath=rule.url_path,
            ResourceARN="*",
            Version=1,
        ),
    )
    t.add_resource(explain(resource, "XR", "EKS --> XR"))


def build() -> Template:
    t = new_template(LAYER, "log groups with retention, alarms, a dashboard, X-Ray sampling rules")
    add_log_groups(t)
    add_dashboard(t, add_alarms(t))
    for rule in SAMPLING_RULES:
        add_sampling_rule(t, rule)
    return t
