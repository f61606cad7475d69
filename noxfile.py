"""The project's front door: ``nox -l`` lists the sessions, ``nox -s NAME -- ARGS`` runs one."""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

import nox

STARTED = time.time()  # nox imports this file first thing: `up` reports wall time from here
ROOT = Path(__file__).parent

nox.options.sessions = ["lint", "tests"]
nox.options.reuse_venv = "yes"
# uv makes and fills a virtual environment in seconds where pip takes minutes: `pip install 'nox[uv]'` brings it
# (the README's first command); with plain `pip install nox`, virtualenv and pip do the same, more slowly.
nox.options.default_venv_backend = "uv|virtualenv"


def _install(session: nox.Session, *extras: str) -> None:
    """Install the project (editable) with ``extras``; skipped when pyproject.toml has not changed since."""
    spec = f".[{','.join(extras)}]" if extras else "."
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes() + spec.encode()).hexdigest()
    stamp = Path(session.virtualenv.location) / ".installed"
    if stamp.exists() and stamp.read_text() == digest:
        return
    if session.venv_backend != "uv":
        session.install("--upgrade", "pip")
    # Bytecode compiled once at install, as pip does (uv does not by default): a start then never compiles a module,
    # not even where PYTHONDONTWRITEBYTECODE keeps Python from writing what it compiled.
    session.install("-e", spec, env={"UV_COMPILE_BYTECODE": "1"})
    stamp.write_text(digest)


@nox.session
def up(session: nox.Session) -> None:
    """Run the whole shop locally until Ctrl-C: local cloud, services, front door on :8080."""
    _install(session, "local")
    session.run(
        "python", "-m", "localcloud", "up", *session.posargs,
        env={"SHOP_LAUNCHED_AT": str(STARTED), "PYTHONUNBUFFERED": "1",
             "SHOP_TRACING": os.environ.get("SHOP_TRACING", "xray")},  # traces to the emulator's X-Ray: nox -s trace
        interrupt_timeout=30, terminate_timeout=10,
    )  # fmt: skip


@nox.session
def tests(session: nox.Session) -> None:
    """Run every lane: unit, integration (real servers), e2e (whole stack, browser); -- tests/integration runs one.

    The unit and integration lanes run on one worker per core (SHOP_TEST_WORKERS=N to choose, 0 for none), each
    worker with servers of its own; then the e2e lane runs its whole stacks one after another in one process.
    Arguments after -- replace the lanes: pytest runs them in one process.
    """
    _install(session, "local", "cfn", "bench", "test")
    if session.posargs:
        session.run("pytest", *session.posargs)
        return
    workers = os.environ.get("SHOP_TEST_WORKERS", "logical")
    session.run("pytest", "-n", workers, "--dist", "loadfile", "tests/unit", "tests/integration")
    session.run("pytest", "tests/e2e")


