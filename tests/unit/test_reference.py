"""The reference model is the diagram, box for box and arrow for arrow, and holds together."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

import reference
from reference import ARCHITECTURE, RESOURCES, SERVICES
from reference.model import Subscription

REPO = Path(__file__).resolve().parents[2]
DIAGRAM = REPO / "docs" / "architecture-seed.md"
SHARED_SEED = REPO.parent / "shared" / "architecture-seed.md"

ARROW = re.compile(r"^\s*(\w+)(?:\[.*?\]|\(\(?.*?\)?\))?\s*-->\s*(\w+)")
NODE = re.compile(r"\b(\w+)(?:\[|\(\()")


def mermaid(path: Path) -> str:
    text = path.read_text()
    return text.split("```mermaid", 1)[1].split("```", 1)[0]


def diagram_arrows(source: str) -> set[tuple[str, str]]:
    arrows = set()
    for line in source.splitlines():
        if line.strip().startswith("%%"):
            continue
        match = ARROW.match(line)
        if match:
            arrows.add((match.group(1), match.group(2)))
    return arrows


def diagram_nodes(source: str) -> set[str]:
    """Ids declared with a label (``ID[...]`` or ``ID[(...)]``), subgraphs excluded."""
    nodes = set()
    for line in source.splitlines():
        stripped = line.strip()
        if stripped.startswith(("%%", "subgraph", "classDef")):
            continue
        nodes.update(NODE.findall(stripped))
    return nodes


def test_the_model_has_every_arrow_of_the_diagram_and_no_other():
    drawn = diagram_arrows(mermaid(DIAGRAM))
    modelled = {(e.source, e.target) for e in ARCHITECTURE.edges}
    assert len(drawn) == 47  # a parser that finds none would pass the set checks below
    assert modelled - drawn == set(), "arrows in the model but not in the diagram"
    assert drawn - modelled == set(), "arrows in the diagram but not in the model"


def test_the_model_has_every_box_of_the_diagram_and_no_other():
    drawn = diagram_nodes(mermaid(DIAGRAM))
    assert {n.id for n in ARCHITECTURE.nodes} == drawn


@pytest.mark.skipif(not SHARED_SEED.exists(), reason="the shared seed is only beside the repository in CI")
def test_the_docs_copy_of_the_diagram_is_the_shared_seed():
    assert mermaid(DIAGRAM) == mermaid(SHARED_SEED)


def test_the_model_is_consistent():
    assert reference.check() == []


def test_the_consistency_check_names_what_is_broken():
    broken_subs = (*RESOURCES.subscriptions, Subscription("order-events", "nowhere", ("PaymentCaptured",)))
    broken = dataclasses.replace(RESOURCES, subscriptions=broken_subs)
    problems = reference.check(res=broken)
    assert "subscription of order-events names unknown queue nowhere" in problems
    assert "subscription order-events -> nowhere filters on PaymentCaptured, not an event of that topic" in problems


def test_every_service_sits_on_its_box_in_the_eks_cluster():
    assert len(SERVICES) == 10
    for service in SERVICES:
        assert ARCHITECTURE.node(service.node).layer == "eks"


def test_every_queue_the_diagram_feeds_has_a_consumer_it_draws():
    """SQS --> NOTIF, RECO, ORDER and the search indexer's queue: each consumer is an arrow or the search sync."""
    fed_by_sqs = {ARCHITECTURE.node(n).id for n in ARCHITECTURE.targets_of("SQS")} - {"DLQ"}
    consumers = {reference.service(q.consumer).node for q in RESOURCES.queues}
    # Search's queue is the catalog -> index sync of the search issue; every other consumer is drawn.
    assert consumers - {"SEARCH"} == fed_by_sqs


def test_filter_policies_are_on_the_event_type_attribute():
    for sub in RESOURCES.subscriptions:
        policy = sub.filter_policy()
        assert policy is not None
        assert list(policy) == ["event_type"]
        assert policy["event_type"] == sorted(sub.event_types)


def test_physical_names_carry_project_and_stage():
    assert reference.physical_name("carts", "dev") == "shop-dev-carts"
    assert reference.physical_name("database", "prod", sep="/") == "shop/prod/database"
