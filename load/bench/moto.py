"""``nox -s bench -- moto``: what one AWS call costs the emulator's process, per HTTP server, in one run.

Each server of ``--servers`` is started as the local cloud starts the emulator (``localcloud.backends.embedded_moto``),
side by side: by default ``moto.server`` (moto's own launcher, as the emulator was served before issue 13: the
baseline), then our launcher (localcloud/moto_server.py) on ``werkzeug``, ``uvicorn`` and ``granian``
(``SHOP_MOTO_SERVER``); a name ending ``-plain`` (``granian-plain``) is our launcher on that server without
moto's speed-ups (``SHOP_MOTO_SPEEDUPS=0``, localcloud/moto_speedups.py). Each is given the same resources: an SNS
topic delivering to an SQS queue, a second queue, a DynamoDB table, a KMS key and a
secret. ``--pollers`` threads per server long-poll an empty queue for the whole run (``WaitTimeSeconds`` 20,
as each consumer of the stack does), so every server holds them as it does under the shop.

Then ``--users`` threads, each with boto3 clients of its own, repeat the AWS calls of the checkout path, one
journey after another: DynamoDB GetItem, a conditional PutItem and a conditional UpdateItem (the cart), SQS
SendMessage, ReceiveMessage and DeleteMessageBatch (a consumer), SNS Publish and PublishBatch (an outbox
relay), another ReceiveMessage and DeleteMessageBatch (the topic's deliveries), and KMS Encrypt or
SecretsManager GetSecretValue in turn. No retries: a request counted is a request the server answered.

On a shared machine the load drifts by the minute, so the servers are measured in ``--rounds`` rounds, each
server once a round, in an order that alternates (A, B; then B, A; ...). The figure is the CPU time (user +
system, psutil) the server's process spent per request during the measured ``--seconds``, less what it spends
with only the pollers (measured for ``IDLE_S`` before the rounds); the median over the rounds is the result,
and each server's ratio is against the first server of ``--servers`` measured in the same run, as a whole and
round by round (each round's figures were measured minutes apart at most, under the same load of the machine).
Requests a second are beside, for information. ``--profile`` then samples each server (its worker processes
included) with py-spy for ``--seconds`` under the same load and prints where its time goes (inclusive share by
package, and self time).
Writes ``artifacts/bench/moto.json`` and ``moto.png``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import psutil

from load.bench.profile import stacks
from load.bench.run import ARTIFACTS
from localcloud import backends, health, moto_speedups

REGION = "us-east-1"
# moto's own launcher (werkzeug, its access log, moto's dispatcher as it is): the emulator as it was served
# before issue 13; then ours on each HTTP server of SHOP_MOTO_SERVER.
REFERENCE = "moto.server"
SERVERS = (REFERENCE, "werkzeug", "uvicorn", "granian")
PLAIN = "-plain"  # a server's name ending so: our launcher on it without moto's speed-ups (SHOP_MOTO_SPEEDUPS=0)
IDLE_S = 5.0
CALLS_PER_JOURNEY = 11
LONG_POLL_S = 20
# Where a sample's frames were (py-spy names a frame's file relative to its import root): each layer's
# inclusive share, the HTTP servers', moto's and its web framework's.
LAYERS = {
    "werkzeug's server": ("socketserver.py", "http/server.py", "werkzeug/serving.py"),
    "its access log": ("logging/",),
    "uvicorn + a2wsgi": ("uvicorn/", "a2wsgi/", "asyncio/"),
    "granian": ("granian/",),
    "flask": ("flask/",),
    "moto": ("moto/",),
}


# --------------------------------------------------------------------------- the servers and their resources


@contextmanager
def emulator(server: str, log_dir: Path) -> Iterator[backends.Endpoint]:
    """One emulator on a free port, started as the local cloud starts it, on HTTP server ``server``."""
    if server == REFERENCE:
        with _reference(log_dir) as endpoint:
            yield endpoint
        return
    http_server, plain = server.removesuffix(PLAIN), server.endswith(PLAIN)
    chosen = {"SHOP_MOTO_SERVER": http_server, moto_speedups.ENV: "0" if plain else "1"}
    saved = {name: os.environ.get(name) for name in chosen}
    os.environ.update(chosen)  # spawn() passes our environment on
    try:
        started = backends.embedded_moto(REGION, log_dir / server)
        (log_dir / server).mkdir(parents=True, exist_ok=True)
        endpoint = started.__enter__()
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    try:
        yield endpoint
    finally:
        started.__exit__(None, None, None)


@contextmanager
def _reference(log_dir: Path) -> Iterator[backends.Endpoint]:
    """``python -m moto.server``, started as ``embedded_moto`` starts ours."""
    from localcloud.processes import spawn

    log_dir.mkdir(parents=True, exist_ok=True)

    def start(port: int) -> Any:
        argv = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
        return spawn("moto", argv, log_dir=log_dir)

    child, url = backends.start_on_a_free_port(
        start, lambda url: health.probe_aws(url, REGION), lambda port: f"http://127.0.0.1:{port}", what="STS answer"
    )
    try:
        yield backends.Endpoint("aws", url, "embedded", REFERENCE, child.pid, child)
    finally:
        child.stop()


def client(service: str, url: str) -> Any:
    return health.aws_client(service, endpoint_url=url, region=REGION, timeout_s=LONG_POLL_S + 10, retries=1)


def provision(url: str) -> dict[str, str]:
    """The resources the journeys use; their names and addresses."""
    sqs, sns, ddb = client("sqs", url), client("sns", url), client("dynamodb", url)
    work = sqs.create_queue(QueueName="bench-work")["QueueUrl"]
    events = sqs.create_queue(QueueName="bench-events")["QueueUrl"]
    idle = sqs.create_queue(QueueName="bench-idle")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=events, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    topic = sns.create_topic(Name="bench-events")["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": "true"})
    ddb.create_table(
        TableName="bench-carts",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    key = client("kms", url).create_key(Description="bench")["KeyMetadata"]["KeyId"]
    secret = client("secretsmanager", url).create_secret(Name="bench-db", SecretString='{"password": "x"}')["ARN"]
    return {"work": work, "events": events, "idle": idle, "topic": topic, "key": key, "secret": secret}


class Poller:
    """Threads that long-poll an empty queue until stopped (each holds a request of the server, as a consumer)."""

    def __init__(self, url: str, queue: str, count: int) -> None:
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._run, args=(url, queue), daemon=True) for _ in range(count)]
        for thread in self.threads:
            thread.start()

    def _run(self, url: str, queue: str) -> None:
        sqs = client("sqs", url)
        while not self.stop.is_set():
            try:
                sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=LONG_POLL_S, MaxNumberOfMessages=10)
            except Exception:  # noqa: BLE001 - the server stopped under it: the run is ending
                return


# --------------------------------------------------------------------------- the journeys


class Shopper:
    """One thread's clients and cart, and the journey of AWS calls it repeats."""

    def __init__(self, url: str, names: dict[str, str]) -> None:
        self.names = names
        self.sqs, self.sns, self.ddb = client("sqs", url), client("sns", url), client("dynamodb", url)
        self.kms, self.secrets = client("kms", url), client("secretsmanager", url)
        self.cart = f"cart-{uuid.uuid4().hex[:12]}"
        self.version = 0
        self.turn = 0

    def journey(self) -> int:
        """One pass of the checkout path's AWS calls; the requests it made."""
        n, key = self.names, {"pk": {"S": self.cart}}
        self.ddb.get_item(TableName="bench-carts", Key=key, ConsistentRead=True)
        item = key | {"version": {"N": str(self.version + 1)}, "qty": {"N": "1"}}
        self.ddb.put_item(
            TableName="bench-carts", Item=item, ConditionExpression="attribute_not_exists(pk) OR version = :v",
            ExpressionAttributeValues={":v": {"N": str(self.version)}},
        )  # fmt: skip
        self.ddb.update_item(
            TableName="bench-carts", Key=key, UpdateExpression="SET qty = qty + :one, version = version + :one",
            ConditionExpression="version = :v",
            ExpressionAttributeValues={":v": {"N": str(self.version + 1)}, ":one": {"N": "1"}},
        )  # fmt: skip
        self.version += 2
        body = '{"event_type": "OrderConfirmed", "data": {"order_id": "%s"}}' % uuid.uuid4()  # noqa: UP031
        self.sqs.send_message(QueueUrl=n["work"], MessageBody=body)
        self._drain(n["work"])
        attrs = {"event_type": {"DataType": "String", "StringValue": "OrderConfirmed"}}
        self.sns.publish(TopicArn=n["topic"], Message=body, MessageAttributes=attrs)
        entries = [{"Id": str(i), "Message": body, "MessageAttributes": attrs} for i in range(2)]
        self.sns.publish_batch(TopicArn=n["topic"], PublishBatchRequestEntries=entries)
        self._drain(n["events"])
        self.turn += 1
        if self.turn % 2:
            self.kms.encrypt(KeyId=n["key"], Plaintext=b"session")
        else:
            self.secrets.get_secret_value(SecretId=n["secret"])
        return CALLS_PER_JOURNEY

    def _drain(self, queue: str) -> None:
        """ReceiveMessage and DeleteMessageBatch (an empty receive still deletes nothing: one call is skipped,
        and counted as made, so a journey is always the same number of requests)."""
        got = self.sqs.receive_message(
            QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=0, MessageAttributeNames=["All"]
        ).get("Messages", [])
        entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(got)]
        if entries:
            self.sqs.delete_message_batch(QueueUrl=queue, Entries=entries)
        else:
            self.sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["ApproximateNumberOfMessages"])


