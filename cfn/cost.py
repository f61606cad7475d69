"""What each preset costs a month: the rendered templates of a stage, priced resource by resource.

Every layer is rendered, resolved for the stage (``cfn/resolve.py``: the preset's sizes in place of
the parameters), and each resource is priced from ``reference/pricing.py``: the dated price table
(us-east-1 on-demand, not live) and the stage's usage assumptions (traffic, storage, requests).
The ALB is the one priced thing that is not a template resource (the ingress makes it).

    python -m cfn.cost                      # the three presets side by side, by layer
    python -m cfn.cost --preset prod        # one preset, by resource
    python -m cfn.cost --preset prod --nodes 12 --json
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

from cfn.build import LAYERS, as_dict, templates
from cfn.presets import PRESETS, SIZES
from cfn.pricers import ALB, ALB_SECURITY_GROUP, FREE, PRICERS, Context, alb
from cfn.resolve import parameter_values, resolve
from reference import pricing
from reference.pricing import USAGE, Usage


@dataclass(frozen=True, slots=True)
class Line:
    """One charge: a resource of a layer, what is counted, and its monthly cost in USD."""

    layer: str
    resource: str
    type: str
    item: str
    monthly: float


def estimate(
    stage: str,
    *,
    nodes: float | None = None,
    sizes: dict[str, str] | None = None,
    usage: Usage | None = None,
    rendered: list[tuple[str, dict]] | None = None,
) -> list[Line]:
    """Every charge of ``stage`` a month. ``nodes``: total worker nodes (a capacity model's answer);
    ``sizes``: preset values to override (e.g. ``{"NodesPerAz": "3"}``); ``usage``: other assumptions."""
    usage = usage or USAGE[stage]
    lines = []
    for layer, template in rendered or [(layer, as_dict(t)) for layer, t in templates()]:
        values = parameter_values(template, stage)
        for key, value in (sizes or {}).items():
            if key in values:
                values[key] = type(values[key])(float(value)) if isinstance(values[key], int | float) else value
        resources = resolve(template, values)["Resources"]
        context = Context(stage, usage, resources, nodes)
        for rid, resource in resources.items():
            kind = resource["Type"]
            if rid == ALB_SECURITY_GROUP:
                lines += [Line(layer, *ALB, item, round(monthly, 4)) for item, monthly in alb(context, rid, resource)]
            pricer = PRICERS.get(kind)
            if pricer is None:
                if kind not in FREE:
                    raise KeyError(f"{layer}/{rid}: no price for {kind}: add a pricer or FREE entry (cfn/pricers.py)")
                continue
            for item, monthly in pricer(context, rid, resource):
                lines.append(Line(layer, rid, kind, item, round(monthly, 4)))
    return lines


def by_layer(lines: list[Line]) -> dict[str, float]:
    totals = dict.fromkeys(LAYERS, 0.0)
    for line in lines:
        totals[line.layer] += line.monthly
    return totals


def by_resource(lines: list[Line]) -> dict[tuple[str, str, str], float]:
    totals: dict[tuple[str, str, str], float] = {}
    for line in lines:
        key = (line.layer, line.resource, line.type.split("::", 1)[1])
        totals[key] = totals.get(key, 0.0) + line.monthly
    return totals


def header() -> str:
    return (
        f"Monthly estimate in {pricing.CURRENCY}, {pricing.REGION} on-demand, {pricing.HOURS_PER_MONTH} h a month; "
        f"prices as of {pricing.AS_OF}, not live (reference/pricing.py); usage assumed per stage (USAGE there)"
    )


def print_presets(results: dict[str, list[Line]]) -> None:
    stages = list(results)
    totals = {s: by_layer(results[s]) for s in stages}
    print(header())
    print(f"\n{'layer':<15}" + "".join(f"{s:>12}" for s in stages))
    for layer in LAYERS:
        print(f"{layer:<15}" + "".join(f"{totals[s][layer]:>12,.0f}" for s in stages))
    print(f"{'total':<15}" + "".join(f"{sum(totals[s].values()):>12,.0f}" for s in stages))


def print_resources(stage: str, lines: list[Line], top: int | None) -> None:
    total = sum(line.monthly for line in lines)
    print(header())
    print(f"\n{stage}: {total:,.0f} a month. By layer, then by resource (largest first):")
    resources = by_resource(lines)
    for layer, amount in by_layer(lines).items():
        print(f"\n{layer:<40}{amount:>12,.2f}  {amount / total:>4.0%}")
        mine = sorted(((k, v) for k, v in resources.items() if k[0] == layer), key=lambda kv: -kv[1])
        for (_, rid, kind), value in mine[:top]:
            items = "; ".join(f"{ln.item}" for ln in lines if ln.layer == layer and ln.resource == rid)
            print(f"  {rid:<38}{value:>12,.2f}  {kind}: {items}")


COLOURS = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#9c755f", "#ff9da7")


def svg(results: dict[str, list[Line]]) -> str:
    """A stacked bar per preset, one colour per layer, with the totals: the figure docs/cost.md shows."""
    width, left, bar, gap, top = 760, 90, 34, 22, 40
    most = max(sum(ln.monthly for ln in lines) for lines in results.values())
    scale = (width - left - 90) / most
    rows = []
    for i, (stage, lines) in enumerate(results.items()):
        y, x = top + i * (bar + gap), float(left)
        rows.append(f'<text x="{left - 10}" y="{y + bar / 2 + 5}" text-anchor="end">{stage}</text>')
        for colour, (layer, amount) in zip(COLOURS, by_layer(lines).items(), strict=True):
            w = amount * scale
            rows.append(
                f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{bar}" fill="{colour}">'
                f"<title>{stage} {layer}: {amount:,.0f}</title></rect>"
            )
            x += w
        total = sum(ln.monthly for ln in lines)
        rows.append(f'<text x="{x + 8:.1f}" y="{y + bar / 2 + 5}">{total:,.0f}</text>')
    legend_y = top + len(results) * (bar + gap) + 10
    for j, (colour, layer) in enumerate(zip(COLOURS, LAYERS, strict=True)):
        lx = left + (j % 4) * 150
        ly = legend_y + (j // 4) * 22
        rows.append(f'<rect x="{lx}" y="{ly}" width="14" height="14" fill="{colour}"/>')
        rows.append(f'<text x="{lx + 20}" y="{ly + 12}">{layer}</text>')
    height = legend_y + 60
    title = f"Monthly estimate by layer, {pricing.CURRENCY} ({pricing.REGION} on-demand, prices as of {pricing.AS_OF})"
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'font-family="sans-serif" font-size="13">\n<rect width="100%" height="100%" fill="white"/>\n'
        f'<text x="{left}" y="22" font-size="15">{title}</text>\n' + "\n".join(rows) + "\n</svg>\n"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m cfn.cost",
        description=__doc__.split("\n\n")[0],
        epilog="Prices: reference/pricing.py PRICE (dated, not live); assumptions: USAGE there; sizes: cfn/presets.py.",
    )
    parser.add_argument("--preset", action="append", choices=list(PRESETS), help="preset(s) (default: all three)")
    parser.add_argument(
        "--nodes", type=float, help="total worker nodes, overriding the preset (a capacity model's answer)"
    )
    parser.add_argument(
        "--set", action="append", default=[], metavar="SIZE=VALUE", help="override a preset size, e.g. NodesPerAz=3"
    )
    parser.add_argument("--top", type=int, help="with one preset: show only the N costliest resources of each layer")
    parser.add_argument("--json", action="store_true", help="print every line as JSON")
    parser.add_argument("--svg", type=Path, metavar="FILE", help="also draw the presets by layer as an SVG chart")
    args = parser.parse_args(argv)
    sizes = dict(s.split("=", 1) for s in args.set if "=" in s)
    unknown = {s.split("=", 1)[0] for s in args.set} - set(SIZES)
    if unknown:
        parser.error(f"unknown sizes: {', '.join(sorted(unknown))} (known: {', '.join(SIZES)})")
    stages = args.preset or list(PRESETS)
    results = {s: estimate(s, nodes=args.nodes, sizes=sizes) for s in stages}
    if args.svg:
        args.svg.write_text(svg(results))
    if args.json:
        out = {
            "as_of": pricing.AS_OF,
            "region": pricing.REGION,
            "currency": pricing.CURRENCY,
            "source": pricing.SOURCE,
            "presets": {
                s: {
                    "total": round(sum(ln.monthly for ln in lines), 2),
                    "layers": {k: round(v, 2) for k, v in by_layer(lines).items()},
                    "usage": asdict(USAGE[s]),
                    "lines": [asdict(ln) for ln in lines],
                }
                for s, lines in results.items()
            },
        }
        print(json.dumps(out, indent=2))
    elif len(stages) == 1:
        print_resources(stages[0], results[stages[0]], args.top)
    else:
        print_presets(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
