"""``up``: start the backing servers, provision the model, start the front door, serve until stopped.

Components start in dependency order and stop in reverse; Ctrl-C, SIGTERM, or a component that
fails to start, stops everything that was started, and nothing is left running (see
``localcloud.processes`` for why that holds even under SIGKILL). Once the stack is up, a
component that exits on its own is restarted with back-off, as the kubelet restarts a pod's
container on EKS (localcloud/healing.py); only a requested stop ends ``serve``. The control API
(localcloud/control.py, ``SHOP_CONTROL_URL`` in the state file) shows every component and its
restarts, and switches the fault proxies when the stack runs with them (``SHOP_FAULT_PROXIES=1``).
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import signal
import socket
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from importlib.util import find_spec
from pathlib import Path
from typing import TextIO, TypeVar
from urllib.parse import urlsplit, urlunsplit

import localcloud
from localcloud import backends, cgroups, fleet, health, lb, provisioncache, seedcache, state
from localcloud.analytics import firehose
from localcloud.backends import Endpoint
from localcloud.control import Control
from localcloud.faultproxy import Proxies
from localcloud.healing import Component, Healer
from localcloud.observability import launch as observability_launch
from localcloud.processes import Child, StartError, reap_adopted, wait_until
from localcloud.provision import Outputs, Provisioner
from localcloud.settings import AwsMode, LocalCloudSettings
from localcloud.zygote import Zygote, ZygoteError
from reference.model import Service

T = TypeVar("T")


class Stop(BaseException):
    """Raised in the main thread when Ctrl-C or SIGTERM asks the stack to stop."""


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
    """Run the local stack until interrupted; 0 after a requested stop, 1 if a component failed to start."""
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
    requested: list[int] = []  # Ctrl-C or SIGTERM seen (serve stops on it even if the Stop raised was lost)
    handlers = (
        signal.signal(signal.SIGINT, _on_stop(requested, interrupt=True)),
        signal.signal(signal.SIGTERM, _on_stop(requested, interrupt=True)),
    )
    try:
        with ExitStack() as stack:
            try:
                stack.callback(front_socket.close)
                return serve(start(settings, front_socket, stack, console), console, requested)
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


SNAPSHOT = "healing"  # the emulator's state once seeded, restored into a restarted emulator


def start(settings: LocalCloudSettings, front_socket: socket.socket, stack: ExitStack, console: Console) -> Healer:
    """Bring every component up, in order, registering its stop on ``stack``; returns what heals them."""
    run_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="shop-localcloud-")))
    log_dir = run_dir / "logs"
    log_dir.mkdir()
    console.say(f"starting the local cloud (stage {settings.stage}; logs in {log_dir})")
    healer = Healer(console.say)
    zygote = start_zygote(settings, fleet.present(), log_dir, stack, console, healer)  # imports while the rest starts

    # initdb runs beside the emulator's start and provisioning, which need no database: only the database secret
    # names it, and that is brought up to date once PostgreSQL answers.
    prepared = beside(stack, lambda: backends.prepare_postgres(run_dir, log_dir)) if not settings.database_url else None
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
    outputs = provision(settings, aws, console) if settings.aws_mode is AwsMode.EMULATOR else None
    pg = _backend(stack, console, "postgres", settings.database_url, "DATABASE_URL", health.probe_postgres,
                  lambda: backends.embedded_postgres(run_dir, log_dir, prepared() if prepared else None))  # fmt: skip

    for endpoint in (pg, kv, aws):
        if endpoint.child is not None:
            healer.add(Component(endpoint.component, "backend", endpoint.child, endpoint.respawn))
    proxies: Proxies | None = None
    if settings.fault_proxies:
        proxies = Proxies()
        stack.callback(proxies.close)
        with console.timed("faults") as detail:
            pg, kv, aws = (behind_proxy(proxies, e) for e in (pg, kv, aws))
            detail.append("fault proxies: " + ", ".join(f"{n} :{p.port}" for n, p in proxies.proxies.items()))
    control = Control(healer.report, proxies.state if proxies else dict,
                      proxies.set if proxies else (lambda *_: None))  # fmt: skip
    control_url = control.start()
    stack.callback(control.stop)
    flags_file = run_dir / "flags.json"  # flagd's format; the chaos runner replaces it (services/common/flags.py)
    flags_file.write_text(json.dumps({"flags": {}}))

    outputs_file = run_dir / "outputs.json"
    if outputs is not None:  # as the services see the emulator and the database (through the proxies, if any)
        outputs = outputs.moved(aws.url)
        Provisioner(endpoint_url=aws.url, region=settings.aws_region, stage=settings.stage,
                    database_url=pg.url).secrets(outputs)  # fmt: skip
        outputs_file.write_text(outputs.to_json())
    else:
        console.say("  provision  skipped: in AWS the CloudFormation stacks own the resources")

    services = fleet.present()
    socks = fleet.sockets(services)
    service_urls = {name: fleet.url(sock) for name, sock in socks.items()}
    env = child_env(settings, pg, kv, aws, outputs_file) | fleet.url_env(service_urls)
    env |= {"SHOP_FLAGS_FILE": str(flags_file), "SHOP_CONTROL_URL": control_url}
    if settings.aws_mode is AwsMode.EMULATOR:  # moto's Firehose moves no record from a Kinesis stream: ours does
        start_workers(env, log_dir, stack, healer)
    placement: dict[str, str] = {}
    cap: Callable[[], None] = lambda: None  # noqa: E731
    if services:
        placement, cap = start_services(settings, services, socks, env, run_dir, stack, console, healer, zygote)
    seeds = fleet.seed_modules(services)
    if find_spec("storefront.publish") and settings.aws_mode is AwsMode.EMULATOR:
        seeds.append("storefront.publish")  # the S3 static site CloudFront serves
    buckets = outputs.buckets if outputs is not None else {}
    cache = seedcache.for_stack((pg, kv, aws), pg.url, aws.url, buckets)  # what earlier runs seeded, kept
    for wave in fleet.seed_waves(seeds):
        with console.timed("seed") as detail:
            summaries = seedcache.run_wave(
                cache, wave, lambda w: fleet.run_seeds(w, env, log_dir, zygote=zygote, say=console.say), console.say
            )
            detail.append(", ".join(wave))
        for module in wave:
            console.say(f"             {summaries[module]}")
    cap()  # CPU quotas from here on: the seeds ran at full speed

    kept: Callable[[], None] = lambda: None  # noqa: E731
    if aws.child is not None and settings.aws_mode is AwsMode.EMULATOR:  # the emulator's work, beside the door's
        kept = beside(stack, lambda: keep_emulator_state(aws, run_dir, console))
    with console.timed("frontdoor") as detail:
        door = healer.add(Component("frontdoor", "frontdoor",
                                    start_frontdoor(settings, front_socket, env, log_dir, zygote),
                                    lambda: spawn_frontdoor(front_socket, env, log_dir, zygote)))  # fmt: skip
        stack.callback(lambda: door.child.stop())
        detail.append(f"http://{settings.host}:{settings.port}/healthz")
    kept()
    front_door = f"http://{settings.host}:{settings.port}"
    state.write(settings.stage, env | placement | {"SHOP_FRONT_DOOR_URL": front_door})
    stack.callback(state.remove, settings.stage)
    console.say(f"  control    {control_url}/components (restarts with back-off "
                f"{', '.join(f'{d:g}' for d in healer.backoff.schedule())} s ...)")  # fmt: skip
    console.say(startup_report())
    console.say(f"ready: {front_door}")
    return healer


def beside(stack: ExitStack, work: Callable[[], T]) -> Callable[[], T]:
    """Run ``work`` in a thread while the caller goes on; returns what waits for its result (or raises its error).
    ``work`` must start no server (a child dies with the thread that started it: ``processes.spawn``); ``stack``
    waits for it before closing what was entered earlier (its files)."""
    pool = ThreadPoolExecutor(1, thread_name_prefix="beside")
    future = pool.submit(work)
    stack.callback(pool.shutdown, wait=True)
    return future.result


def provision(settings: LocalCloudSettings, aws: Endpoint, console: Console) -> Outputs:
    """Every resource of reference/ in the emulator: restored from the provision cache when an earlier run saved
    this model's provisioned state, else provisioned (and saved). The database secret is left for the caller."""
    cache = provisioncache.for_emulator(aws.kind, settings.stage, settings.aws_region)
    with console.timed("provision") as detail:
        if cache is not None and (entry := cache.lookup()) is not None:
            try:
                outputs = cache.restore(entry, aws.url)
            except (OSError, RuntimeError, ValueError, KeyError) as exc:
                console.say(f"             provision cache: restoring failed ({exc}); provisioning instead")
                shutil.rmtree(entry, ignore_errors=True)
            else:
                detail.append(f"every resource of reference/, kept from an earlier run (provision cache "
                              f"{cache.key[:12]}, saved {cache.saved(entry)})")  # fmt: skip
                return outputs
        provisioner = Provisioner(endpoint_url=aws.url, region=settings.aws_region, stage=settings.stage)
        outputs = provisioner.provision(progress=lambda line: console.say(f"             {line}"))
        detail.append("every resource of reference/")
        if cache is not None:
            try:
                cache.save(aws.url, outputs)
                detail.append(f"(kept for the next start: provision cache {cache.key[:12]})")
            except (OSError, RuntimeError) as exc:
                console.say(f"             provision cache: could not keep the provisioned state ({exc})")
    return outputs


