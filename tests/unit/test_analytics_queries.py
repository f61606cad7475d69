"""Athena's named queries, written once in Trino's SQL: each one carries to DuckDB and binds to the lake's schema."""

from __future__ import annotations

import pytest

from localcloud.analytics.athena import Untranslatable, empty_lake, transpile
from reference.analytics import QUERIES, TABLES, NamedQuery, check_lake


@pytest.fixture(scope="module")
def lake():
    lake = empty_lake("shop_unit_lake")
    yield lake
    lake.close()


@pytest.mark.parametrize("query", QUERIES, ids=lambda q: q.name)
def test_every_named_query_transpiles_and_binds_to_the_tables_of_reference(lake, query: NamedQuery):
    result = lake.run(query)
    assert result.columns, "a query answers with named columns"
    assert result.rows == []


def test_a_query_with_a_function_the_transpiler_cannot_carry_fails_naming_it():
    sql = "SELECT url_extract_path(cs_uri_stem) AS p, count(*) FROM {db}.edge_logs GROUP BY 1"
    with pytest.raises(Untranslatable, match="url_extract_path"):
        transpile(sql, "lake")


def test_every_untranslatable_function_is_named_not_only_the_first():
    with pytest.raises(Untranslatable, match="format_datetime, map_agg"):
        transpile("SELECT map_agg(a, b), format_datetime(t, 'yyyy') FROM {db}.clickstream", "lake")


def test_athena_functions_become_their_duckdb_equivalents():
    sql = transpile("SELECT approx_percentile(time_taken, 0.95), from_unixtime(timestamp) FROM {db}.edge_logs", "d")
    assert "APPROX_QUANTILE" in sql
    assert "TO_TIMESTAMP" in sql
    assert "d.edge_logs" in sql


def test_the_lake_model_is_consistent_and_every_table_has_a_query():
    assert check_lake() == []
    for table in TABLES:
        assert any(f"{{db}}.{table.name}" in q.sql for q in QUERIES), table.name


def test_the_analysts_questions_are_all_named_queries():
    names = {q.name for q in QUERIES}
    assert {"conversion-funnel-by-day", "revenue-by-hour", "top-products-viewed-vs-bought", "searches-without-results",
            "edge-cache-hit-ratio-by-hour", "waf-blocks-by-hour", "p95-latency-by-path"} <= names  # fmt: skip
