"""The ledger check: for a time window, every order has exactly the charges, stock movements, events and
e-mails it should, and nothing is orphaned. Usable by tests, load runs and chaos runs alike.

``check(since=...)`` reads every service's tables read-only (one read-only transaction, so every
rule sees the same snapshot) through the stage's database secret, and the dead-letter queues
through SQS; it returns a ``Verdict`` listing each rule with its violations. The rules are in
``load/ledger/rules.py``; ``python -m load.ledger --since 10m`` runs them against the running
local stack.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from load.ledger.rules import COUNTS, RULES, Rule, event_rules, window
from reference import physical_name
from services.common.secrets import database_url, read_secret

SAMPLE = 20  # violations kept per rule (the count is always complete)


@dataclass
class Finding:
    rule: str
    about: str
    status: str = "ok"  # ok | violated | skipped
    violations: int = 0
    examples: list[tuple[str, str]] = field(default_factory=list)
    note: str = ""


@dataclass
class Verdict:
    since: datetime
    settled: datetime
    findings: list[Finding]
    counts: dict[str, dict[str, int]]

    @property
    def ok(self) -> bool:
        return all(f.status != "violated" for f in self.findings)

    def violated(self, rule: str | None = None) -> list[Finding]:
        return [f for f in self.findings if f.status == "violated" and (rule is None or f.rule == rule)]

    def ids(self, rule: str) -> set[str]:
        """The ids the sampled violations of ``rule`` name."""
        return {i for f in self.violated(rule) for i, _ in f.examples}

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "since": self.since.isoformat(),
            "settled": self.settled.isoformat(),
            "counts": self.counts,
            "findings": [
                {**f.__dict__, "examples": [{"id": i, "detail": d} for i, d in f.examples]} for f in self.findings
            ],
        }


def check(
    since: datetime,
    until: datetime | None = None,
    *,
    settle_s: float = 10.0,
    expected_dead: int = 0,
    stage: str | None = None,
    region: str | None = None,
    db_url: str | None = None,
) -> Verdict:
    """Run every rule over entities created in ``[since, min(until, now - settle_s))``."""
    stage = stage or os.environ.get("SHOP_STAGE", "local")
    region = region or os.environ.get("AWS_REGION", "us-east-1")
    url = db_url or database_url(read_secret(physical_name("database", stage, "/"), region), "psycopg")
    now = datetime.now(UTC)
    settled = min(until or now, now - timedelta(seconds=settle_s))
    params = {"since": since, "settled": settled, "now": now}
    engine = sa.create_engine(url, poolclass=NullPool, connect_args={"options": "-c default_transaction_read_only=on"})
    try:
        with engine.connect() as conn:
            existing = _tables(conn)
            findings = _run(conn, [*RULES, *event_rules(existing)], existing, params)
            counts = {
                label: _count(conn, table, column, params) for label, table, column in COUNTS if table in existing
            }
    finally:
        engine.dispose()
    findings.append(_dead_letters(stage, region, expected_dead))
    return Verdict(since, settled, findings, counts)


def settled(since: datetime, until: datetime | None = None, *, timeout_s: float = 30.0, **kw: Any) -> Verdict:
    """``check`` again (settle delay 0) until it passes or ``timeout_s`` ran out: the last verdict.

    For a caller that just stopped its load: what is still in flight gets up to ``timeout_s`` to
    finish, and a violation that stays is reported as soon as the time is up.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        verdict = check(since, until, settle_s=0, **kw)
        if verdict.ok or time.monotonic() > deadline:
            return verdict
        time.sleep(0.5)


def _tables(conn: sa.Connection) -> set[str]:
    rows = conn.execute(sa.text("select table_schema, table_name from information_schema.tables"))
    return {f'"{s}".{t}' for s, t in rows}  # the spelling rules.py uses (order is a keyword)


def _run(conn: sa.Connection, rules: list[Rule], existing: set[str], params: dict[str, Any]) -> list[Finding]:
    """Each rule once; rules sharing a name (one per publisher or subscription) add up into one finding."""
    findings: dict[str, Finding] = {}
    for rule in rules:
        finding = findings.setdefault(rule.name, Finding(rule.name, rule.about))
        missing = [t for t in rule.needs if t not in existing]
        if missing:
            if finding.status == "ok" and not finding.violations:
                finding.status, finding.note = "skipped", "not running here: " + ", ".join(missing)
            continue
        if finding.status == "skipped":
            finding.status, finding.note = "ok", ""
        rows = conn.execute(sa.text(rule.sql), params).all()
        if rows:
            finding.status = "violated"
            finding.violations += len(rows)
            finding.examples += [(str(r[0]), str(r[1])) for r in rows][: SAMPLE - len(finding.examples)]
    return list(findings.values())


def _count(conn: sa.Connection, table: str, column: str, params: dict[str, Any]) -> dict[str, int]:
    sql = f"select {column}, count(*) from {table} t where {window('t')} group by 1"  # noqa: S608 - names from COUNTS
    return {str(k): int(n) for k, n in conn.execute(sa.text(sql), params).all()}


def _dead_letters(stage: str, region: str, expected: int) -> Finding:
    from services.common.dlq import DeadLetters

    finding = Finding("dead_letters", "queues")
    try:
        rows = DeadLetters(stage, region).summary()
    except Exception as exc:  # noqa: BLE001 - an unreachable SQS is reported, not raised
        finding.status, finding.note = "skipped", f"SQS not readable: {type(exc).__name__}"
        return finding
    dead = {r["queue"]: r["dead"] for r in rows if r["dead"]}
    total = sum(dead.values())
    finding.note = f"{total} dead letter(s), {expected} expected"
    if total != expected:
        finding.status, finding.violations = "violated", abs(total - expected)
        finding.examples = [(f"{queue}-dlq", f"{n} message(s)") for queue, n in sorted(dead.items())] or [
            ("(all)", f"0 dead letters, {expected} expected")
        ]
    return finding