def drive(shoppers: list[Shopper], seconds: float) -> tuple[int, int]:
    """Every shopper repeats journeys on a thread of its own for ``seconds``; requests made, and failures."""
    deadline = time.monotonic() + seconds
    counts = [0] * len(shoppers)
    failures = [0] * len(shoppers)

    def run(i: int) -> None:
        while time.monotonic() < deadline:
            try:
                counts[i] += shoppers[i].journey()
            except Exception:  # noqa: BLE001 - counted; the journey starts again
                failures[i] += 1

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(len(shoppers))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(counts), sum(failures)


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of the server's process and its children (a server that forks workers)."""
    proc = psutil.Process(pid)
    total = 0.0
    for p in (proc, *proc.children(recursive=True)):
        try:
            t = p.cpu_times()
        except psutil.Error:
            continue
        total += t.user + t.system
    return total


def uptime() -> str:
    """``uptime``'s line (the load averages), or the load averages alone when there is no such command."""
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True, check=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "load average: " + ", ".join(f"{x:.2f}" for x in os.getloadavg())


# --------------------------------------------------------------------------- the bench


def bench(args: argparse.Namespace) -> dict[str, Any]:
    servers = list(getattr(args, "servers", None) or SERVERS)
    rounds = max(1, getattr(args, "rounds", 3) or 3)
    pollers = getattr(args, "pollers", 8)
    runs: dict[str, list[dict[str, float]]] = {s: [] for s in servers}
    uptimes = {"before": uptime()}
    print(uptimes["before"], flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-moto-") as tmp, ExitStack() as stack:
        endpoints, shoppers, idle = {}, {}, {}
        for server in servers:
            endpoint = stack.enter_context(emulator(server, Path(tmp)))
            assert endpoint.pid is not None
            names = provision(endpoint.url)
            poller = Poller(endpoint.url, names["idle"], pollers)
            stack.callback(poller.stop.set)
            endpoints[server] = endpoint
            shoppers[server] = [Shopper(endpoint.url, names) for _ in range(args.users)]
            print(f"{server}: pid {endpoint.pid} at {endpoint.url}, {pollers} long polls held", flush=True)
        for server in servers:  # warm up (moto builds each service's app on its first call), then idle CPU
            drive(shoppers[server], args.warmup)
            before = cpu_s(endpoints[server].pid)  # type: ignore[arg-type]
            time.sleep(IDLE_S)
            idle[server] = (cpu_s(endpoints[server].pid) - before) / IDLE_S  # type: ignore[arg-type]
        for round_ in range(rounds):
            order = servers if round_ % 2 == 0 else list(reversed(servers))
            for server in order:
                pid: int = endpoints[server].pid  # type: ignore[assignment]
                before, started = cpu_s(pid), time.monotonic()
                requests, failures = drive(shoppers[server], args.seconds)
                wall = time.monotonic() - started
                spent = cpu_s(pid) - before - idle[server] * wall
                run = {
                    "cpu_ms_per_request": round(spent * 1000 / max(requests, 1), 3),
                    "rps": round(requests / wall, 1),
                    "requests": requests,
                    "failures": failures,
                    "load_1m": round(os.getloadavg()[0], 2),
                }
                runs[server].append(run)
                print(f"round {round_ + 1}/{rounds} {server:<12} {run['cpu_ms_per_request']:6.2f} CPU-ms/request "
                      f"{run['rps']:7.1f} req/s  {failures} failures  load {run['load_1m']}", flush=True)  # fmt: skip
        profiles = {}
        if getattr(args, "profile", False):
            for server in servers:
                profiles[server] = profile(endpoints[server].pid, shoppers[server], args.seconds, server)  # type: ignore[arg-type]
    uptimes["after"] = uptime()
    cpu = {s: statistics.median(r["cpu_ms_per_request"] for r in rs) for s, rs in runs.items()}
    rps = {s: statistics.median(r["rps"] for r in rs) for s, rs in runs.items()}
    base = servers[0]
    report = {
        "scenario": "moto",
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": {"cpus": os.cpu_count()},
        "servers": servers,
        "baseline": base,
        "seconds": args.seconds,
        "warmup_seconds": args.warmup,
        "users": args.users,
        "pollers": pollers,
        "rounds": rounds,
        "uptime": uptimes,
        "idle_cpu_ms_per_s": {s: round(v * 1000, 1) for s, v in idle.items()},
        "runs": runs,
        "cpu_ms_per_request": {s: round(v, 3) for s, v in cpu.items()},
        "rps": {s: round(v, 1) for s, v in rps.items()},
        "cpu_ratio": {s: round(cpu[s] / cpu[base], 3) if cpu[base] else None for s in servers},
        "cpu_ratio_by_round": {s: round_ratios(runs[s], runs[base]) for s in servers},
        "rps_ratio": {s: round(rps[s] / rps[base], 3) if rps[base] else None for s in servers},
        "profile": profiles,
    }
    report["plot"] = str(plot(report, (getattr(args, "out", None) or ARTIFACTS / "moto.json").with_suffix(".png")))
    return report


def round_ratios(runs: list[dict[str, float]], base: list[dict[str, float]]) -> list[float | None]:
    """Each round's CPU-ms per request over the baseline's in the same round."""
    return [
        round(r["cpu_ms_per_request"] / b["cpu_ms_per_request"], 3) if b["cpu_ms_per_request"] > 0 else None
        for r, b in zip(runs, base, strict=True)
    ]


def profile(pid: int, shoppers: list[Shopper], seconds: int, server: str) -> dict[str, Any]:
    """py-spy on the server while the shoppers run: inclusive share of each layer and self time by package."""
    from load.bench.checkout import _py_spy

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    folded = ARTIFACTS / f"moto-{server}.folded"
    argv = [_py_spy(), "record", "--pid", str(pid), "--duration", str(seconds), "--rate", "100", "--subprocesses"]
    argv += ["--format", "raw", "--output", str(folded), "--nonblocking", "--gil"]  # --gil: who holds it
    print(f"profiling {server} with py-spy for {seconds} s", flush=True)
    spy = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.0)
    drive(shoppers, seconds)
    spy.wait(seconds + 30)
    return summarise(folded.read_text() if folded.exists() else "") | {"folded": str(folded)}


