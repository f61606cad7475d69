"""What every layer shares: the Stage parameter, names, exports and imports, model references, tags."""

from __future__ import annotations

import re
from typing import Any

from troposphere import AWSObject, Export, ImportValue, Output, Parameter, Ref, Sub, Tags, Template

from cfn.presets import PRESETS, SIZES
from reference.model import PROJECT
from reference.observability import LOG_RETENTION_DAYS

STAGES = tuple(PRESETS)
STAGE = Ref("Stage")
PARTITION = "${AWS::Partition}"


def new_template(layer: str, description: str) -> Template:
    """An empty layer template with the Stage parameter every name and export depends on."""
    t = Template(Description=f"{PROJECT} {layer} layer: {description}")
    t.set_version("2010-09-09")
    t.add_parameter(
        Parameter(
            "Stage",
            Type="String",
            AllowedValues=list(STAGES),
            Default=STAGES[0],
            Description="environment: names every resource shop-<stage>-* and selects the exports to import",
        )
    )
    return t


def add_size(t: Template, key: str, *, number: bool = False) -> Ref:
    """A size parameter (see cfn/presets.py), defaulting to the dev preset; added once per template."""
    if key in t.parameters:
        return Ref(key)
    t.add_parameter(
        Parameter(key, Type="Number" if number else "String", Default=PRESETS["dev"][key], Description=SIZES[key])
    )
    return Ref(key)


def name(logical: str, sep: str = "-") -> Sub:
    """The deployed name ``shop-<stage>-<logical>`` (the template twin of reference.physical_name)."""
    return Sub(sep.join((PROJECT, "${Stage}", logical)))


def logical_id(*parts: str) -> str:
    """``("queue", "order-payments")`` -> ``QueueOrderPayments``: CloudFormation ids are alphanumeric."""
    words = [w for p in parts for w in re.split(r"[^A-Za-z0-9]+", p) if w]
    return "".join(w[0].upper() + w[1:] for w in words)


def export_name(key: str) -> Sub:
    return Sub(f"{PROJECT}-${{Stage}}-{key}")


def export(t: Template, key: str, value: Any, description: str) -> None:
    """An output other layers import as ``imported(key)``."""
    t.add_output(Output(logical_id(key), Value=value, Description=description, Export=Export(export_name(key))))


def imported(key: str) -> ImportValue:
    return ImportValue(export_name(key))


def arn(service: str, resource: str, *, region: bool = True, account: bool = True) -> Sub:
    """An ARN in this partition, region and account: ``arn(\"sqs\", \"shop-${Stage}-x\")``."""
    where = ("${AWS::Region}" if region else "") + ":" + ("${AWS::AccountId}" if account else "")
    return Sub(f"arn:{PARTITION}:{service}:{where}:{resource}")


def explain(resource: AWSObject, *refs: str) -> AWSObject:
    """Record which nodes, arrows or RESOURCES entries a resource realises (read by the conformance test)."""
    metadata = dict(getattr(resource, "Metadata", {}) or {})
    metadata["Model"] = sorted(set(metadata.get("Model", [])) | set(refs))
    resource.Metadata = metadata
    return resource


def suppress_checkov(resource: AWSObject, check: str, why: str) -> AWSObject:
    """Skip one checkov check on one resource, saying why (the only way a check may be skipped)."""
    metadata = dict(getattr(resource, "Metadata", {}) or {})
    skips = list(metadata.get("checkov", {}).get("skip", []))
    skips.append({"id": check, "comment": why})
    metadata["checkov"] = {"skip": sorted(skips, key=lambda s: s["id"])}
    resource.Metadata = metadata
    return resource


def suppress_guard(resource: AWSObject, rule: str, why: str, *, stages: tuple[str, ...] = ()) -> AWSObject:
    """Waive one cfn-guard rule on one resource, saying why; ``stages`` limits it to those presets.

    ``guard.SuppressedRules`` is the guard rules registry's convention (its rules skip what it lists);
    the Control Tower rules ignore it, so ``python -m cfn.policy`` applies it, and refuses an entry
    without its reason in ``guard.Reasons``, or one that waives nothing.
    """
    metadata = dict(getattr(resource, "Metadata", {}) or {})
    guard = dict(metadata.get("guard", {}))
    reasons = [r for r in guard.get("Reasons", []) if r["id"] != rule]
    reasons.append({"id": rule, "comment": why, **({"stages": sorted(stages)} if stages else {})})
    guard["Reasons"] = sorted(reasons, key=lambda r: r["id"])
    guard["SuppressedRules"] = [r["id"] for r in guard["Reasons"]]
    metadata["guard"] = guard
    resource.Metadata = metadata
    return resource


# Reasons shared by the waivers of many resources (each resource still carries its own copy).
IMPORTED_KEY = (
    "encrypted with the security layer's customer managed key (alias shop-<stage>-main), imported with "
    "Fn::ImportValue; the rule accepts only a literal key id or a Ref/GetAtt to a key of the same template"
)
SHORT_RETENTION_STAGES = tuple(s for s, days in LOG_RETENTION_DAYS.items() if days < 365)
SHORT_RETENTION = (
    "dev keeps logs {dev} days and staging {staging} to save cost (reference/observability.py LOG_RETENTION_DAYS); "
    "prod keeps {prod}, which the rule checks"
).format(**LOG_RETENTION_DAYS)
IMPORTED_SUBNETS = (
    "placed in the network layer's subnets, imported as one comma-separated export (Fn::Split of Fn::ImportValue); "
    "the rule wants a literal list of subnet ids"
)


def waive_log_group(group: AWSObject, *, key_imported: bool = True) -> AWSObject:
    """The two waivers a log group of ours needs: the imported key, and dev's and staging's short retention."""
    if key_imported:
        suppress_guard(group, "cloudwatch_log_group_encrypted_check", IMPORTED_KEY)
    suppress_guard(group, "cloudwatch_log_group_retention_period_check", SHORT_RETENTION, stages=SHORT_RETENTION_STAGES)
    return group


def tags(layer: str, **extra: Any) -> Tags:
    return Tags(project=PROJECT, stage=STAGE, layer=layer, **extra)


def tag_list(layer: str) -> list[dict[str, Any]]:
    """Tags as a plain list, for the resource types whose Tags property is not the usual shape."""
    return [{"Key": k, "Value": v} for k, v in (("layer", layer), ("project", PROJECT), ("stage", STAGE))]
