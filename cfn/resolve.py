"""A rendered layer as CloudFormation would create it for one preset: parameters given, conditions decided.

CloudFormation replaces every ``Ref`` to a parameter by its value, decides each condition and drops
the resources whose condition is false, and picks one branch of each ``Fn::If``, before it creates
anything. The policy gate and the cost model read templates in that state, so a check sees the
retention days, instance counts and endpoint flags a deploy of that preset really gets. Imports
(``Fn::ImportValue``), pseudo parameters (``AWS::AccountId``) and ``Fn::Sub`` stay as they are:
their values exist only in an account.
"""

from __future__ import annotations

import copy
from typing import Any

from cfn.presets import PRESETS

NO_VALUE = "AWS::NoValue"


class Unresolved(Exception):
    """A condition that depends on something only an account knows (an import, a pseudo parameter)."""


def parameter_values(template: dict[str, Any], stage: str) -> dict[str, Any]:
    """Each parameter's value for ``stage``: the preset's size, else the template default; Stage is the stage."""
    preset = PRESETS[stage]
    values: dict[str, Any] = {}
    for key, spec in template.get("Parameters", {}).items():
        raw = stage if key == "Stage" else preset.get(key, spec.get("Default"))
        if raw is None:
            continue
        values[key] = _typed(raw, spec.get("Type", "String"))
    return values


def _typed(raw: Any, kind: str) -> Any:
    if kind == "Number":
        number = float(raw)
        return int(number) if number.is_integer() else number
    return raw


def resolve(template: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``template`` with parameters substituted, conditions decided and false-conditioned parts removed."""
    out = copy.deepcopy(template)
    conditions: dict[str, bool] = {}
    for key in out.get("Conditions", {}):
        _condition(key, out["Conditions"], values, conditions)
    out["Resources"] = {
        k: _value(r, values, conditions)
        for k, r in out.get("Resources", {}).items()
        if conditions.get(r.get("Condition", ""), True)
    }
    out["Outputs"] = {
        k: _value(o, values, conditions)
        for k, o in out.get("Outputs", {}).items()
        if conditions.get(o.get("Condition", ""), True)
    }
    if not out["Outputs"]:
        del out["Outputs"]
    return out


def _condition(key: str, spec: dict[str, Any], values: dict[str, Any], seen: dict[str, bool]) -> bool | None:
    if key not in seen:
        try:
            seen[key] = _truth(spec[key], spec, values, seen)
        except Unresolved:
            return None
    return seen[key]


def _truth(node: Any, spec: dict[str, Any], values: dict[str, Any], seen: dict[str, bool]) -> bool:
    if isinstance(node, dict) and len(node) == 1:
        ((fn, args),) = node.items()
        if fn == "Condition":
            result = _condition(args, spec, values, seen)
            if result is None:
                raise Unresolved(args)
            return result
        if fn == "Fn::Equals":
            left, right = (_scalar(a, values) for a in args)
            return str(left) == str(right)
        if fn == "Fn::Not":
            return not _truth(args[0], spec, values, seen)
        if fn == "Fn::And":
            return all(_truth(a, spec, values, seen) for a in args)
        if fn == "Fn::Or":
            return any(_truth(a, spec, values, seen) for a in args)
    raise Unresolved(node)


def _scalar(node: Any, values: dict[str, Any]) -> Any:
    if isinstance(node, dict):
        if set(node) == {"Ref"} and node["Ref"] in values:
            return values[node["Ref"]]
        raise Unresolved(node)
    return node


def _value(node: Any, values: dict[str, Any], conditions: dict[str, bool]) -> Any:
    if isinstance(node, list):
        items = [_value(n, values, conditions) for n in node]
        return [i for i in items if i != {"Ref": NO_VALUE}]
    if not isinstance(node, dict):
        return node
    if set(node) == {"Ref"} and node["Ref"] in values:
        return values[node["Ref"]]
    if set(node) == {"Fn::If"} and node["Fn::If"][0] in conditions:
        name, when_true, when_false = node["Fn::If"]
        return _value(when_true if conditions[name] else when_false, values, conditions)
    resolved = {k: _value(v, values, conditions) for k, v in node.items()}
    return {k: v for k, v in resolved.items() if v != {"Ref": NO_VALUE}}


def for_stage(template: dict[str, Any], stage: str) -> dict[str, Any]:
    """``template`` as a deploy of ``stage``'s preset sees it."""
    return resolve(template, parameter_values(template, stage))
