"""The checkout bench's pure parts: when a sweep step breaks, how py-spy's folded stacks are summed, and how
moto's recording and PostgreSQL's statement log are counted, and how a process's CPU is shared out over layers."""

from __future__ import annotations

import base64
import json

from load.bench.checkout import _aws_actions, _json_objects, _statements, breaks, budget, fold, layers
from load.openloop import Sample, summarise


def step(latencies_ms: list[float], failed: int = 0):
    samples = [Sample("checkout", i / 10, ms / 1000, 201) for i, ms in enumerate(latencies_ms)]
    samples += [Sample("checkout", 0.0, 1.0, 504, "") for _ in range(failed)]
    return summarise(samples, rate=10, duration_s=len(samples) / 10)


def test_a_step_holds_until_its_errors_pass_one_percent_or_its_p99_passes_the_limit():
    assert breaks(step([100.0] * 200, failed=2), break_ms=3000) == ""
    assert breaks(step([100.0] * 200, failed=3), break_ms=3000).startswith("BREAKS: 3 errors of 203")
    assert breaks(step([100.0] * 98 + [4000.0] * 2), break_ms=3000) == "BREAKS: p99 4000 ms > 3000 ms"


def test_folded_stacks_give_self_time_by_package_and_inclusive_time_of_our_own_functions():
    text = "\n".join(
        [
            "run (uvicorn/main.py:1);handle (services/order/api.py:10);execute (sqlalchemy/engine/base.py:5) 6",
            "run (uvicorn/main.py:1);handle (services/order/api.py:10) 2",
            "run (uvicorn/main.py:1);poll (services/common/outbox.py:3);_send (psycopg/cursor.py:9) 2",
        ]
    )
    summary = fold(text)
    assert summary["samples"] == 10
    assert summary["self_by_package_pct"] == {"sqlalchemy": 60.0, "services/order": 20.0, "psycopg": 20.0}
    assert summary["inclusive_ours_pct"] == {
        "handle (services/order/api.py:10)": 80.0,
        "poll (services/common/outbox.py:3)": 20.0,
    }


def _recorded(service: str, headers: dict[str, str], body: str = "", encoded: bool = False) -> str:
    auth = f"AWS4-HMAC-SHA256 Credential=testing/20261130/us-east-1/{service}/aws4_request, SignedHeaders=host"
    payload = base64.b64encode(body.encode()).decode() if encoded else body
    entry = {"headers": {"Authorization": auth, **headers}, "method": "POST", "url": "http://aws/", "body": payload}
    return json.dumps(entry | {"body_encoded": encoded})


def test_the_emulators_recording_is_counted_by_service_and_action():
    recording = "\n".join(
        [
            _recorded("dynamodb", {"X-Amz-Target": "DynamoDB_20120810.GetItem"}, "{}"),
            _recorded("dynamodb", {"X-Amz-Target": "DynamoDB_20120810.GetItem"}, "{}"),
            _recorded("sns", {}, "Action=PublishBatch&Version=2010-03-31", encoded=True),
            _recorded("sqs", {"X-Amz-Target": "AmazonSQS.ReceiveMessage"}),
        ]
    )
    assert _aws_actions(recording) == {"dynamodb:GetItem": 2, "sns:PublishBatch": 1, "sqs:ReceiveMessage": 1}


def test_logged_statements_are_counted_by_the_service_holding_the_backend(tmp_path):
    log = tmp_path / "postgres.log"
    log.write_text("skipped before the offset\n")
    offset = log.stat().st_size
    with log.open("a") as out:
        out.write("11|LOG:  statement: BEGIN\n")
        out.write("11|LOG:  execute <unnamed>: SELECT 1\n")
        out.write("12|LOG:  statement: ;\n")
        out.write("12|DETAIL:  parameters: $1 = 'x'\n")
    counts = _statements(log, offset, backends={11: 5000, 12: 5001}, owners={5000: "order"})
    assert counts == {"order": 2, "order: BEGIN": 1, "order: SELECT 1": 1, "other": 1, "other: ;": 1}


