"""What the local Firehose does to a record: the Glue schema's row or a misfit, the prefix's expressions, buffering."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from localcloud.analytics.convert import Buffer, Misfit, Received, object_key, render_prefix, to_row
from reference.analytics import table

COLUMNS = [(c.name, c.type) for c in table("clickstream").columns]
ARRIVAL = datetime(2026, 3, 7, 23, 59, 30, tzinfo=UTC)


def row(**fields: object) -> dict[str, object]:
    return to_row(json.dumps(fields).encode(), COLUMNS)


def test_a_record_becomes_a_row_of_the_schema_missing_fields_null_unknown_ones_ignored():
    got = row(EVENT_TYPE="search", result_count=0, extra="ignored", occurred_at="2026-03-07T10:00:00Z")
    assert got["event_type"] == "search"
    assert got["result_count"] == 0
    assert got["occurred_at"] == "2026-03-07T10:00:00.000000"
    assert got["product_id"] is None
    assert "extra" not in got


def test_values_convert_as_the_json_serde_does():
    got = row(quantity="3", revenue=12, synthetic="true", status=201.0, occurred_at=1772877600000, load_run=7)
    assert (got["quantity"], got["revenue"], got["synthetic"], got["status"]) == (3, 12.0, True, 201)
    assert got["occurred_at"] == "2026-03-07T10:00:00.000000"
    assert got["load_run"] == "7"


@pytest.mark.parametrize(
    ("record", "field"),
    [
        ({"quantity": "two"}, "quantity"),
        ({"quantity": 1.5}, "quantity"),
        ({"status": 2**40}, "status"),
        ({"synthetic": "maybe"}, "synthetic"),
        ({"occurred_at": "yesterday"}, "occurred_at"),
        ({"revenue": True}, "revenue"),
        ({"query": {"nested": 1}}, "query"),
    ],
)
def test_a_value_that_does_not_fit_its_column_is_a_misfit_naming_the_field(record: dict[str, object], field: str):
    with pytest.raises(Misfit, match=f"field {field}"):
        to_row(json.dumps(record).encode(), COLUMNS)


@pytest.mark.parametrize("data", [b"not json", b"[1, 2]", b'"a string"', b"\xff\xfe"])
def test_a_record_that_is_not_a_json_object_is_a_misfit(data: bytes):
    with pytest.raises(Misfit):
        to_row(data, COLUMNS)


def test_the_prefix_expressions_take_the_arrival_time_in_utc():
    assert render_prefix(table("clickstream").prefix, ARRIVAL) == "clickstream/year=2026/month=03/day=07/"
    errors = render_prefix(table("clickstream").error_prefix, ARRIVAL, "format-conversion-failed")
    assert errors == "errors/clickstream/format-conversion-failed/year=2026/month=03/day=07/"


def test_an_unknown_firehose_expression_is_refused():
    with pytest.raises(ValueError, match="no-such"):
        render_prefix("x/!{firehose:no-such}/", ARRIVAL)


def test_objects_are_named_as_firehose_names_them():
    key = object_key("clickstream/year=2026/", "shop-dev-clickstream-to-lake", ARRIVAL, ".parquet")
    assert key.startswith("clickstream/year=2026/shop-dev-clickstream-to-lake-1-2026-03-07-23-59-30-")
    assert key.endswith(".parquet")


def test_the_buffer_delivers_at_its_size_or_its_interval_whichever_comes_first():
    by_time = Buffer(interval_s=60, size_bytes=1000)
    by_time.add(Received(b"x" * 10, ARRIVAL), now=100.0)
    assert not by_time.due(159.0)
    assert by_time.due(160.0)
    by_size = Buffer(interval_s=60, size_bytes=1000)
    by_size.add(Received(b"x" * 999, ARRIVAL), now=100.0)
    assert not by_size.due(100.0)
    by_size.add(Received(b"x", ARRIVAL), now=100.5)
    assert by_size.due(100.5)
    assert len(by_size.take()) == 2
    assert not by_size.due(1000.0), "an empty buffer is never due"
