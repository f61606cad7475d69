"""The cost model: every resource of every preset is priced or known to be free, and sizes move the figure."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("troposphere")

from cfn import cost, pricers
from cfn.build import LAYERS, as_dict, templates
from cfn.presets import PRESETS
from reference import pricing


@pytest.fixture(scope="module")
def rendered() -> list[tuple[str, dict]]:
    return [(layer, as_dict(t)) for layer, t in templates()]


def total(lines: list[cost.Line]) -> float:
    return sum(line.monthly for line in lines)


@pytest.mark.parametrize("stage", list(PRESETS))
def test_every_resource_of_every_preset_is_priced_or_listed_as_free(stage: str, rendered: list) -> None:
    lines = cost.estimate(stage, rendered=rendered)  # raises on a type or an instance size with no price
    priced = {line.type for line in lines}
    present = {r["Type"] for _, t in rendered for r in t["Resources"].values()}
    assert present <= priced | set(pricers.FREE)
    assert {line.layer for line in lines} == set(LAYERS)


def test_each_bigger_preset_costs_more(rendered: list) -> None:
    dev, staging, prod = (total(cost.estimate(s, rendered=rendered)) for s in ("dev", "staging", "prod"))
    assert dev < staging < prod


def test_more_nodes_per_az_in_a_preset_raise_exactly_the_cluster_layer(
    rendered: list, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = cost.by_layer(cost.estimate("dev", rendered=rendered))
    monkeypatch.setitem(PRESETS["dev"], "NodesPerAz", "2")  # a preset change: one more node in each of 3 AZs
    after = cost.by_layer(cost.estimate("dev", rendered=rendered))
    node = pricing.EC2_HOURLY[PRESETS["dev"]["NodeInstanceType"]] * pricing.HOURS_PER_MONTH
    disk = pricing.PRICE["ebs.gp3.gb"][0] * pricing.NODE_ROOT_GB
    assert after["cluster"] - before["cluster"] == pytest.approx(3 * (node + disk), abs=0.01)
    assert {k: v for k, v in after.items() if k != "cluster"} == {k: v for k, v in before.items() if k != "cluster"}


def test_a_capacity_models_node_count_replaces_the_presets_desired_size(rendered: list) -> None:
    preset = cost.by_layer(cost.estimate("prod", rendered=rendered))["cluster"]
    same = cost.by_layer(cost.estimate("prod", nodes=6, rendered=rendered))["cluster"]  # prod: 2 per AZ x 3
    more = cost.by_layer(cost.estimate("prod", nodes=12, rendered=rendered))["cluster"]
    assert same == pytest.approx(preset)
    assert more > preset


def test_one_nat_gateway_in_dev_against_three_is_the_difference_of_two_gateways(rendered: list) -> None:
    one = cost.estimate("dev", rendered=rendered)
    three = cost.estimate("dev", sizes={"NatGateways": "3"}, rendered=rendered)
    nats = [line for line in three if line.type == "AWS::EC2::NatGateway"]
    assert len({line.resource for line in nats}) == 3
    hours = pricing.HOURS_PER_MONTH * (pricing.PRICE["nat.hour"][0] + pricing.PRICE["ipv4.hour"][0])
    assert total(three) - total(one) == pytest.approx(2 * hours, abs=0.01)


def test_an_instance_type_without_a_price_is_refused_by_name(rendered: list) -> None:
    with pytest.raises(KeyError, match=r"m9z\.huge"):
        cost.estimate("dev", sizes={"NodeInstanceType": "m9z.huge"}, rendered=rendered)


def test_the_command_prints_the_three_presets_by_layer_and_json_on_request(capsys: pytest.CaptureFixture[str]) -> None:
    assert cost.main([]) == 0
    table = capsys.readouterr().out
    assert pricing.AS_OF in table
    assert "not live" in table
    assert all(layer in table for layer in LAYERS)
    assert "total" in table
    assert cost.main(["--preset", "prod", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    prod = data["presets"]["prod"]
    assert prod["total"] == pytest.approx(sum(prod["layers"].values()), abs=0.05)
    assert data["source"] == pricing.SOURCE


def test_the_chart_in_the_docs_is_the_current_estimate(rendered: list) -> None:
    results = {s: cost.estimate(s, rendered=rendered) for s in PRESETS}
    chart = cost.svg(results)
    assert chart.count("<rect x=") == len(PRESETS) * len(LAYERS) + len(LAYERS)  # bars, then the legend
    drawn = (Path(__file__).parents[2] / "docs" / "cost.svg").read_text()
    assert drawn == chart, "docs/cost.svg is stale: nox -s cost -- --svg docs/cost.svg"