def behind_proxy(proxies: Proxies, endpoint: Endpoint) -> Endpoint:
    """The endpoint as the services see it: its URL pointing at a fault proxy in front of the server."""
    if not endpoint.url:
        return endpoint  # real AWS: nothing local to stand in front of
    parts = urlsplit(endpoint.url)
    proxy = proxies.add(endpoint.component, parts.hostname or "127.0.0.1", parts.port or 0)
    netloc = parts.netloc.rsplit(":", 1)[0] + f":{proxy.port}"
    return dataclasses.replace(endpoint, url=urlunsplit(parts._replace(netloc=netloc)))


def keep_emulator_state(aws: Endpoint, run_dir: Path, console: Console) -> None:
    """Save the emulator's provisioned and seeded state to a file; a restarted emulator (it holds everything in
    memory) is given it back. What was written since is lost (docs/local-cloud.md says what that is)."""
    from localcloud.moto_server import restore_snapshot, take_snapshot

    file = str(run_dir / "emulator-state.pickle")
    with console.timed("snapshot") as detail:
        if not take_snapshot(aws.url, SNAPSHOT, file):
            detail.append("the emulator took no snapshot: a restarted one starts empty")
            return
        detail.append(f"the emulator's seeded state, restored if it restarts ({file})")
    backends.restore_after_restart(aws, lambda url: _restore(restore_snapshot, url, file))


