"""The part of our templates moto's CloudFormation can create, and an account of what it cannot.

moto skips resource types it does not implement (and still says CREATE_COMPLETE), and a
``Ref``/``GetAtt`` to a skipped resource breaks the whole stack. So before deploying into moto
we drop the unsupported resources, then everything that depends on them, and report both.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

# Types moto implements but fails on as we use them (moto 5.2.5), with the reason.
MOTO_FAILS = {
    "AWS::EC2::FlowLog": "moto cannot parse an S3 flow-log destination with a key prefix",
}

# Properties moto misreads (moto 5.2.5): removed before deploying, and reported.
MOTO_STRIPS = {
    ("AWS::KMS::Key", "Tags"): "moto reads KMS key tags as TagKey/TagValue; CloudFormation gives Key/Value",
}


@dataclass
class Subset:
    template: dict[str, Any]
    unsupported: dict[str, str] = field(default_factory=dict)  # logical id -> type moto does not implement
    failing: dict[str, str] = field(default_factory=dict)  # logical id -> why moto fails on it
    dependents: dict[str, str] = field(default_factory=dict)  # logical id -> the dropped resource it needs
    stripped: dict[str, str] = field(default_factory=dict)  # "id.Property" -> why it was removed


def supported_types() -> set[str]:
    from moto.cloudformation.parsing import get_model_map

    return set(get_model_map())


def _references(node: Any) -> set[str]:
    """Logical ids a piece of template refers to (Ref, GetAtt, Sub's ${X} and ${X.Attr}, DependsOn)."""
    found: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "Ref" and isinstance(value, str):
                found.add(value)
            elif key == "Fn::GetAtt":
                found.add(value[0] if isinstance(value, list) else value.split(".")[0])
            elif key == "Fn::Sub":
                text = value[0] if isinstance(value, list) else value
                found |= {part.split("}")[0].split(".")[0] for part in text.split("${")[1:]}
            found |= _references(value)
    elif isinstance(node, list):
        for item in node:
            found |= _references(item)
    return found


def _imports(node: Any, stage: str) -> set[str]:
    """Export names a piece of template imports (``Fn::ImportValue`` of ``Fn::Sub "shop-${Stage}-..."``)."""
    if isinstance(node, dict):
        if "Fn::ImportValue" in node:
            value = node["Fn::ImportValue"]
            return {(value["Fn::Sub"] if isinstance(value, dict) else value).replace("${Stage}", stage)}
        return {name for v in node.values() for name in _imports(v, stage)}
    if isinstance(node, list):
        return {name for v in node for name in _imports(v, stage)}
    return set()


def exports(template: dict[str, Any], stage: str) -> set[str]:
    """The export names a (subset) template will create."""
    return {
        o["Export"]["Name"]["Fn::Sub"].replace("${Stage}", stage)
        for o in template.get("Outputs", {}).values()
        if "Export" in o
    }


def subset(
    template: dict[str, Any],
    supported: set[str] | None = None,
    *,
    available: set[str] | None = None,
    stage: str = "dev",
) -> Subset:
    """Drop what moto cannot create and what depends on it (including imports of exports that were dropped)."""
    supported = supported_types() if supported is None else supported
    t = json.loads(json.dumps(template))
    t.pop("Transform", None)  # the SecretsManager transform only serves a resource moto does not implement
    result = Subset(t)
    resources = t["Resources"]
    for rid, r in list(resources.items()):
        if r["Type"] not in supported:
            result.unsupported[rid] = r["Type"]
        elif r["Type"] in MOTO_FAILS:
            result.failing[rid] = MOTO_FAILS[r["Type"]]
        for (kind, prop), why in MOTO_STRIPS.items():
            if r["Type"] == kind and prop in r.get("Properties", {}):
                del r["Properties"][prop]
                result.stripped[f"{rid}.{prop}"] = why
    dropped = set(result.unsupported) | set(result.failing)
    changed = True
    while changed:
        changed = False
        for rid, r in resources.items():
            if rid in dropped:
                continue
            needs = (_references(r) | set(_as_list(r.get("DependsOn")))) & dropped
            missing = _imports(r, stage) - available if available is not None else set()
            if needs or missing:
                result.dependents[rid] = sorted(needs)[0] if needs else f"import {sorted(missing)[0]}"
                dropped.add(rid)
                changed = True
    for rid in dropped:
        resources.pop(rid)
    t["Outputs"] = {
        k: v
        for k, v in t.get("Outputs", {}).items()
        if not _references(v["Value"]) & dropped and (available is None or not _imports(v["Value"], stage) - available)
    }
    return result


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]