def summarise(text: str, top: int = 10) -> dict[str, Any]:
    """Of the samples (of the thread holding the GIL): each layer's inclusive share, self time by package."""
    inclusive: Counter[str] = Counter()
    self_time: Counter[str] = Counter()
    total = 0
    for frames, n in stacks(text):
        if _idle(frames[-1]):
            continue  # a thread waiting (a long poll, the pool's idle threads, the event loop's select)
        total += n
        paths = [f.rpartition(" (")[2] for f in frames]
        for layer, prefixes in LAYERS.items():
            if any(p.startswith(prefixes) for p in paths):
                inclusive[layer] += n
        leaf = paths[-1].split("site-packages/")[-1].split("python3.11/")[-1]
        self_time[leaf.split("/")[0].removesuffix(".py").split(":")[0]] += n

    def pct(counts: Counter[str]) -> dict[str, float]:
        return {k: round(100 * v / total, 1) for k, v in counts.most_common(top)} if total else {}

    return {"busy_samples": total, "inclusive_pct": pct(inclusive), "self_by_package_pct": pct(self_time)}


def _idle(leaf: str) -> bool:
    return any(w in leaf for w in ("wait (threading", "_worker (concurrent", "select (selectors", "poll (selectors",
                                   "accept (socket", "get (queue", "run_forever", "_run_once"))  # fmt: skip