def _restore(restore: Callable[..., bool], url: str, file: str) -> None:
    if not restore(url, SNAPSHOT, file):
        raise StartError(f"the restarted emulator did not take the saved state {file}")


def start_workers(env: dict[str, str], log_dir: Path, stack: ExitStack, healer: Healer) -> None:
    """The Firehose worker and the observability worker (EMF agent, AWS/SQS metrics, alarm evaluator)."""
    hose = healer.add(Component("firehose", "worker", firehose.start(env, log_dir),
                                lambda: firehose.start(env, log_dir)))  # fmt: skip
    stack.callback(lambda: hose.child.stop())
    agent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # kept: a restarted worker listens on the same port
    stack.callback(agent.close)
    obs = healer.add(Component("observability", "worker", observability_launch.start(env, log_dir, agent),
                               lambda: observability_launch.start(env, log_dir, agent)))  # fmt: skip
    stack.callback(lambda: obs.child.stop())


def start_zygote(
    settings: LocalCloudSettings, services: list[Service], log_dir: Path, stack: ExitStack, console: Console,
    healer: Healer,
) -> Zygote | None:  # fmt: skip
    """With ``SHOP_PREFORK`` on: the zygote (localcloud/zygote.py), importing every service's app from now on,
    healed like a worker; the services, the seeds and the front door are forked from it (spawned when it cannot)."""
    if not settings.prefork or not services:
        return None
    try:
        modules = fleet.preload_modules(services)
        zygote = Zygote.start(modules, log_dir=log_dir, ready_timeout_s=settings.ready_timeout_s)
    except (OSError, ZygoteError) as exc:
        console.say(f"  prefork    off: {exc}; the services are spawned")
        return None
    stack.callback(zygote.close)  # after the services stopped (the stack unwinds in reverse)
    healer.add(Component("zygote", "worker", zygote.child, zygote.restart))
    # As a subreaper the supervisor adopts its descendants' orphans: reaped, once the stack is up
    healer.on_tick.append(lambda: reap_adopted({c.child.pid for c in healer.components}))
    return zygote


