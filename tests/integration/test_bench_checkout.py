"""The checkout benchmark's measurements: event lag read from real tables, processes named, and (slow) one tiny run.

No test here asserts a timing: the lag test checks the arithmetic on rows with known times.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta

import psutil
import psycopg
import pytest

from load.bench.checkout import component, event_lags
from load.bench.run import ROOT

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def test_event_lag_is_the_consumers_processed_time_minus_the_outbox_rows_created_time(pg_url):
    confirmed, captured = uuid.uuid4(), uuid.uuid4()
    with psycopg.connect(pg_url, autocommit=True) as db:
        for schema in ("order", "payment", "notification", "recommendations"):
            db.execute(f'create schema "{schema}"')
            db.execute(f'create table "{schema}".outbox (event_id uuid primary key, event_type text,'
                       " created_at timestamptz, published_at timestamptz)")  # fmt: skip
            db.execute(
                f'create table "{schema}".processed_events (event_id uuid primary key, processed_at timestamptz)'
            )
        db.execute('insert into "order".outbox values (%s, %s, %s, %s)',
                   (confirmed, "OrderConfirmed", T0, T0 + timedelta(milliseconds=100)))  # fmt: skip
        db.execute('insert into "payment".outbox values (%s, %s, %s, null)', (captured, "PaymentCaptured", T0))
        db.execute(
            "insert into notification.processed_events values (%s, %s)", (confirmed, T0 + timedelta(seconds=0.5))
        )

    lags = event_lags(pg_url, T0 - timedelta(seconds=1), T0 + timedelta(seconds=1))

    assert lags["OrderConfirmed -> notification"] == {
        "events": 1, "handled": 1, "p50": 500.0, "p99": 500.0, "publish_p50": 100.0,
    }  # fmt: skip
    assert (lags["OrderConfirmed -> recommendations"]["handled"], lags["PaymentCaptured -> order"]["handled"]) == (0, 0)
    assert lags["PaymentCaptured -> order"]["events"] == 1


def test_the_processes_of_the_stack_are_named_by_component():
    me = psutil.Process()
    assert component(me) == "other"
    moto = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(5)", "moto.server"])
    try:
        child = psutil.Process(moto.pid)
        deadline = time.monotonic() + 5
        while "moto.server" not in child.cmdline() and time.monotonic() < deadline:
            time.sleep(0.01)  # until exec: a just-forked child still shows its parent's command line
        assert component(child) == "aws emulator (moto)"
    finally:
        moto.kill()
        moto.wait()


@pytest.mark.slow
def test_a_tiny_checkout_bench_runs_end_to_end_and_leaves_a_clean_ledger(request, tmp_path):
    if "slow" not in (request.config.getoption("markexpr") or ""):
        pytest.skip("starts the whole stack (about 40 s here): run with -m slow")
    argv = [sys.executable, "-m", "load.bench", "checkout", "--seconds", "3", "--warmup", "1", "--rates", "2"]
    out = tmp_path / "checkout.json"
    run = subprocess.run(
        [*argv, "--users", "2", "--out", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    report = json.loads(out.read_text())
    (step,) = report["steps"]
    assert step["summary"]["sent"] == 6
    assert step["summary"]["errors"] == 0
    assert step["saga_step_ms"]["completed"]["p50"] is not None
    assert report["ledger"]["ok"], report["ledger"]
