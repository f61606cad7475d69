"""The skeleton every service shares: errors as problems, request ids, body guard, readiness, retries."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from services.common import http as service_http
from services.common.app import create_service_app
from services.common.identity import Admin, MaybeUser, User
from services.common.problems import Conflict
from services.common.runtime import Runtime
from services.common.settings import ServiceSettings, service_url

router = APIRouter(prefix="/things")


class Thing(BaseModel):
    name: str = Field(min_length=1, max_length=20)
    quantity: int = Field(gt=0)


@router.post("")
async def create(thing: Thing) -> dict:
    return thing.model_dump()


@router.get("/conflict")
async def conflict() -> None:
    raise Conflict("that name is taken", field="name")


@router.get("/bug")
async def bug() -> None:
    raise RuntimeError("boom")


@router.get("/throttled")
async def throttled() -> None:
    # What botocore raises once its own retries are spent on a throttled DynamoDB table.
    from botocore.exceptions import ClientError

    error = {"Code": "ProvisionedThroughputExceededException", "Message": "Rate exceeded"}
    raise ClientError({"Error": error, "ResponseMetadata": {"HTTPStatusCode": 400}}, "PutItem")


@router.get("/cache-down")
async def cache_down() -> None:
    import redis.exceptions

    raise redis.exceptions.ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")


@router.get("/database-restarting")
async def database_restarting() -> None:
    # What asyncpg raises for a statement in flight when PostgreSQL shuts down (SQLSTATE 57P01).
    import asyncpg

    raise asyncpg.AdminShutdownError("terminating connection due to administrator command")


@router.get("/database-gone")
async def database_gone() -> None:
    import asyncpg

    raise asyncpg.ConnectionDoesNotExistError("connection was closed in the middle of operation")


@router.get("/database-refused")
async def database_refused() -> None:
    from services.common.db import DatabaseUnreachable

    raise DatabaseUnreachable("PostgreSQL unreachable: ConnectionRefusedError") from ConnectionRefusedError(111)


@router.get("/database-bug")
async def database_bug() -> None:
    # A statement PostgreSQL refuses as written is our bug, not the database being down.
    import asyncpg

    raise asyncpg.UndefinedColumnError('column "nope" does not exist')


@router.get("/refused")
async def refused() -> None:
    # A client error AWS would not retry is our bug, not a dependency being down.
    from botocore.exceptions import ClientError

    raise ClientError({"Error": {"Code": "ValidationException"}, "ResponseMetadata": {"HTTPStatusCode": 400}}, "Query")


@router.get("/me")
async def me(user: User) -> dict:
    return {"sub": user.sub, "groups": sorted(user.groups)}


@router.get("/maybe")
async def maybe(user: MaybeUser) -> dict:
    return {"anonymous": user is None}


@router.get("/admin")
async def admin(user: Admin) -> dict:
    return {"ok": True}


def make_app(checks: dict | None = None) -> FastAPI:
    async def parts(rt: Runtime) -> None:
        for name, check in (checks or {}).items():
            rt.check(name, check)

    return create_service_app("things", ServiceSettings(), [router], parts=parts)


@pytest.fixture
async def client():
    app = make_app()
    async with (
        LifespanManager(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c,
    ):
        yield c


async def test_a_validation_error_is_a_422_problem_naming_each_field(client):
    r = await client.post("/things", json={"name": "", "quantity": -1})
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert {e["field"] for e in body["errors"]} == {"name", "quantity"}
    assert "quantity" in body["detail"]
    assert body["request_id"] == r.headers["x-request-id"]


async def test_malformed_json_is_a_4xx_problem_not_a_500(client):
    r = await client.post("/things", content=b'{"name": ', headers={"content-type": "application/json"})
    assert r.status_code == 422
    assert r.json()["errors"][0]["in"] == "body"


async def test_a_body_that_is_not_json_gets_415(client):
    r = await client.post("/things", content=b"name=x", headers={"content-type": "application/x-www-form-urlencoded"})
    assert r.status_code == 415
    assert r.json()["field"] == "body"


async def test_an_oversized_body_gets_413_before_any_handler_reads_it(client):
    r = await client.post("/things", content=b"x" * (1 << 20 + 1), headers={"content-type": "application/json"})
    assert r.status_code == 413


async def test_a_raised_problem_keeps_its_status_and_extensions(client):
    r = await client.get("/things/conflict")
    assert (r.status_code, r.json()["field"], r.json()["title"]) == (409, "name", "Conflict")


async def test_an_unexpected_error_is_a_500_problem_with_the_request_id_and_no_internals(client):
    r = await client.get("/things/bug", headers={"X-Request-Id": "trace-12345678"})
    assert r.status_code == 500
    assert r.json()["request_id"] == "trace-12345678"
    assert "boom" not in r.text


@pytest.mark.parametrize(("path", "what"), [("/things/throttled", "PutItem: ProvisionedThroughputExceededException"),
                                           ("/things/cache-down", "redis: ConnectionError"),
                                           ("/things/database-restarting", "asyncpg: AdminShutdownError"),
                                           ("/things/database-gone", "asyncpg: ConnectionDoesNotExistError"),
                                           ("/things/database-refused", "services: DatabaseUnreachable")])  # fmt: skip
async def test_a_dependency_that_is_down_or_throttled_is_a_503_problem_to_retry_not_a_500(client, path, what):
    r = await client.get(path)
    assert (r.status_code, r.headers["retry-after"], r.json()["title"]) == (503, "1", "Service unavailable")
    assert what in r.json()["detail"]


async def test_an_aws_error_that_retrying_cannot_mend_stays_a_500(client):
    r = await client.get("/things/refused")
    assert r.status_code == 500


async def test_a_statement_postgresql_refuses_as_written_stays_a_500(client):
    r = await client.get("/things/database-bug")
    assert r.status_code == 500


async def test_unknown_routes_are_404_problems(client):
    r = await client.get("/nothing-here")
    assert r.status_code == 404
    assert r.headers["content-type"] == "application/problem+json"


async def test_a_well_formed_request_id_is_kept_and_a_bad_one_replaced(client):
    kept = await client.get("/healthz", headers={"X-Request-Id": "abc-123-def-456"})
    assert kept.headers["x-request-id"] == "abc-123-def-456"
    replaced = await client.get("/healthz", headers={"X-Request-Id": "bad id\n"})
    assert replaced.headers["x-request-id"] != "bad id\n"
    assert len(replaced.headers["x-request-id"]) == 32


async def test_identity_comes_from_the_gateway_headers(client):
    assert (await client.get("/things/me")).status_code == 401
    assert (await client.get("/things/maybe")).json() == {"anonymous": True}
    me = await client.get("/things/me", headers={"X-Shop-User": "sub-1", "X-Shop-Groups": "admin,staff"})
    assert me.json() == {"sub": "sub-1", "groups": ["admin", "staff"]}
    assert (await client.get("/things/admin", headers={"X-Shop-User": "sub-2"})).status_code == 403
    assert (
        await client.get("/things/admin", headers={"X-Shop-User": "s", "X-Shop-Groups": "admin"})
    ).status_code == 200


async def test_readiness_reports_each_dependency_and_fails_when_one_is_down():
    async def up() -> None:
        return None

    async def down() -> None:
        raise ConnectionError("refused")

    app = make_app({"db": up, "cache": down})
    async with (
        LifespanManager(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c,
    ):
        r = await c.get("/readyz")
    assert r.status_code == 503
    assert r.json()["checks"]["db"]["status"] == "up"
    assert r.json()["checks"]["cache"] == {
        "status": "down",
        "detail": "ConnectionError: refused",
        "critical": True,
        "latency_ms": pytest.approx(0, abs=50),
    }


class Flaky:
    """A real upstream app that fails with 503 a given number of times, counting calls per method."""

    def __init__(self, failures: int):
        self.failures = failures
        self.calls: dict[str, int] = {}
        self.app = FastAPI()
        self.app.add_api_route("/x", self.handle, methods=["GET", "POST"])

    async def handle(self, request: Request) -> JSONResponse:
        method = request.method
        self.calls[method] = self.calls.get(method, 0) + 1
        if self.calls[method] <= self.failures:
            return JSONResponse({"try": self.calls[method]}, status_code=503)
        return JSONResponse({"ok": True})


async def test_idempotent_calls_are_retried_and_posts_are_sent_once(monkeypatch):
    import stamina

    stamina.set_testing(True, attempts=3)  # no sleeping between attempts in tests
    try:
        upstream = Flaky(failures=2)
        async with service_http.client("http://up", transport=httpx.ASGITransport(app=upstream.app)) as c:
            got = await service_http.request(c, "GET", "/x")
            posted = await service_http.request(c, "POST", "/x")
    finally:
        stamina.set_testing(False)
    assert (got.status_code, upstream.calls["GET"]) == (200, 3)
    assert (posted.status_code, upstream.calls["POST"]) == (503, 1)


async def test_the_request_id_is_passed_on_to_downstream_calls():
    seen: list[str] = []
    upstream = FastAPI()

    @upstream.get("/x")
    async def x(request: Request) -> dict:
        seen.append(request.headers["x-request-id"])
        return {}

    from services.common.context import request_id

    token = request_id.set("req-abcdef12")
    try:
        async with service_http.client("http://up", transport=httpx.ASGITransport(app=upstream)) as c:
            await asyncio.wait_for(c.get("/x"), 5)
    finally:
        request_id.reset(token)
    assert seen == ["req-abcdef12"]


def test_service_urls_come_from_the_environment_else_reference_ports(monkeypatch):
    monkeypatch.delenv("SHOP_SERVICE_CATALOG_URL", raising=False)
    assert service_url("catalog") == "http://127.0.0.1:8101"
    monkeypatch.setenv("SHOP_SERVICE_CATALOG_URL", "http://catalog.shop.svc.cluster.local")
    assert service_url("catalog") == "http://catalog.shop.svc.cluster.local"
