"""Athena, locally: the named queries of reference/analytics.py, transpiled by sqlglot, run by DuckDB over the lake.

The queries stay written once in Athena's SQL (Trino). ``transpile`` carries one to DuckDB's
dialect, or raises ``Untranslatable`` naming every function sqlglot does not know how to carry
(it would otherwise pass them through and DuckDB would fail later, or worse, run a namesake).
``Lake`` is a DuckDB connection with one view per Glue table (``<database>.<table>``, as
Athena names them) over the table's files in the emulator's S3: Parquet for the clickstream,
gzip tab-separated text for the edge logs, partition folders as string columns. DuckDB's
``httpfs`` extension is loaded from the ``duckdb-extension-httpfs`` package: nothing is downloaded.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from localcloud.analytics.convert import DUCKDB_TYPES
from reference.analytics import PARTITION_KEYS, TABLES, LakeTable, NamedQuery


class Untranslatable(ValueError):
    """A query uses a function the transpiler cannot carry to DuckDB; the message names it."""


def transpile(sql: str, database: str) -> str:
    """An Athena (Trino) query as DuckDB SQL, ``{db}`` replaced by ``database``."""
    import sqlglot
    from sqlglot import exp

    tree = sqlglot.parse_one(sql.replace("{db}", database), read="trino")
    unknown = sorted({node.name.lower() for node in tree.find_all(exp.Anonymous)})
    if unknown:
        raise Untranslatable(
            f"function(s) {', '.join(unknown)} cannot be carried from Athena's SQL to DuckDB by sqlglot; "
            "rewrite the query with functions both know (see docs/analytics.md)"
        )
    return tree.sql(dialect="duckdb")


@dataclass(frozen=True)
class Result:
    name: str
    columns: list[str]
    rows: list[tuple[Any, ...]]
    sql: str  # what DuckDB ran

    def records(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]


@dataclass(frozen=True)
class Source:
    """Where a table's files are: an s3:// URL prefix (or a local folder), and how many there are."""

    table: LakeTable
    location: str
    files: int


class Lake:
    """DuckDB with the lake's tables as views; ``run`` executes a named query."""

    def __init__(self, database: str, s3_endpoint: str | None = None, region: str = "us-east-1"):
        import duckdb

        self.database = database
        self.con = duckdb.connect(config={"autoinstall_known_extensions": False, "autoload_known_extensions": False})
        self.con.execute("SET TimeZone = 'UTC'")
        self.con.execute(f'CREATE SCHEMA "{database}"')
        if s3_endpoint is not None:
            self._s3(s3_endpoint, region)

    def _s3(self, endpoint: str, region: str) -> None:
        import duckdb
        from duckdb_extension_httpfs import __file__ as package

        extension = os.path.join(os.path.dirname(package), "extensions", duckdb.__version__, "httpfs.duckdb_extension")
        if not os.path.exists(extension):  # the package's folder names the version with a leading v
            extension = extension.replace(f"extensions/{duckdb.__version__}", f"extensions/v{duckdb.__version__}")
        self.con.execute(f"LOAD '{extension}'")
        where = urlsplit(endpoint) if endpoint else None
        options = {
            "TYPE": "s3",
            "KEY_ID": os.environ.get("AWS_ACCESS_KEY_ID", ""),
            "SECRET": os.environ.get("AWS_SECRET_ACCESS_KEY", ""),
            "REGION": region,
        }
        if where is not None and where.netloc:
            options |= {"ENDPOINT": where.netloc, "URL_STYLE": "path", "USE_SSL": str(where.scheme == "https")}
        if token := os.environ.get("AWS_SESSION_TOKEN"):
            options["SESSION_TOKEN"] = token
        body = ", ".join(f"{k} '{v}'" if k not in ("USE_SSL",) else f"{k} {v.lower()}" for k, v in options.items())
        self.con.execute(f"CREATE SECRET lake_s3 ({body})")

    def attach(self, source: Source) -> None:
        """The table as a view over its files (an empty view of the right types while it has none)."""
        table = source.table
        typed = ", ".join(f'CAST("{c.name}" AS {DUCKDB_TYPES[c.type]}) AS "{c.name}"' for c in table.columns)
        keys = ", ".join(f'CAST("{k}" AS VARCHAR) AS "{k}"' for k in PARTITION_KEYS)
        name = f'"{self.database}"."{table.name}"'
        if source.files == 0:
            nulls = ", ".join(
                f'CAST(NULL AS {DUCKDB_TYPES[c.type]}) AS "{c.name}"' for c in table.columns
            ) + ", " + ", ".join(f'CAST(NULL AS VARCHAR) AS "{k}"' for k in PARTITION_KEYS)  # fmt: skip
            self.con.execute(f"CREATE OR REPLACE VIEW {name} AS SELECT {nulls} WHERE false")
            return
        folders = source.location.rstrip("/") + "/" + "/".join(f"{k}=*" for k in PARTITION_KEYS)
        hive = "hive_partitioning = true, hive_types = {" + ", ".join(f"'{k}': VARCHAR" for k in PARTITION_KEYS) + "}"
        if table.format == "parquet":
            reader = f"read_parquet('{folders}/*.parquet', {hive}, union_by_name = true)"
        else:
            columns = "{" + ", ".join(f"'{c.name}': 'VARCHAR'" for c in table.columns) + "}"
            reader = (
                f"read_csv('{folders}/*.gz', {hive}, delim = '\\t', header = false, quote = '', escape = '', "
                f"nullstr = '-', compression = 'gzip', columns = {columns})"
            )
        self.con.execute(f"CREATE OR REPLACE VIEW {name} AS SELECT {typed}, {keys} FROM {reader}")  # noqa: S608

    def run(self, query: NamedQuery) -> Result:
        sql = transpile(query.sql, self.database)
        cursor = self.con.execute(sql)
        columns = [d[0] for d in cursor.description]
        return Result(query.name, columns, cursor.fetchall(), sql)

    def close(self) -> None:
        self.con.close()


def empty_lake(database: str = "lake") -> Lake:
    """Every table of reference/ as an empty view: enough to bind (and so lint) every named query offline."""
    lake = Lake(database)
    for table in TABLES:
        lake.attach(Source(table, "", 0))
    return lake


def sources(s3: Any, bucket: str) -> list[Source]:
    """Every lake table and how many files it has in ``bucket`` (the emulator's, or an account's)."""
    found = []
    for table in TABLES:
        suffix = ".parquet" if table.format == "parquet" else ".gz"
        files = sum(
            1
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=table.location)
            for obj in page.get("Contents", [])
            if obj["Key"].endswith(suffix)
        )
        found.append(Source(table, f"s3://{bucket}/{table.location}", files))
    return found
