"""The CloudFormation dashboard and the local page draw the same graphs, from reference/observability.py."""

from __future__ import annotations

import json

from cfn import observability as cfn_observability
from localcloud.observability.dashboard import render
from localcloud.observability.store import MetricKey, Store
from localcloud.observability.worker import graph_series
from reference.observability import ALARMS, GRAPHS


def test_the_template_dashboard_has_a_graph_per_graph_and_an_alarm_widget_per_rule():
    body = cfn_observability.build().to_dict()["Resources"]["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    widgets = json.loads(body)["widgets"]
    graphs = [w["properties"] for w in widgets if w["type"] == "metric"]
    assert [(g["title"], g["stat"]) for g in graphs] == [(g.title, g.statistic) for g in GRAPHS]
    assert len([w for w in widgets if w["type"] == "alarm"]) == len(ALARMS)


def test_the_local_page_draws_the_same_graphs_with_percentiles_from_the_values(tmp_path):
    store, now = Store(), 1_800_000_030.0
    key = MetricKey("Shop", "Latency", (("Route", "POST /checkout"), ("Service", "checkout")))
    for ms in range(1, 101):
        store.add(key, now - 20, float(ms))
    graphs = graph_series(store, "local", now)
    assert [g["title"] for g in graphs] == [g.title for g in GRAPHS]
    checkout = next(g for g in graphs if g["title"] == "Checkout p99")
    assert checkout["lines"] == {"Latency": [(1_800_000_000.0, 99.0)]}  # the minute of the values
    data = {"generated_at": now, "stage": "local", "graphs": graphs,
            "alarms": [{"AlarmName": "shop-local-checkout-p99", "StateValue": "ALARM", "StateReason": "because",
                        "StateUpdatedTimestamp": "2027-01-15 08:00:00+00:00", "AlarmDescription": "slow"}]}  # fmt: skip
    page = render(data, [{"Timestamp": "t", "AlarmName": "shop-local-checkout-p99", "HistorySummary": "OK to ALARM"}],
                  tmp_path / "index.html")  # fmt: skip
    html = page.read_text()
    assert html.count("data:image/png;base64,") == 1  # the one graph with data; the others say so
    assert html.count("no data yet") == len(GRAPHS) - 1
    assert "shop-local-checkout-p99" in html
    assert "OK to ALARM" in html