def table(report: dict[str, Any]) -> str:
    base = report["baseline"]
    lines = [
        f"scenario moto: {report['rounds']} rounds of {report['seconds']} s per server in alternating order, "
        f"{report['users']} threads of journeys ({CALLS_PER_JOURNEY} AWS calls each), {report['pollers']} long polls "
        f"held per server, {report['machine']['cpus']} cores",
        f"uptime before: {report['uptime']['before']}",
        f"uptime after:  {report['uptime']['after']}",
        f"{'server':<12} {'CPU-ms/req':>10} {'x ' + base:>12} {'req/s':>8} {'x ' + base:>12} {'idle ms/s':>10}  "
        f"runs: CPU-ms/req (x {base} in the same round)",
    ]
    for s in report["servers"]:
        by_round = report.get("cpu_ratio_by_round", {}).get(s) or [None] * len(report["runs"][s])
        runs = ", ".join(
            f"{r['cpu_ms_per_request']:.2f}" + (f" ({x:.2f})" if x is not None and s != base else "")
            for r, x in zip(report["runs"][s], by_round, strict=True)
        )
        failures = sum(r["failures"] for r in report["runs"][s])
        lines.append(
            f"{s:<12} {report['cpu_ms_per_request'][s]:>10.2f} {report['cpu_ratio'][s]:>12.2f} "
            f"{report['rps'][s]:>8.0f} {report['rps_ratio'][s]:>12.2f} {report['idle_cpu_ms_per_s'][s]:>10.1f}  "
            f"{runs}; {failures} failed journeys"
        )
    for s, p in report.get("profile", {}).items():
        layers = ", ".join(f"{k} {v:.0f}%" for k, v in p["inclusive_pct"].items())
        own = ", ".join(f"{k} {v:.0f}%" for k, v in list(p["self_by_package_pct"].items())[:8])
        lines.append(f"py-spy {s} ({p['busy_samples']} busy samples): inclusive {layers}")
        lines.append(f"    self: {own}")
    return "\n".join(lines)


def plot(report: dict[str, Any], out: Path) -> Path:
    """CPU-ms per request of each server in each round (bars), and requests a second (points)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (cpu, rate) = plt.subplots(1, 2, figsize=(10, 4))
    servers = report["servers"]
    width = 0.8 / len(servers)
    for i, s in enumerate(servers):
        xs = [r + i * width for r in range(report["rounds"])]
        cpu.bar(xs, [r["cpu_ms_per_request"] for r in report["runs"][s]], width, label=s)
        rate.plot(range(1, report["rounds"] + 1), [r["rps"] for r in report["runs"][s]], "-o", label=s)
    cpu.set_xticks(
        [r + 0.4 - width / 2 for r in range(report["rounds"])], [f"round {r + 1}" for r in range(report["rounds"])]
    )
    cpu.set_ylabel("emulator CPU ms per request")
    rate.set_xlabel("round")
    rate.set_ylabel("requests/s")
    for ax in (cpu, rate):
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    load = {k: v.rpartition("load average:")[2].strip() for k, v in report["uptime"].items()}
    rate.set_xticks(range(1, report["rounds"] + 1))
    fig.suptitle(f"emulator per HTTP server, load average {load['before']} -> {load['after']}", fontsize=9)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out
