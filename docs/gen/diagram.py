"""The architecture diagram as a static SVG, drawn by Graphviz from ``reference.ARCHITECTURE``.

Every node, every arrow and every subgraph of the seed's diagram comes from the model; each gets an
``id`` in the SVG (``node_CF``, ``edge_CF_S3FE``, ``layer_eks``: Graphviz would escape hyphens) and a
tooltip with what travels on it, so a test can check the picture against the model. A flow page draws
only the arrows of its path, top to bottom, each labelled with what travels on it.
"""

from __future__ import annotations

import shutil
import subprocess
import textwrap
from collections.abc import Iterable

from reference.model import Architecture, Layer, Resources

# The seed's subgraph titles; a layer added to the model without one is drawn under its own name.
TITLES = {
    Layer.EDGE: "Edge / Frontend",
    Layer.EKS: "EKS cluster (multi-AZ)",
    Layer.DATA: "Managed data stores",
    Layer.MESSAGING: "Messaging / Integration",
    Layer.SECURITY: "Security",
    Layer.OBSERVABILITY: "Observability",
    Layer.ANALYTICS: "Analytics",
}
COLOURS = {
    Layer.CLIENT: "#eeeeee",
    Layer.EDGE: "#fde7c8",
    Layer.EKS: "#d7e8fb",
    Layer.DATA: "#dcefd9",
    Layer.MESSAGING: "#f6dcef",
    Layer.SECURITY: "#fbe0dc",
    Layer.OBSERVABILITY: "#e6e1f5",
    Layer.ANALYTICS: "#fdf5c9",
}
HIGHLIGHT = "#c2185b"


class GraphvizMissing(RuntimeError):
    """Graphviz's ``dot`` is not installed."""


def dot_source(
    arch: Architecture, path: Iterable[tuple[str, str]] = (), *, only_path: bool = False, rankdir: str | None = None
) -> str:
    """The diagram in the DOT language; the arrows in ``path`` in colour, the others faded (or left out)."""
    highlight = set(path)
    on_path = {end for edge in highlight for end in edge}
    unknown = highlight - {(e.source, e.target) for e in arch.edges}
    if unknown:
        raise ValueError(f"arrows not in reference/architecture.py: {sorted(unknown)}")
    lines = [
        "digraph architecture {",
        f'  graph [rankdir={rankdir or ("TB" if only_path else "LR")}, compound=true, fontname="Helvetica",'
        ' fontsize=12, nodesep=0.25, ranksep=0.6, bgcolor="transparent", pad=0.2];',
        '  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=14, margin="0.12,0.06"];',
        f'  edge [fontname="Helvetica", fontsize={12 if only_path else 9}, color="#555555", arrowsize=0.7];',
    ]
    for layer in Layer:
        nodes = [n for n in arch.nodes if n.layer is layer and (not only_path or n.id in on_path)]
        if not nodes:
            continue
        indent = "  "
        if layer is not Layer.CLIENT:
            title = TITLES.get(layer, layer.value.title())
            lines.append(f'  subgraph "cluster_{layer.value}" {{')
            lines.append(f'    id="layer_{layer.value}"; label="{_esc(title)}"; style="rounded,filled";')
            lines.append(f'    fillcolor="{COLOURS.get(layer, "#f5f5f5")}80"; color="#999999"; fontsize=16;')
            indent = "    "
        for n in nodes:
            faded = bool(highlight) and n.id not in on_path
            colour = "#ffffff" if not faded else "#f7f7f7"
            font = "#222222" if not faded else "#aaaaaa"
            pen = HIGHLIGHT if n.id in on_path else "#777777"
            tip = n.label + (f" ({n.aws_service})" if n.aws_service else "")
            lines.append(
                f'{indent}"{n.id}" [id="node_{n.id}", label="{_esc(n.label)}", tooltip="{_esc(tip)}", '
                f'fillcolor="{colour}", fontcolor="{font}", color="{pen}"'
                + (", penwidth=2" if n.id in on_path else "")
                + "];"
            )
        if layer is not Layer.CLIENT:
            lines.append("  }")
    for e in arch.edges:
        source, attrs = e.source, []
        if e.source in arch.groups:  # a subgraph is the source: start inside it, clip at its border
            layer = arch.groups[e.source]
            source = next(n.id for n in arch.nodes if n.layer is layer)
            attrs.append(f'ltail="cluster_{layer.value}"')
        hot = (e.source, e.target) in highlight
        if only_path and not hot:
            continue
        if highlight:
            attrs.append(f'color="{HIGHLIGHT}", penwidth=2.2' if hot else 'color="#dddddd"')
        if only_path:  # few arrows: say on each what travels
            attrs.append(f'label="{_esc(_wrap(e.purpose))}", fontcolor="#6a1b4d"')
        attrs.append(f'id="edge_{e.source}_{e.target}", tooltip="{_esc(f"{e.source} → {e.target}: {e.purpose}")}"')
        lines.append(f'  "{source}" -> "{e.target}" [{", ".join(attrs)}];')
    lines.append("}")
    return "\n".join(lines) + "\n"


