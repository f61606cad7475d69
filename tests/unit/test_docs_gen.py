"""The docs generator: pages follow reference/ and the code, links find their lines, the nav has every page."""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
from pathlib import Path

import pytest
from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from docs.gen import build, diagram, figures, resources, services
from docs.gen.code import LinkError, Sources, code_link, find_line, rewrite
from reference import ARCHITECTURE, RESOURCES, SERVICES, service, waf
from reference.model import Edge, Layer, Node, Queue, Subscription

needs_dot = pytest.mark.skipif(
    shutil.which("dot") is None, reason="Graphviz is not installed (apt-get install graphviz)"
)


def with_returns_queue() -> object:
    """RESOURCES with one more queue, fed by order events: what a new consumer would add."""
    return dataclasses.replace(
        RESOURCES,
        queues=(*RESOURCES.queues, Queue("returns", consumer="order", max_receive_count=3, purpose="refund returns")),
        subscriptions=(*RESOURCES.subscriptions, Subscription("order-events", "returns", ("OrderRefunded",))),
    )


def test_a_queue_added_to_reference_appears_on_the_resources_page_with_its_dlq_and_subscription() -> None:
    before = resources.page(RESOURCES)
    after = resources.page(with_returns_queue())
    assert "`returns-dlq`" not in before
    row = next(line for line in after.splitlines() if line.startswith("| `returns` |"))
    assert "`returns-dlq`" in row
    assert "| 3 |" in row
    assert "`order-events`: OrderRefunded" in row
    assert "`returns-dlq`" in next(line for line in after.splitlines() if line.startswith("| `dlq-not-empty` |"))


@needs_dot
def test_a_queue_added_to_reference_is_drawn_with_its_subscription_consumer_and_dlq() -> None:
    svg = diagram.render_svg(diagram.messaging_dot(with_returns_queue()))
    for element in ("queue_returns", "dlq_returns", "sub_order&#45;events_returns", "consumer_order"):
        assert f'id="{element}"' in svg
    assert 'id="queue_returns"' not in diagram.render_svg(diagram.messaging_dot(RESOURCES))


@needs_dot
def test_staging_again_after_reference_changes_rewrites_the_generated_pages(tmp_path: Path) -> None:
    build.stage(tmp_path / "a", artifacts=tmp_path / "none")
    build.stage(tmp_path / "b", res=with_returns_queue(), artifacts=tmp_path / "none")
    assert "returns-dlq" not in (tmp_path / "a" / "resources.md").read_text()
    assert "returns-dlq" in (tmp_path / "b" / "resources.md").read_text()


@needs_dot
def test_the_staged_site_has_every_page_in_the_nav_and_no_nav_entry_without_a_page(tmp_path: Path) -> None:
    pages = build.stage(tmp_path / "src", artifacts=tmp_path / "none")
    assert build.check_nav(pages, build.config()["nav"]) == []
    assert {f"services/{s.name}.md" for s in SERVICES} <= set(pages)


def test_the_nav_check_names_a_missing_page_and_an_orphan() -> None:
    problems = build.check_nav(["index.md", "orphan.md", "code/x.py.md"], [{"Home": "index.md"}, {"Gone": "gone.md"}])
    assert problems == [
        "the nav names gone.md, which is not a page",
        "orphan.md is in no nav entry of zensical.toml: add it (or remove the page)",
    ]


@needs_dot
def test_every_node_arrow_and_subgraph_of_the_model_is_in_the_drawn_svg() -> None:
    dot = diagram.dot_source(ARCHITECTURE)
    svg = diagram.render_svg(dot)
    for node in ARCHITECTURE.nodes:
        assert f'id="node_{node.id}"' in svg
    for edge in ARCHITECTURE.edges:
        assert f'id="edge_{edge.source}_{edge.target}"' in svg
    for layer in {n.layer for n in ARCHITECTURE.nodes} - {Layer.CLIENT}:
        assert f'id="layer_{layer.value}"' in svg
    assert 'ltail="cluster_eks"' in dot  # EKS --> CW starts at the subgraph's border


@needs_dot
def test_a_box_and_an_arrow_added_to_the_model_are_drawn_in_the_svg() -> None:
    arch = dataclasses.replace(
        ARCHITECTURE,
        nodes=(*ARCHITECTURE.nodes, Node("RETURNS", "Returns service", Layer.EKS)),
        edges=(*ARCHITECTURE.edges, Edge("API", "RETURNS", "return requests")),
    )
    svg = diagram.render_svg(diagram.dot_source(arch))
    assert 'id="node_RETURNS"' in svg
    assert 'id="edge_API_RETURNS"' in svg
    assert "Returns service" in svg
    assert 'id="node_RETURNS"' not in diagram.render_svg(diagram.dot_source(ARCHITECTURE))


def test_a_flow_naming_an_arrow_the_model_lacks_is_refused() -> None:
    with pytest.raises(ValueError, match="CART"):
        diagram.dot_source(ARCHITECTURE, [("CART", "SNS")], only_path=True)