def test_a_process_s_cpu_is_shared_over_the_layers_that_asked_for_the_work_and_waiting_is_not_charged():
    text = "\n".join(
        [
            # the standard library's socket call is charged to the driver that made it
            "run (asyncio/runners.py:1);save (services/payment/service.py:3);send (asyncpg/protocol.py:9);"
            "sendall (socket.py:4) 3",
            "run (asyncio/runners.py:1);execute (sqlalchemy/engine/base.py:5) 2",
            "run (asyncio/runners.py:1);handle (services/payment/api.py:10) 1",
            "run (asyncio/runners.py:1);_run_once (asyncio/base_events.py:7) 2",  # the standard library alone
            "_worker (concurrent/futures/thread.py:81);call (botocore/client.py:2);readinto (socket.py:1) 5",
            # waiting, not work: the loop's select and a thread's blocking read
            "Runner.run (asyncio/runners.py:118) 40",
            "_worker (concurrent/futures/thread.py:81);get (urllib3/response.py:3);SocketIO.readinto (socket.py:706) 9",
        ]
    )
    shares = layers(text, cpu_ms=26.0)  # 13 working samples: 2 ms a sample
    assert shares == {
        "AWS SDK (botocore, urllib3)": 10.0,
        "SQL driver (asyncpg, psycopg)": 6.0,
        "SQLAlchemy": 4.0,
        "event loop, threads": 4.0,
        "our code": 2.0,
    }
    assert layers("Runner.run (asyncio/runners.py:118) 5", cpu_ms=10.0) == {}


def test_the_budget_sums_the_sampled_processes_layers_and_gives_each_process_not_sampled_a_row():
    sampled = {"payment": {"SQLAlchemy": 4.0, "our code": 1.0}, "order": {"SQLAlchemy": 2.5}}
    cpu_s = {"service: payment": 0.5, "service: order": 0.25, "postgres": 0.3, "service: search": 0.01}
    assert budget(sampled, cpu_s, done=100) == {
        "SQLAlchemy": 6.5,
        "postgres (not sampled)": 3.0,
        "our code": 1.0,
        "search (not sampled)": 0.1,
    }


def test_moto_s_recording_is_read_object_by_object_when_two_requests_share_a_line():
    line = json.dumps({"a": 1}) + json.dumps({"b": 2})
    assert list(_json_objects(f"{line}\n{json.dumps({'c': 3})}\n")) == [{"a": 1}, {"b": 2}, {"c": 3}]


def test_the_clients_bench_reports_each_alternative_s_median_client_and_server():
    from load.bench.clients import _median, table

    report = {
        "rounds": 3,
        "sql": _median({"asyncpg alone": [(425.0, 300.0), (384.0, 280.0), (458.0, 320.0)]}),
        "http": _median({"aiohttp alone": [(372.0, None), (430.0, None), (410.0, None)]}),
        "aws": _median({"DynamoDB GetItem": [(1660.0, 2100.0), (1577.0, 2500.0), (2249.0, 1900.0)]}),
        "load_average": {"before": [0.4, 1.6, 3.2], "after": [1.0, 1.6, 3.1]},
    }
    assert report["sql"]["asyncpg alone"] == {
        "median": 425.0, "rounds": [425.0, 384.0, 458.0],
        "server_median": 300.0, "server_rounds": [300.0, 280.0, 320.0],
    }  # fmt: skip
    assert report["http"]["aiohttp alone"] == {"median": 410.0, "rounds": [372.0, 430.0, 410.0]}  # no server of ours
    lines = table(report).splitlines()
    assert lines[1].split() == ["client", "server", "both"]
    assert lines[2].split()[-6:] == ["425", "300", "725", "(425,", "384,", "458)"]
    assert lines[3].split()[-5:] == ["410", "-", "(372,", "430,", "410)"]
    assert lines[4].split()[-6:] == ["1660", "2100", "3760", "(1660,", "1577,", "2249)"]


def test_the_clients_bench_draws_each_part_with_and_without_a_server(tmp_path):
    from load.bench.clients import _median, plot

    report = {
        "sql": _median({"asyncpg alone": [(425.0, 300.0)]}),
        "http": _median({"aiohttp alone": [(372.0, None)]}),
        "aws": _median({"DynamoDB GetItem": [(1660.0, 2100.0)], "SES SendEmail": [(2400.0, 2000.0)]}),
        "load_average": {"before": [0.4, 1.6, 3.2], "after": [1.0, 1.6, 3.1]},
    }
    out = plot(report, tmp_path / "clients.png")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
