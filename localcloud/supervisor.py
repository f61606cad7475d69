"""``up``: start the backing servers, provision the model, start the front door, serve until stopped.

Components start in dependency order and stop in reverse; Ctrl-C, SIGTERM or the
failure of any component stops everything that was started, and nothing is left
running (see ``localcloud.processes`` for why that holds even under SIGKILL).
"""

from __future__ import annotations

import os
import re
import signal
import socket
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from importlib.util import find_spec
from pathlib import Path
from typing import TextIO

import localcloud
from localcloud import backends, cgroups, fleet, health, lb, observability, seedcache, state
from localcloud.analytics import firehose
from localcloud.backends import Endpoint
from localcloud.processes import Child, StartError, spawn, wait_until
from localcloud.provision import Outputs, Provisioner
from localcloud.settings import AwsMode, LocalCloudSettings
from reference.model import Service


class Stop(BaseException):
    """Raised in the main thread by SIGTERM, like KeyboardInterrupt is by SIGINT."""


def mask(url: str) -> str:
    """A URL with its password replaced by ***, for printing."""
    return re.sub(r"(://[^:/@]+:)[^@]+@", r"\1***@", url)


class Console:
    """Progress lines: one per component, with its time and where it answers."""

    def __init__(self, stream: TextIO = sys.stdout):
        self.stream = stream

    def say(self, text: str) -> None:
        print(text, file=self.stream, flush=True)

    def step(self, name: str, seconds: float, detail: str) -> None:
        self.say(f"  {name:<10} up  {seconds:5.2f} s  {detail}")

    @contextmanager
    def timed(self, name: str) -> Iterator[list[str]]:
        """Time a step; the block appends its one-line detail to the yielded list."""
        detail: list[str] = []
        start = time.perf_counter()
        yield detail
        self.step(name, time.perf_counter() - start, " ".join(detail))


def startup_report() -> str:
    """Wall time since this process started and, under nox, since ``nox -s up`` did (install step included)."""
    now = time.time()
    report = f"up in {now - localcloud.STARTED:.1f} s"
    if nox_started := os.environ.get("SHOP_LAUNCHED_AT"):
        report += f" ({now - float(nox_started):.1f} s since `nox -s up` started, its install step included)"
    return report


def up(settings: LocalCloudSettings, console: Console | None = None) -> int:
    """Run the local stack until interrupted; 0 after a requested stop, 1 if a component failed."""
    console = console or Console()
    try:  # taken first and held: the front door's port is the one the user asked for
        front_socket = backends.listen(settings.host, settings.port)
    except OSError:
        console.say(
            f"error: {settings.host}:{settings.port} is already in use; set SHOP_PORT (or --port) to another one"
        )
        return 1
    # With port 0 the OS picked one: every line printed from now on names the port actually held.
    settings = settings.model_copy(update={"port": front_socket.getsockname()[1]})
    handlers = signal.getsignal(signal.SIGINT), signal.signal(signal.SIGTERM, _raise_stop)
    try:
        with ExitStack() as stack:
            try:
                stack.callback(front_socket.close)
                return serve(start(settings, front_socket, stack, console), console)
            finally:
                _ignore_signals()  # a second Ctrl-C must not cut the orderly stop short
    except (KeyboardInterrupt, Stop):
        console.say("stopped: every component shut down")
        return 0
    except StartError as exc:
        console.say(f"error: {exc}")
        return 1
    finally:
        signal.signal(signal.SIGINT, handlers[0])
        signal.signal(signal.SIGTERM, handlers[1])


