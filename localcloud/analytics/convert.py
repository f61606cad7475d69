"""What a Firehose delivery stream does to records, as plain functions: no AWS, no DuckDB.

- ``to_row``: a JSON record to a row of the Glue table's schema, as the OpenX JSON SerDe reads it
  (column names case-insensitive, missing fields null, unknown fields ignored), or ``Misfit``;
- ``render_prefix``: Firehose's Prefix expressions (``!{timestamp:yyyy}``, ``!{firehose:error-output-type}``,
  ``!{firehose:random-string}``) for a record's arrival time;
- ``object_key``: Firehose's object names; ``error_record``: what a failed record looks like under the
  error prefix; ``Buffer``: its buffering hints (size or interval, whichever comes first).
"""

from __future__ import annotations

import base64
import json
import math
import re
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

INT32 = 2**31
INT64 = 2**63
_EXPRESSION = re.compile(r"!\{(timestamp|firehose):([^}]+)\}")
_JAVA_FORMAT = {"yyyy": "%Y", "MM": "%m", "dd": "%d", "HH": "%H", "mm": "%M", "ss": "%S"}
# The DuckDB type of each Glue type the lake uses (Parquet's logical types follow from them).
DUCKDB_TYPES = {
    "string": "VARCHAR", "int": "INTEGER", "bigint": "BIGINT", "double": "DOUBLE", "boolean": "BOOLEAN",
    "timestamp": "TIMESTAMP",
}  # fmt: skip


class Misfit(ValueError):
    """A record the schema cannot hold; the message says which field and why."""


def to_row(data: bytes, columns: list[tuple[str, str]]) -> dict[str, Any]:
    """The record as a row of ``columns`` (name, Glue type), or Misfit naming the field that does not fit."""
    try:
        record = json.loads(data)
    except (UnicodeDecodeError, ValueError) as exc:
        raise Misfit(f"not a JSON record: {exc}") from None
    if not isinstance(record, dict):
        raise Misfit(f"a record must be a JSON object, not {type(record).__name__}")
    by_name = {k.lower(): v for k, v in record.items()}
    return {name: _value(name, kind, by_name.get(name.lower())) for name, kind in columns}


def _value(name: str, kind: str, value: Any) -> Any:
    if value is None:
        return None
    try:
        return _CONVERT[kind](value)
    except (TypeError, ValueError, OverflowError) as exc:
        raise Misfit(f"field {name}: {json.dumps(value)[:80]} is not a {kind} ({exc})") from None


def _string(value: Any) -> str:
    if isinstance(value, dict | list):
        raise TypeError("an object or array")
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _integer(bits: int) -> Any:
    def convert(value: Any) -> int:
        if isinstance(value, bool):
            raise TypeError("a boolean")
        if isinstance(value, float):
            if not value.is_integer():
                raise ValueError("has a fraction")
            value = int(value)
        number = int(value)  # int, or a string of digits
        if not -(bits // 2) <= number < bits // 2:
            raise OverflowError("out of range")
        return number

    return convert


def _double(value: Any) -> float:
    if isinstance(value, bool):
        raise TypeError("a boolean")
    number = float(value)
    if not math.isfinite(number):
        raise ValueError("not finite")
    return number


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise TypeError("neither true nor false")


def _timestamp(value: Any) -> str:
    """ISO 8601 (any offset; naive means UTC) or epoch seconds/milliseconds, as a UTC ISO string."""
    if isinstance(value, bool):
        raise TypeError("a boolean")
    if isinstance(value, int | float):
        seconds = value / 1000 if abs(value) >= 1e11 else value
        moment = datetime.fromtimestamp(seconds, UTC)
    else:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        moment = moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    return moment.replace(tzinfo=None).isoformat(timespec="microseconds")


_CONVERT = {
    "string": _string, "int": _integer(INT32), "bigint": _integer(INT64), "double": _double,
    "boolean": _boolean, "timestamp": _timestamp,
}  # fmt: skip


def render_prefix(template: str, arrival: datetime, error_type: str = "") -> str:
    """Firehose's Prefix/ErrorOutputPrefix with its expressions filled in for one arrival time (UTC)."""

    def fill(match: re.Match[str]) -> str:
        namespace, name = match[1], match[2]
        if namespace == "timestamp":
            return arrival.astimezone(UTC).strftime(_java_format(name))
        if name == "error-output-type":
            return error_type
        if name == "random-string":
            return secrets.token_hex(6)
        raise ValueError(f"Firehose has no expression !{{firehose:{name}}}")

    return _EXPRESSION.sub(fill, template)


def _java_format(pattern: str) -> str:
    for java, strf in _JAVA_FORMAT.items():
        pattern = pattern.replace(java, strf)
    return pattern


def object_key(prefix: str, delivery_stream: str, created: datetime, suffix: str) -> str:
    """Firehose's name for a delivered object: ``<stream>-<version>-<yyyy-MM-dd-HH-mm-ss>-<uuid><suffix>``."""
    stamp = created.astimezone(UTC).strftime("%Y-%m-%d-%H-%M-%S")
    return f"{prefix}{delivery_stream}-1-{stamp}-{uuid.uuid4()}{suffix}"


def error_record(record: Received, message: str, table: dict[str, str]) -> dict[str, Any]:
    """The JSON line Firehose writes under the error prefix for a record that failed conversion."""
    now = datetime.now(UTC)
    return {
        "attemptsMade": 1,
        "arrivalTimestamp": int(record.arrival.timestamp() * 1000),
        "lastErrorCode": "DataFormatConversion.MalformedData",
        "lastErrorMessage": message,
        "attemptEndingTimestamp": int(now.timestamp() * 1000),
        "rawData": base64.b64encode(record.data).decode(),
        "sequenceNumber": record.sequence,
        "dataCatalogTable": table,
    }


@dataclass(frozen=True, slots=True)
class Received:
    """A record as read from the Kinesis stream."""

    data: bytes
    arrival: datetime  # Kinesis's ApproximateArrivalTimestamp: what !{timestamp:...} uses
    sequence: str = ""


@dataclass
class Buffer:
    """Records held until the buffering hints say deliver: ``size_bytes`` reached or ``interval_s`` elapsed."""

    interval_s: float
    size_bytes: int
    records: list[Received] = field(default_factory=list)
    bytes: int = 0
    opened_at: float | None = None  # monotonic time of the first record held

    def add(self, record: Received, now: float) -> None:
        if self.opened_at is None:
            self.opened_at = now
        self.records.append(record)
        self.bytes += len(record.data)

    def due(self, now: float) -> bool:
        if not self.records:
            return False
        assert self.opened_at is not None
        return self.bytes >= self.size_bytes or now - self.opened_at >= self.interval_s

    def age_s(self, now: float) -> float:
        return 0.0 if self.opened_at is None else now - self.opened_at

    def take(self) -> list[Received]:
        records, self.records, self.bytes, self.opened_at = self.records, [], 0, None
        return records