@nox.session
def unit(session: nox.Session) -> None:
    """Run the unit lane only: no server, no network, well under a minute (args go to pytest)."""
    _install(session, "local", "cfn", "bench", "test")
    session.run("pytest", "tests/unit", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """Check style, imports and common bugs with ruff."""
    session.install("ruff>=0.6")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def dlq(session: nox.Session) -> None:
    """Inspect and redrive dead letters of the running stack: -- list | show QUEUE | redrive QUEUE."""
    _install(session, "local")
    session.run("python", "-m", "services.common.dlq", *(session.posargs or ["list"]))


@nox.session
def cfn(session: nox.Session) -> None:
    """Render the templates and manifests, lint and validate them, print the conformance table."""
    _install(session, "cfn")
    session.run("python", "-m", "cfn")
    session.run("python", "-m", "cfn.k8s")
    session.run("cfn-lint", *sorted(str(p) for p in (ROOT / "build" / "cfn").glob("*.*")))
    session.run(
        "kubernetes-validate", "--strict", "--quiet", *sorted(str(p) for p in (ROOT / "build/k8s/dev").glob("*"))
    )
    session.run("python", "-m", "cfn.conformance")
    if "--update-golden" in session.posargs:
        _install(session, "cfn", "test")
        golden = ("tests/unit/test_cfn_templates.py", "tests/unit/test_k8s_manifests.py")
        session.run("pytest", *golden, env={"UPDATE_GOLDEN": "1"})


@nox.session
def checkov(session: nox.Session) -> None:
    """Scan the rendered templates with checkov (its own venv: it pins an old boto3)."""
    _install(session, "cfn")
    session.run("python", "-m", "cfn", "--out", "build/cfn")
    session.install("checkov>=3.2")
    session.run(
        "checkov", "--framework", "cloudformation", "--directory", "build/cfn", "--skip-download", "--compact",
        "--quiet", *session.posargs, env={"BC_SKIP_MAPPING": "TRUE"},
    )  # fmt: skip


@nox.session
def deploy(session: nox.Session) -> None:
    """Deploy the stacks to AWS with change sets: nox -s deploy -- <dev|staging|prod> [layers] [--plan]."""
    _install(session, "cfn")
    session.run("python", "-m", "cfn.deploy", *session.posargs)


@nox.session
def bench(session: nox.Session) -> None:
    """Measure: nox -s bench -- catalog|search|checkout|edge|waf [--profile], up (start time), clients (libraries)."""
    _install(session, "local", "bench")
    session.run("python", "-m", "load.bench", *session.posargs, env={"PYTHONUNBUFFERED": "1"})


@nox.session
def trace(session: nox.Session) -> None:
    """Print a trace's waterfall from the running stack's X-Ray API and write its HTML page: -- <trace id>."""
    _install(session, "local")
    session.run("python", "-m", "localcloud.traces", *session.posargs)


@nox.session
def reindex(session: nox.Session) -> None:
    """Rebuild the search index of the running stack from the catalog, with progress output."""
    _install(session, "local")
    session.run("python", "-m", "services.search.reindex", *session.posargs, env={"PYTHONUNBUFFERED": "1"})


@nox.session
def ledger(session: nox.Session) -> None:
    """Check every order of the running stack has its charges, stock, events and e-mails: -- --since 10m."""
    _install(session, "local")
    session.run("python", "-m", "load.ledger", *(session.posargs or ["--since", "1h"]))


@nox.session
def load(session: nox.Session) -> None:
    """Run the load harness (60 s mixed run, SLO gates, report): -- [run|knee|efficiency|k8s] [--target URL]."""
    _install(session, "local", "bench")
    session.run("python", "-m", "load", *session.posargs, env={"PYTHONUNBUFFERED": "1"})


@nox.session
def docs(session: nox.Session) -> None:
    """Build the docs site, strict, into build/docs/site; -- serve previews it on :8000 (needs Graphviz's dot)."""
    _install(session, "local", "docs")
    session.run("python", "-m", "docs.gen", *(session.posargs or ["build"]))


@nox.session
def policy(session: nox.Session) -> None:
    """Gate the templates: checkov and AWS Control Tower's cfn-guard rules, every preset (-- --help)."""
    _install(session, "cfn")
    session.install("checkov>=3.2")
    # cfn-guard 3.1 and the Control Tower rules ship inside this wheel's data; its jsii/CDK deps are not needed.
    session.install("--no-deps", "cdklabs-cdk-validator-cfnguard==0.0.62")
    session.run("python", "-m", "cfn.policy", *session.posargs, env={"BC_SKIP_MAPPING": "TRUE"})


@nox.session
def cost(session: nox.Session) -> None:
    """Print what each preset costs a month, by layer (-- --preset prod for resources, --nodes N, --json, --help)."""
    _install(session, "cfn")
    session.run("python", "-m", "cfn.cost", *session.posargs)


@nox.session
def analytics(session: nox.Session) -> None:
    """Run Athena's named queries locally (DuckDB over the lake), print the funnel and orders, write the dashboard."""
    _install(session, "local", "bench")
    session.run("python", "-m", "localcloud.analytics", *session.posargs, env={"PYTHONUNBUFFERED": "1"})


@nox.session
def alarms(session: nox.Session) -> None:
    """Show the local alarms' states and history (a table) and draw the metrics dashboard of the running stack."""
    _install(session, "local", "bench")
    session.run("python", "-m", "localcloud.observability", *session.posargs)


@nox.session
def scale(session: nox.Session) -> None:
    """Capacity curve over 1, 2, 4 replicas of gateway+catalog (250m pods, HAProxy), or -- step (autoscaling)."""
    _install(session, "local", "bench")
    session.run("python", "-m", "load.scale", *session.posargs, env={"PYTHONUNBUFFERED": "1"})


@nox.session
def chaos(session: nox.Session) -> None:
    """Run fault experiments with proof the fault took effect: -- list | NAME | all [--target aws] (--help)."""
    _install(session, "local", "bench", "cfn")
    session.run("python", "-m", "chaos", *session.posargs, env={"PYTHONUNBUFFERED": "1"})
