"""Every node and arrow of the diagram is realised by the templates or manifests, and nothing else is there."""

from __future__ import annotations

import pytest

pytest.importorskip("troposphere")

from cfn import conformance


def test_every_node_and_arrow_is_realised_and_every_resource_is_explained(capsys: pytest.CaptureFixture[str]) -> None:
    rows, problems = conformance.table()
    with capsys.disabled():
        print("\n" + conformance.format_table(rows))
    assert problems == []
    assert len(rows) == len(conformance.ARCHITECTURE.nodes) + len(conformance.ARCHITECTURE.edges)


def test_a_resource_naming_nothing_of_the_model_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    real = conformance.resources()
    stray = ("network", "Stray", {"Type": "AWS::SQS::Queue", "Properties": {}})
    wrong = ("network", "Wrong", {"Type": "AWS::SQS::Queue", "Properties": {}, "Metadata": {"Model": ["NOPE --> X"]}})
    monkeypatch.setattr(conformance, "resources", lambda: [*real, stray, wrong])
    _, problems = conformance.table()
    assert any("network/Stray" in p and "names nothing" in p for p in problems)
    assert any("network/Wrong" in p and "NOPE --> X" in p for p in problems)


def test_an_arrow_nothing_realises_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    real = conformance.resources()
    without_qs = [(layer, rid, r) for layer, rid, r in real if r["Type"] != "AWS::QuickSight::DataSource"]
    monkeypatch.setattr(conformance, "resources", lambda: without_qs)
    _, problems = conformance.table()
    assert "ATH --> QS is realised by nothing" in problems