def start(settings: LocalCloudSettings, front_socket: socket.socket, stack: ExitStack, console: Console) -> list[Child]:
    """Bring every component up, in order, registering its stop on ``stack``."""
    run_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="shop-localcloud-")))
    log_dir = run_dir / "logs"
    log_dir.mkdir()
    console.say(f"starting the local cloud (stage {settings.stage}; logs in {log_dir})")

    pg = _backend(stack, console, "postgres", settings.database_url, "DATABASE_URL", health.probe_postgres,
                  lambda: backends.embedded_postgres(run_dir, log_dir))  # fmt: skip
    kv = _backend(stack, console, "valkey", settings.redis_url, "REDIS_URL", health.probe_redis,
                  lambda: backends.embedded_valkey(run_dir, log_dir))  # fmt: skip
    if settings.aws_mode is AwsMode.AWS:
        aws = _backend(
            stack, console, "aws", "", "SHOP_AWS_MODE", lambda _: health.probe_aws(None, settings.aws_region), None
        )
    else:
        aws = _backend(stack, console, "aws", settings.aws_endpoint_url, "AWS_ENDPOINT_URL",
                       lambda url: health.probe_aws(url, settings.aws_region),
                       lambda: backends.embedded_moto(settings.aws_region, log_dir))  # fmt: skip

    outputs_file = run_dir / "outputs.json"
    if settings.aws_mode is AwsMode.EMULATOR:
        with console.timed("provision") as detail:
            provisioner = Provisioner(
                endpoint_url=aws.url, region=settings.aws_region, stage=settings.stage, database_url=pg.url
            )
            outputs = provisioner.provision(progress=lambda line: console.say(f"             {line}"))
            outputs_file.write_text(outputs.to_json())
            detail.append(f"every resource of reference/ ({outputs_file})")
    else:
        console.say("  provision  skipped: in AWS the CloudFormation stacks own the resources")

    services = fleet.present()
    socks = fleet.sockets(services)
    service_urls = {name: fleet.url(sock) for name, sock in socks.items()}
    env = child_env(settings, pg, kv, aws, outputs_file) | fleet.url_env(service_urls)
    children: list[Child] = []
    workers: list[Child] = []
    if settings.aws_mode is AwsMode.EMULATOR:  # moto's Firehose moves no record from a Kinesis stream: ours does
        workers.append(firehose.start(env, log_dir))
        stack.callback(workers[-1].stop)
        workers.append(observability.start(env, log_dir))  # EMF agent, AWS/SQS metrics, alarm evaluator
        stack.callback(workers[-1].stop)
    placement: dict[str, str] = {}
    cap: Callable[[], None] = lambda: None  # noqa: E731
    if services:
        started, placement, cap = start_services(settings, services, socks, env, run_dir, stack, console)
        children += started
    seeds = fleet.seed_modules(services)
    if find_spec("storefront.publish") and settings.aws_mode is AwsMode.EMULATOR:
        seeds.append("storefront.publish")  # the S3 static site CloudFront serves
    buckets = Outputs.from_json(outputs_file.read_text()).buckets if outputs_file.exists() else {}
    cache = seedcache.for_stack((pg, kv, aws), pg.url, aws.url, buckets)  # what earlier runs seeded, kept
    for wave in fleet.seed_waves(seeds):
        with console.timed("seed") as detail:
            summaries = seedcache.run_wave(cache, wave, lambda w: fleet.run_seeds(w, env, log_dir), console.say)
            detail.append(", ".join(wave))
        for module in wave:
            console.say(f"             {summaries[module]}")
    cap()  # CPU quotas from here on: the seeds ran at full speed

    with console.timed("frontdoor") as detail:
        door = start_frontdoor(settings, front_socket, env, log_dir)
        stack.callback(door.stop)
        detail.append(f"http://{settings.host}:{settings.port}/healthz")

    front_door = f"http://{settings.host}:{settings.port}"
    state.write(settings.stage, env | placement | {"SHOP_FRONT_DOOR_URL": front_door})
    stack.callback(state.remove, settings.stage)
    console.say(startup_report())
    console.say(f"ready: {front_door}")
    return [*workers, *children, door]