def start_services(
    settings: LocalCloudSettings,
    services: list[Service],
    socks: dict[str, socket.socket],
    env: dict[str, str],
    run_dir: Path,
    stack: ExitStack,
    console: Console,
    healer: Healer,
    zygote: Zygote | None = None,
) -> tuple[dict[str, str], Callable[[], None]]:
    """Every replica of every service and, in front of the balanced ones, HAProxy on the service's own
    address, each added to ``healer``; returns where the balancer is, and what puts each replica in its CPU
    cgroup. The supervisor keeps every listening socket open, so a replica (or HAProxy) that dies starts again
    on the same one: callers wait in its backlog meanwhile, and HAProxy's /readyz checks gate the replica."""
    log_dir = run_dir / "logs"
    fronts = {name: fleet.url(sock) for name, sock in socks.items()}
    balanced = settings.balanced([s.name for s in services])
    if balanced and lb.binary() is None:
        console.say("  balancer   absent: haproxy is not installed (apt-get install haproxy); "
                    "running one replica per service, without a balancer")  # fmt: skip
        balanced = set()
    replicas = fleet.replicas(services, socks, settings.replicas, balanced)
    for sock in {id(r.sock): r.sock for r in replicas}.values():
        stack.callback(sock.close)
    placed, quota_note = cpu_quotas(settings, stack)
    extra: dict[str, str] = {}
    components: list[Component] = []
    capped: list[bool] = []  # once cap() ran, a restarted replica goes into its CPU cgroup at once

    def respawner(replica: fleet.Replica) -> Callable[[], Child]:
        def respawn() -> Child:
            child = fleet.start_one(replica, env, log_dir, zygote=zygote, say=console.say)
            if placed and capped:
                placed(replica, child)
            return child

        return respawn

    with console.timed("services") as detail:
        stats_sock = backends.listen(fleet.HOST, 0) if balanced else None
        started = fleet.start(replicas, env, log_dir, keep_sockets=True, zygote=zygote, say=console.say)
        for replica, child in zip(replicas, started, strict=True):
            components.append(Component(replica.name, "service", child, respawner(replica),
                                        service=replica.service.name))  # fmt: skip
        stack.callback(stop_together, components)
        balancer: Child | None = None
        if stats_sock is not None:
            pools = [
                lb.Pool(name, socks[name], tuple((r.name, r.url.removeprefix("http://")) for r in replicas
                                                 if r.service.name == name))
                for name in sorted(balanced)
            ]  # fmt: skip
            extra["SHOP_BALANCER_STATS_URL"] = fleet.url(stats_sock)
            extra["SHOP_BALANCER_ADMIN_SOCKET"] = str(lb.admin_socket(run_dir))
            stack.callback(stats_sock.close)
            for pool in pools:
                stack.callback(pool.front.close)
            balancer = lb.start(pools, stats_sock, run_dir, log_dir, keep_sockets=True)
            components.append(
                Component(
                    "balancer",
                    "balancer",
                    balancer,
                    lambda: lb.start(pools, stats_sock, run_dir, log_dir, keep_sockets=True),
                )
            )
        fleet.wait_ready([c.child for c in components if c.kind == "service"], {r.name: r.url for r in replicas},
                         settings.ready_timeout_s)  # fmt: skip
        detail.append(", ".join(_where(s.name, fronts[s.name], replicas) for s in services))
    if zygote is not None and zygote.forks:
        imported = zygote.ready()
        console.say(f"  prefork    {zygote.forks} of {len(replicas)} replicas forked from the zygote (pid "
                    f"{zygote.child.pid}: {imported['modules']} modules imported once, "
                    f"{imported['cpu_s']} CPU-s)")  # fmt: skip
    if balancer is not None:
        with console.timed("balancer") as detail:
            names = {r.name for r in replicas if r.service.name in balanced}
            lb.wait_up(extra["SHOP_BALANCER_STATS_URL"], names, settings.ready_timeout_s, balancer)
            detail.append(f"haproxy (leastconn, /readyz checks) for {', '.join(sorted(balanced))}; "
                          f"stats {extra['SHOP_BALANCER_STATS_URL']}/stats")  # fmt: skip
    for component in components:
        healer.add(component)

    def cap() -> None:
        """Quotas once the stack is seeded, as a startup CPU boost gives a pod on EKS: importing a service
        under 250m took four times as long, and the seeds call the services."""
        if placed:
            for replica, component in zip(replicas, components, strict=False):
                placed(replica, component.child)
            capped.append(True)
        if quota_note:
            console.say(f"  quotas     {quota_note}")

    return extra, cap


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
        env |= health.emulator_env(aws.url, settings.aws_region)
        # The emulator delivers no confirmation e-mails: confirm sign-ups at once, as a dev
        # pool's pre-sign-up trigger with autoConfirmUser would.
        env["PROFILE_AUTO_CONFIRM"] = "true"
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


