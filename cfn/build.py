"""Render every layer to ``build/cfn/<layer>.json`` and ``.yaml``, deterministically (sorted keys)."""

from __future__ import annotations

import argparse
import importlib
import json
from collections.abc import Iterator
from pathlib import Path

from troposphere import Template

# Deployment order: each layer imports only exports of the layers before it.
LAYERS = ("network", "security", "messaging", "data", "analytics", "cluster", "edge", "observability", "fis")
OUT = Path("build/cfn")


def templates() -> Iterator[tuple[str, Template]]:
    """(layer, template) for every layer, in deployment order."""
    for layer in LAYERS:
        module = importlib.import_module(f"cfn.{layer}")
        yield layer, module.build()


def as_dict(t: Template) -> dict:
    return json.loads(t.to_json())


def render(out: Path = OUT, layers: tuple[str, ...] = LAYERS) -> list[Path]:
    """Write each layer's template as JSON and YAML; returns the JSON paths."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for layer in layers:
        t = importlib.import_module(f"cfn.{layer}").build()
        path = out / f"{layer}.json"
        path.write_text(t.to_json(indent=2, sort_keys=True) + "\n")
        (out / f"{layer}.yaml").write_text(t.to_yaml(clean_up=True))
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m cfn", description=__doc__)
    parser.add_argument("--out", type=Path, default=OUT, help="folder to write the templates to")
    parser.add_argument("layers", nargs="*", help=f"layers to render (default: all of {', '.join(LAYERS)})")
    args = parser.parse_args(argv)
    unknown = set(args.layers) - set(LAYERS)
    if unknown:
        parser.error(f"unknown layers: {', '.join(sorted(unknown))}")
    for path in render(args.out, tuple(args.layers) or LAYERS):
        print(path)