def start_services(
    settings: LocalCloudSettings,
    services: list[Service],
    socks: dict[str, socket.socket],
    env: dict[str, str],
    run_dir: Path,
    stack: ExitStack,
    console: Console,
) -> tuple[list[Child], dict[str, str], Callable[[], None]]:
    """Every replica of every service and, in front of the balanced ones, HAProxy on the service's own
    address; returns the children, where the balancer is, and what puts each replica in its CPU cgroup."""
    log_dir = run_dir / "logs"
    fronts = {name: fleet.url(sock) for name, sock in socks.items()}
    balanced = settings.balanced([s.name for s in services])
    if balanced and lb.binary() is None:
        console.say("  balancer   absent: haproxy is not installed (apt-get install haproxy); "
                    "running one replica per service, without a balancer")  # fmt: skip
        balanced = set()
    replicas = fleet.replicas(services, socks, settings.replicas, balanced)
    placed, quota_note = cpu_quotas(settings, stack)
    extra: dict[str, str] = {}
    with console.timed("services") as detail:
        stats_sock = backends.listen(fleet.HOST, 0) if balanced else None
        children = fleet.start(replicas, env, log_dir)
        stack.callback(stop_together, children)
        if stats_sock is not None:
            pools = [
                lb.Pool(name, socks[name], tuple((r.name, r.url.removeprefix("http://")) for r in replicas
                                                 if r.service.name == name))
                for name in sorted(balanced)
            ]  # fmt: skip
            extra["SHOP_BALANCER_STATS_URL"] = fleet.url(stats_sock)
            extra["SHOP_BALANCER_ADMIN_SOCKET"] = str(lb.admin_socket(run_dir))
            balancer = lb.start(pools, stats_sock, run_dir, log_dir)
            stack.callback(balancer.stop)
            children.append(balancer)
        fleet.wait_ready([c for c in children if c.name != "balancer"], {r.name: r.url for r in replicas},
                         settings.ready_timeout_s)  # fmt: skip
        detail.append(", ".join(_where(s.name, fronts[s.name], replicas) for s in services))
    if balanced:
        with console.timed("balancer") as detail:
            names = {r.name for r in replicas if r.service.name in balanced}
            lb.wait_up(extra["SHOP_BALANCER_STATS_URL"], names, settings.ready_timeout_s, children[-1])
            detail.append(f"haproxy (leastconn, /readyz checks) for {', '.join(sorted(balanced))}; "
                          f"stats {extra['SHOP_BALANCER_STATS_URL']}/stats")  # fmt: skip

    def cap() -> None:
        """Quotas once the stack is seeded, as a startup CPU boost gives a pod on EKS: importing a service
        under 250m took four times as long, and the seeds call the services."""
        if placed:
            for replica, child in zip(replicas, children, strict=False):
                placed(replica, child)
        if quota_note:
            console.say(f"  quotas     {quota_note}")

    return children, extra, cap


def _where(name: str, front: str, replicas: list[fleet.Replica]) -> str:
    """``catalog 8101``, or ``catalog 8101 -> 40001/40002`` for the balancer's port and its replicas'."""
    mine = [r for r in replicas if r.service.name == name]
    port = front.rsplit(":", 1)[1]
    if len(mine) == 1 and mine[0].url == front:
        return f"{name} {port}"
    return f"{name} {port} -> " + "/".join(r.url.rsplit(":", 1)[1] for r in mine)


def cpu_quotas(
    settings: LocalCloudSettings, stack: ExitStack
) -> tuple[Callable[[fleet.Replica, Child], None] | None, str]:
    """With ``SHOP_CPU_QUOTA``: a callback that puts each replica in a CPU cgroup of that quota, and a note."""
    milli = settings.quota_millicores()
    if milli is None:
        return None, ""
    quotas, where = cgroups.Quotas.open(cgroups.name_for(settings.stage))
    if quotas is None:
        return None, f"CPU quotas off: {where}; replicas run without them"
    stack.callback(quotas.close)  # registered before the children's stop: runs after they are gone

    def place(replica: fleet.Replica, child: Child) -> None:
        quotas.group(replica.name, milli).add(child.pid)

    return place, f"each replica in a CPU cgroup of {milli}m ({where})"


def _backend(
    stack: ExitStack,
    console: Console,
    name: str,
    given: object,
    setting: str,
    probe: Callable[[str], str],
    embedded: Callable[[], object] | None,
) -> Endpoint:
    with console.timed(name) as detail:
        if given is not None or embedded is None:
            url = str(given or "")
            endpoint = backends.external(name, setting, url, lambda: probe(url))
        else:
            endpoint = stack.enter_context(embedded())  # type: ignore[arg-type]
        detail.append(f"{mask(endpoint.url) or 'AWS'}  ({endpoint.kind}: {endpoint.detail})")
    return endpoint


