"""The analytics branch, locally: Firehose from Kinesis to the lake, Athena's queries on DuckDB, a dashboard.

``firehose`` is the worker ``nox -s up`` runs; ``athena`` runs the named queries of
reference/analytics.py; ``python -m localcloud.analytics`` (``nox -s analytics``) prints them and
writes the dashboard. See docs/analytics.md.
"""
