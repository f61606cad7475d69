"""The app factory every service uses: ``create_service_app(name, settings, routers, parts=...)``.

It gives each service the same skeleton: request ids in and out, JSON access logs,
problem+json errors, a body guard (content types and a streamed size limit per route,
``services/common/bodies.py``), ``/healthz`` (the process answers) and ``/readyz`` (its
dependencies answer), and an OpenAPI document at ``/openapi.json``. Nothing connects at import
or construction: adapters are built in the service's lifespan, when uvicorn starts the app, by
``parts(runtime)`` (services/common/runtime.py).
"""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from reference.bodies import JSON_TYPES, MAX_BODY_BYTES  # noqa: F401 - re-exported: services name them from here
from services.common import flags, logs, metrics, openapi, problems, telemetry
from services.common.bodies import BodyGuard
from services.common.context import REQUEST_ID_HEADER, new_request_id, request_id
from services.common.runtime import Parts, Runtime, run_checks, verdict
from services.common.settings import ServiceSettings

QUIET_PATHS = ("/healthz", "/readyz")
NO_FASTAPI_TELEMETRY = {"tracing": False, "metrics": False, "logs": False}
access_log = logging.getLogger("services.access")


def create_service_app(
    name: str,
    settings: ServiceSettings,
    routers: Iterable[APIRouter] = (),
    *,
    parts: Parts | None = None,
    version: str = "0.1.0",
    body_types: tuple[str, ...] = JSON_TYPES,
    body_prefix: str = "",
) -> FastAPI:
    """A FastAPI app with the shared skeleton; ``parts(runtime)`` builds what the service runs (see runtime.py)."""
    logs.configure(name, settings.log_level)
    tracing = _start_tracing(name, settings)

    @asynccontextmanager
    async def run(app: FastAPI) -> AsyncIterator[None]:
        async with Runtime(name, settings, app.state) as runtime:
            app.state.runtime = runtime
            metrics.start(runtime)
            if parts is not None:
                await parts(runtime)
            # What start-up made (modules, the app, its clients) lives as long as the process: out of every later
            # collection, as the zygote does for what it imported. A full collection then walks only what requests
            # and background work made since, whatever the imported libraries (OpenTelemetry's) hold.
            gc.freeze()
            yield
        telemetry.flush(timeout_s=2.0)  # the last spans of a stopping service

    # FastAPI's own telemetry off: the chassis traces (telemetry.TraceGate, sampled requests only) and
    # measures (metrics.RequestMetrics) every request itself; FastAPI's would add a span to each request.
    app = FastAPI(title=f"shop {name} service", version=version, lifespan=run, telemetry=NO_FASTAPI_TELEMETRY)
    app.state.settings = settings
    problems.install(app)
    flags.install_botocore_hooks()  # faults by flag at the AWS SDK's edge (issue 15), before any client is made
    app.include_router(flags.router)  # GET /_faults: the evidence that an injected fault took effect
    for router in routers:
        app.include_router(router)
    app.openapi = lambda: openapi.document(app)  # type: ignore[method-assign] - the error model in every document

    @app.get("/healthz", tags=["ops"], summary="The process answers")
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "service": name}

    @app.get("/readyz", tags=["ops"], summary="Every dependency answers")
    async def readyz() -> JSONResponse:
        runtime: Runtime | None = getattr(app.state, "runtime", None)
        results = await run_checks(runtime.probes if runtime else {})
        status, code = verdict(results)
        return JSONResponse({"status": status, "service": name, "checks": results}, status_code=code)

    app.add_middleware(BodyGuard, allowed_types=body_types, path_prefix=body_prefix)
    app.add_middleware(metrics.RequestMetrics, service=name)
    app.add_middleware(RequestContext)
    if tracing:
        telemetry.instrument_app(app)  # outermost: the trace is decided, and its server span opened, first
    return app


def _start_tracing(name: str, settings: ServiceSettings) -> bool:
    """OpenTelemetry for this process when ``SHOP_TRACING`` is not off (issue 14; see telemetry.py)."""
    return telemetry.setup(name, settings.tracing, settings.trace_sampling, region=settings.aws_region)


class RequestContext:
    """Pure ASGI middleware: request id in (or made) and out, and one JSON access-log line per request."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = _header(scope, b"x-request-id")
        rid = new_request_id(given)
        token = request_id.set(rid)
        start = time.perf_counter()
        status = 500

        started = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, started
            if message["type"] == "http.response.start":
                status, started = message["status"], True
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (REQUEST_ID_HEADER.lower().encode(), rid.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception as exc:
            # Handled here rather than by Starlette's outermost error middleware, which runs
            # after the request id is gone and re-raises to the server: the problem must
            # carry the id the caller will quote.
            if started:
                problems.log.exception("unhandled error after the answer began")
                raise
            if (what := problems.dependency_failure(exc)) is not None:
                problems.log.warning("dependency unavailable: %s", what)
                await problems.unavailable_response(what)(scope, receive, send_with_id)
            else:
                problems.log.exception("unhandled error")
                detail = "an unexpected error occurred; quote the request id"
                await problems.problem_response(500, "Internal error", detail)(scope, receive, send_with_id)
        finally:
            if scope["path"] not in QUIET_PATHS and access_log.isEnabledFor(logging.INFO):
                access_log.info(
                    "request",
                    extra={
                        "method": scope["method"],
                        "path": scope["path"],
                        "status": status,
                        "duration_ms": round((time.perf_counter() - start) * 1000, 2),
                    },
                )
            request_id.reset(token)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.decode("latin-1")
    return None