def render_svg(dot: str) -> str:
    """Graphviz's SVG of ``dot`` (fails with a hint when Graphviz is not installed)."""
    exe = shutil.which("dot")
    if exe is None:
        raise GraphvizMissing("Graphviz's dot is needed for the diagrams: apt-get install -y graphviz")
    done = subprocess.run([exe, "-Tsvg"], input=dot, capture_output=True, text=True, check=True, timeout=60)
    return done.stdout


def _wrap(text: str, width: int = 28) -> str:
    return "\n".join(textwrap.wrap(text, width))


def _esc(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def messaging_dot(res: Resources) -> str:
    """Who publishes to which topic, what each subscription lets through, who consumes, where dead letters go."""
    lines = [
        "digraph messaging {",
        '  graph [rankdir=LR, fontname="Helvetica", nodesep=0.3, ranksep=0.9, bgcolor="transparent", pad=0.2];',
        '  node [style="rounded,filled", fontname="Helvetica", fontsize=13, margin="0.12,0.06"];',
        '  edge [fontname="Helvetica", fontsize=11, color="#555555", arrowsize=0.7, fontcolor="#6a1b4d"];',
    ]
    # Publishers on the left, consumers on the right: a service that does both is drawn twice.
    for s in sorted({p for t in res.topics for p in t.publishers}):
        lines.append(f'  "pub:{s}" [id="publisher_{s}", label="{s}", shape=box, fillcolor="{COLOURS[Layer.EKS]}"];')
    for s in sorted({q.consumer for q in res.queues}):
        lines.append(
            f'  "sub:{s}" [id="consumer_{s}", label="{s}\\n(consumer)", shape=box, fillcolor="{COLOURS[Layer.EKS]}"];'
        )
    for t in res.topics:
        tip = _esc(", ".join(t.event_names()))
        lines.append(
            f'  "topic:{t.name}" [id="topic_{t.name}", label="SNS\\n{t.name}", shape=box, tooltip="{tip}", '
            f'fillcolor="{COLOURS[Layer.MESSAGING]}"];'
        )
        for p in t.publishers:
            lines.append(f'  "pub:{p}" -> "topic:{t.name}" [label="outbox relay"];')
    for q in res.queues:
        lines.append(
            f'  "queue:{q.name}" [id="queue_{q.name}", label="SQS\\n{q.name}", shape=box, '
            f'fillcolor="{COLOURS[Layer.MESSAGING]}"];'
        )
        lines.append(
            f'  "dlq:{q.name}" [id="dlq_{q.name}", label="DLQ\\n{q.dlq_name}", shape=box, fillcolor="#fbe0dc"];'
        )
        lines.append(f'  "queue:{q.name}" -> "sub:{q.consumer}" [label="receive, handle, delete"];')
        lines.append(
            f'  "queue:{q.name}" -> "dlq:{q.name}" [label="after {q.max_receive_count} receives", style=dashed];'
        )
    for sub in res.subscriptions:
        passes = _wrap(", ".join(sub.event_types) if sub.event_types else "every event", 34)
        lines.append(
            f'  "topic:{sub.topic}" -> "queue:{sub.queue}" [id="sub_{sub.topic}_{sub.queue}", label="{_esc(passes)}"];'
        )
    lines.append("}")
    return "\n".join(lines) + "\n"