def child_env(settings: LocalCloudSettings, pg: Endpoint, kv: Endpoint, aws: Endpoint, outputs: Path) -> dict[str, str]:
    """The environment every service process gets: the resolved endpoints under the standard variable names.

    boto3 reads ``AWS_ENDPOINT_URL`` itself, so service code never mentions the emulator.
    """
    env = dict(os.environ)
    env |= {
        "DATABASE_URL": pg.url,
        "REDIS_URL": kv.url,
        "AWS_REGION": settings.aws_region,
        "AWS_DEFAULT_REGION": settings.aws_region,
        "SHOP_STAGE": settings.stage,
        "SHOP_AWS_MODE": str(settings.aws_mode),
        "SHOP_OUTPUTS": str(outputs),
    }
    if outputs.exists():
        env |= cognito_env(
            Outputs.from_json(outputs.read_text()), aws.url if settings.aws_mode is AwsMode.EMULATOR else None
        )
    if settings.aws_mode is AwsMode.EMULATOR:
        env |= {
            "AWS_ENDPOINT_URL": aws.url,
            # The emulator delivers no confirmation e-mails: confirm sign-ups at once, as a dev
            # pool's pre-sign-up trigger with autoConfirmUser would.
            "PROFILE_AUTO_CONFIRM": "true",
            "AWS_ACCESS_KEY_ID": health.EMULATOR_CREDENTIALS["aws_access_key_id"],
            "AWS_SECRET_ACCESS_KEY": health.EMULATOR_CREDENTIALS["aws_secret_access_key"],
        }
        env.pop("AWS_SESSION_TOKEN", None)
        env.pop("AWS_PROFILE", None)
    return env


def cognito_env(outputs: Outputs, endpoint_url: str | None) -> dict[str, str]:
    """The user pool's ids, and where its keys are: the emulator serves the JWKS at its own address
    while its tokens name the real Cognito issuer, so the two are separate settings."""
    issuer = f"https://cognito-idp.{outputs.region}.amazonaws.com/{outputs.user_pool_id}"
    jwks_base = f"{endpoint_url.rstrip('/')}/{outputs.user_pool_id}" if endpoint_url else issuer
    return {
        "SHOP_USER_POOL_ID": outputs.user_pool_id,
        "SHOP_USER_POOL_CLIENT_ID": outputs.user_pool_clients.get("web", ""),
        "SHOP_COGNITO_ISSUER": issuer,
        "SHOP_COGNITO_JWKS_URL": f"{jwks_base}/.well-known/jwks.json",
    }


def start_frontdoor(settings: LocalCloudSettings, sock: socket.socket, env: dict[str, str], log_dir: Path) -> Child:
    argv = fleet.uvicorn_argv("localcloud.frontdoor:create_app", sock)
    door = spawn("frontdoor", argv, log_dir=log_dir, env=env, pass_fds=[sock.fileno()])
    sock.close()  # the front door has its own copy
    url = f"http://{settings.host}:{settings.port}/healthz"
    try:
        wait_until(door, lambda: _get_ok(url), timeout_s=settings.ready_timeout_s, what="200 from /healthz")
    except BaseException:
        door.stop()
        raise
    return door


def stop_together(children: list[Child]) -> None:
    """Stop services at once rather than one after another: each may take seconds to drain."""
    for child in children:
        child.signal_stop()
    for child in children:
        child.stop()


def _get_ok(url: str) -> None:
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - our own loopback URL
        if response.status != 200:
            raise RuntimeError(f"{url} answered {response.status}")


def serve(children: list[Child], console: Console) -> int:
    """Wait for a signal; if a component dies on its own, say which and stop the rest."""
    while True:
        for child in children:
            if not child.alive():
                console.say(f"error: {child.name} exited with code {child.popen.returncode}; last lines of its log:")
                console.say(child.log_tail())
                return 1
        time.sleep(0.5)


def _raise_stop(signum: int, frame: object) -> None:
    raise Stop()


def _ignore_signals() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


__all__ = ["Outputs", "up"]
