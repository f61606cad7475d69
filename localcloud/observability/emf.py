"""Reading one embedded-metric-format document, as CloudWatch Logs extracts it.

The specification (CloudWatch_Embedded_Metric_Format_Specification): ``_aws.Timestamp`` in epoch
milliseconds; ``_aws.CloudWatchMetrics`` a list of directives, each a ``Namespace``, ``Dimensions`` (a list
of dimension sets, each a list of keys whose values are strings at the root) and ``Metrics`` (``Name``,
``Unit``); each metric's value at the root under its name, a number or a list of at most 100 numbers. A
document that breaks the rules yields nothing (CloudWatch drops it too) and says why.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from localcloud.observability.store import Dimensions, dims_key


class Invalid(ValueError):
    """The document is not valid EMF; the message says which rule it breaks."""


@dataclass(frozen=True, slots=True)
class Datum:
    namespace: str
    name: str
    dimensions: Dimensions
    unit: str
    values: tuple[float, ...]
    at: float  # epoch seconds


def parse(line: str | bytes) -> list[Datum]:
    """The metric values one EMF document carries (one datum per metric and dimension set)."""
    try:
        doc = json.loads(line)
    except ValueError as exc:
        raise Invalid(f"not JSON: {exc}") from None
    meta = doc.get("_aws") if isinstance(doc, dict) else None
    if not isinstance(meta, dict) or not isinstance(meta.get("CloudWatchMetrics"), list):
        raise Invalid("no _aws.CloudWatchMetrics")
    stamp = meta.get("Timestamp")
    if not isinstance(stamp, int | float) or isinstance(stamp, bool):
        raise Invalid("_aws.Timestamp must be epoch milliseconds")
    out = []
    for directive in meta["CloudWatchMetrics"]:
        namespace = directive.get("Namespace")
        if not isinstance(namespace, str) or not namespace:
            raise Invalid("a directive without Namespace")
        for dimension_set in directive.get("Dimensions", [[]]):
            dims = _dimensions(doc, dimension_set)
            for metric in directive.get("Metrics", []):
                name = metric.get("Name")
                values = _values(doc, name)
                out.append(Datum(namespace, name, dims, metric.get("Unit", "None"), values, stamp / 1000))
    return out


def _dimensions(doc: dict[str, Any], keys: Any) -> Dimensions:
    if not isinstance(keys, list) or len(keys) > 30:
        raise Invalid("a dimension set is a list of at most 30 keys")
    for key in keys:
        if not isinstance(doc.get(key), str):
            raise Invalid(f"dimension {key!r} has no string value at the root")
    return dims_key({k: doc[k] for k in keys})


def _values(doc: dict[str, Any], name: Any) -> tuple[float, ...]:
    if not isinstance(name, str) or name not in doc:
        raise Invalid(f"metric {name!r} has no value at the root")
    raw = doc[name]
    values = raw if isinstance(raw, list) else [raw]
    if len(values) > 100 or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        raise Invalid(f"metric {name!r}: a number or a list of at most 100 numbers")
    return tuple(float(v) for v in values)