def spawn_frontdoor(sock: socket.socket, env: dict[str, str], log_dir: Path, zygote: Zygote | None = None) -> Child:
    """The front door on ``sock``, which the supervisor keeps (to start it again on the same port); forked from
    the ``zygote`` when there is one."""
    argv = fleet.uvicorn_argv("localcloud.frontdoor:create_app", sock)
    return fleet.launch("frontdoor", argv, env, log_dir, zygote=zygote, pass_fds=(sock.fileno(),))


def start_frontdoor(
    settings: LocalCloudSettings, sock: socket.socket, env: dict[str, str], log_dir: Path, zygote: Zygote | None = None
) -> Child:
    door = spawn_frontdoor(sock, env, log_dir, zygote)
    url = f"http://{settings.host}:{settings.port}/healthz"
    try:
        wait_until(door, lambda: _get_ok(url), timeout_s=settings.ready_timeout_s, what="200 from /healthz")
    except BaseException:
        door.stop()
        raise
    return door


def stop_together(components: list[Component]) -> None:
    """Stop services at once rather than one after another: each may take seconds to drain."""
    for component in components:
        component.child.signal_stop()
    for component in components:
        component.child.stop()


def _get_ok(url: str) -> None:
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - our own loopback URL
        if response.status != 200:
            raise RuntimeError(f"{url} answered {response.status}")


def serve(healer: Healer, console: Console, requested: list[int], interval_s: float = 0.25) -> int:
    """Serve until a stop is requested (``requested``, which the Ctrl-C and SIGTERM handlers fill; then ``Stop`` is
    raised out of here): a component that exits on its own is restarted with back-off (``Healer.tick``, on this,
    the main thread), never the end of the stack. While serving, the signals only note the request."""
    signal.signal(signal.SIGINT, _on_stop(requested, interrupt=False))
    signal.signal(signal.SIGTERM, _on_stop(requested, interrupt=False))
    while not requested:
        healer.tick()
        time.sleep(interval_s)
    raise Stop()


def _on_stop(requested: list[int], *, interrupt: bool) -> Callable[[int, object], None]:
    """A handler of Ctrl-C and SIGTERM that notes the request and, with ``interrupt``, raises ``Stop`` at once (to
    cut a start short). The note is what counts: an exception a signal handler raises surfaces wherever the main
    thread runs Python next, and when that is a callback the interpreter runs on its own (the ``weakref.finalize``
    of a collected connection pool, at the end of the start) it is printed as "Exception ignored" and lost: a
    Ctrl-C right after ``ready:`` then did nothing (tests/e2e/test_up.py). ``serve`` sees the note all the same."""

    def handler(signum: int, frame: object) -> None:
        requested.append(signum)
        if interrupt:
            raise Stop()

    return handler


def _ignore_signals() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


__all__ = ["Outputs", "up"]