def test_a_code_link_lands_on_the_line_of_its_symbol_and_follows_it_when_the_file_moves_on(tmp_path: Path) -> None:
    (tmp_path / "m.py").write_text("import x\n\nclass Saga:\n    def run(self):\n        pass\n")
    sources = Sources(root=tmp_path)
    assert find_line("m.py", "class Saga > def run", tmp_path) == 4
    assert code_link("m.py", "class Saga", sources=sources, from_page="flows/x.md") == (
        "[m.py:3](../code/m.py.md#__codelineno-0-3)"
    )
    (tmp_path / "m.py").write_text("import x\nimport y\n\n\nclass Saga:\n")
    assert find_line("m.py", "class Saga", tmp_path) == 5


def test_a_link_to_a_vanished_symbol_or_file_fails_with_its_name(tmp_path: Path) -> None:
    (tmp_path / "m.py").write_text("class Saga:\n")
    with pytest.raises(LinkError, match="'class Gone' not found"):
        find_line("m.py", "class Gone", tmp_path)
    with pytest.raises(LinkError, match=r"nope\.py: no such file"):
        Sources(root=tmp_path).link("nope.py", None, "index.md")


def test_links_leaving_docs_become_source_pages_and_links_in_code_blocks_stay(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "svc.py").write_text("a = 1\n\ndef go():\n    pass\n")
    (tmp_path / "README.md").write_text("# Title\n\n## Try it with curl\n")
    text = (
        '[go](../../svc.py "def go") and [readme](../../README.md#try-it-with-curl) and [page](other.md)\n'
        "```\n[go](../../svc.py)\n```\n"
    )
    sources = Sources(root=tmp_path)
    out = rewrite(text, "flows/x.md", tmp_path / "docs", sources)
    assert "[go](../code/svc.py.md#__codelineno-0-3)" in out
    assert "[readme](../code/README.md.md#__codelineno-0-3)" in out
    assert "[page](other.md)" in out
    assert "```\n[go](../../svc.py)\n```" in out
    assert sources.files == {"svc.py", "README.md"}
    pages = sources.write(tmp_path / "site", "abc1234")
    assert pages == ["code/README.md.md", "code/svc.py.md"]
    assert '```python linenums="1"\na = 1' in (tmp_path / "site" / "code" / "svc.py.md").read_text()


class DemoSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DEMO_")

    # How long a reservation holds stock.
    hold_s: int = Field(600, ge=1)
    redis_url: str = Field("redis://x", validation_alias=AliasChoices("DEMO_REDIS_URL", "REDIS_URL"))
    mode: str = Field("fast", description="what the field says itself")
    tags: list[str] = Field(default_factory=list)


def test_the_settings_table_reads_names_types_defaults_and_reasons_from_the_class() -> None:
    rows = {row.names: row for row in services.settings_table(DemoSettings)}
    assert rows[("DEMO_HOLD_S",)] == services.Setting(
        ("DEMO_HOLD_S",), "int", "600", "How long a reservation holds stock."
    )
    assert ("DEMO_REDIS_URL", "REDIS_URL") in rows
    assert rows[("DEMO_MODE",)].description == "what the field says itself"
    assert rows[("DEMO_TAGS",)].default == "[]"


def test_a_service_page_lists_every_setting_of_its_class_and_every_route_of_its_openapi() -> None:
    svc = service("profile")  # its class refuses to build without a user pool: the page must not care
    page = services.page(svc, "README", "diagram")
    for row in services.settings_table(services.settings_class("profile")):
        assert f"`{row.names[0]}`" in page
    for path in services.openapi("profile")["paths"]:
        assert f"`{path}`" in page
    assert "`/api/me`" in page  # the public path through the gateway


def test_the_waf_table_shows_each_rules_capacity_units_and_the_total(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(waf, "capacity", lambda acl: {r.name: 7 for r in acl.rules})
    lines = resources.web_acl()
    assert "WCU" in lines[4]
    assert (
        f"Total: **{7 * len(waf.WEB_ACL.rules)} WCU** of the {waf.MAX_CAPACITY} the web ACL's base price covers."
        in lines
    )


def test_figures_say_not_measured_until_a_bench_has_run(tmp_path: Path) -> None:
    page = figures.page(tmp_path)
    assert "Not measured yet — run `nox -s bench`" in page
    assert "Not measured yet — run `nox -s load`" in page


def test_figures_show_the_latest_bench_with_its_date_machine_and_load(tmp_path: Path) -> None:
    (tmp_path / "bench").mkdir()
    report = {
        "scenario": "catalog",
        "when": "2026-11-29T14:00:00+0000",
        "machine": {"cpus": 2, "python": "3.11.7", "platform": "Linux-x86_64"},
        "seconds": 15,
        "users": 32,
        "load_average": {"before": 1.2, "after": 2.5},
        "results": [{"label": "gateway", "requests": 60000, "failures": 0, "rps": 4114.2, "p50_ms": 6, "p99_ms": 21}],
        "ratio": 0.29,
    }
    (tmp_path / "bench" / "catalog.json").write_text(json.dumps(report))
    page = figures.page(tmp_path)
    assert "**2026-11-29T14:00:00+0000** on 2 cores, Python 3.11.7, Linux-x86_64" in page
    assert "load average before 1.2, after 2.5" in page
    assert re.search(r"\| gateway \| 4,114 \| 6 \| 21 \| 60000 \| 0 \|", page)
    assert "Not measured yet — run `nox -s bench`" not in page
