"""The service runtime without servers: readiness verdicts, settings' one name per concept, background parts."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import httpx
import pytest
from pydantic_settings import SettingsConfigDict

from services.common.app import create_service_app
from services.common.background import build_with_backoff
from services.common.runtime import Runtime, verdict
from services.common.settings import ConsumerSettings, DatabaseSettings, RelaySettings


class DemoSettings(DatabaseSettings, RelaySettings, ConsumerSettings):
    model_config = SettingsConfigDict(env_prefix="DEMO_", extra="ignore")


def up(critical: bool) -> dict:
    return {"status": "up", "critical": critical}


def down(critical: bool) -> dict:
    return {"status": "down", "critical": critical}


def test_a_critical_check_down_takes_the_pod_out_of_service():
    assert verdict({"database": down(True), "relay": up(False)}) == ("down", 503)


def test_a_background_part_down_is_degraded_but_still_serves():
    assert verdict({"database": up(True), "relay": down(False)}) == ("degraded", 200)
    assert verdict({"database": up(True), "relay": up(False)}) == ("ok", 200)


def test_every_service_spells_a_concept_the_same_way(monkeypatch):
    monkeypatch.setenv("DEMO_DATABASE_SECRET", "shop/x/db")
    monkeypatch.setenv("DEMO_RELAY_IDLE_S", "0.5")
    monkeypatch.setenv("DEMO_CONSUMER_WAIT_S", "3")
    s = DemoSettings()
    assert (s.database_secret_id, s.relay_idle_s, s.consumer_wait_s) == ("shop/x/db", 0.5, 3)


def test_the_old_names_are_still_read_with_their_units_converted(monkeypatch, caplog):
    monkeypatch.setenv("DEMO_DATABASE_SECRET_ID", "shop/old/db")
    monkeypatch.setenv("DEMO_RELAY_IDLE_MS", "250")
    monkeypatch.setenv("DEMO_POLL_WAIT_S", "7")
    s = DemoSettings()
    assert (s.database_secret_id, s.relay_idle_s, s.consumer_wait_s) == ("shop/old/db", 0.25, 7)
    assert "DEMO_RELAY_IDLE_MS is deprecated; set DEMO_RELAY_IDLE_S instead" in caplog.text


def test_a_new_name_wins_over_its_old_one(monkeypatch):
    monkeypatch.setenv("DEMO_DATABASE_SECRET_ID", "old")
    monkeypatch.setenv("DEMO_DATABASE_SECRET", "new")
    assert DemoSettings().database_secret_id == "new"


def test_the_database_secret_defaults_to_the_stages_secret():
    assert DemoSettings(stage="dev").database_secret_id == "shop/dev/database"


async def test_switched_off_relay_and_consumer_build_nothing_that_calls_aws():
    settings = DemoSettings(run_relay=False, run_consumer=False)
    app = create_service_app("demo", settings)
    async with Runtime("demo", settings, app.state) as rt:
        assert rt.relay(database=None) is None  # type: ignore[arg-type]
        assert rt.consumer("notification", policy=None) is None  # type: ignore[arg-type]
        assert rt.probes == {}


async def test_a_connection_is_retried_with_back_off_until_it_succeeds():
    calls, reasons = [], []

    def build() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise ConnectionError("refused")
        return "client"

    got = await build_with_backoff(build, asyncio.Event(), what="SNS", on_error=reasons.append)
    assert got == "client"
    assert len(calls) == 3
    assert reasons == ["cannot reach SNS yet: ConnectionError: refused"] * 2


async def test_a_stop_ends_the_retries_without_a_result():
    stop = asyncio.Event()
    stop.set()
    assert await build_with_backoff(lambda: "never", stop, what="SQS", on_error=print) is None


async def test_a_periodic_part_survives_its_failures_and_readiness_shows_it_alive():
    settings = DemoSettings()
    runs: list[int] = []

    async def work() -> None:
        runs.append(1)
        raise RuntimeError("boom")

    async with Runtime("demo", settings, create_service_app("demo", settings).state) as rt:
        rt.every("sweeper", 0.01, work)
        while len(runs) < 3:
            await asyncio.sleep(0.01)
        await rt.probes["sweeper"].check()  # still alive after three failures
        assert rt.probes["sweeper"].critical is False


async def test_a_loop_that_ignores_stop_is_cancelled_after_the_grace():
    settings = DemoSettings(shutdown_grace_s=0.05)
    cancelled = asyncio.Event()

    async def stubborn(stop: asyncio.Event) -> None:
        try:
            await asyncio.sleep(3600)
        finally:
            cancelled.set()

    async with Runtime("demo", settings, create_service_app("demo", settings).state) as rt:
        rt.background("stubborn", stubborn)
    assert cancelled.is_set()


async def test_readyz_lists_each_part_with_whether_it_is_critical():
    settings = DemoSettings()

    async def parts(rt: Runtime) -> None:
        async def fine() -> None: ...

        async def broken() -> None:
            raise ConnectionError("no route")

        rt.check("database", fine)
        rt.check("relay", broken, critical=False)

    app = create_service_app("demo", settings, parts=parts)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://demo") as client:
            response = await client.get("/readyz")
    body = response.json()
    assert response.status_code == 200
    assert body["status"] == "degraded"
    assert body["checks"]["relay"] == {
        "status": "down", "detail": "ConnectionError: no route", "critical": False,
        "latency_ms": pytest.approx(body["checks"]["relay"]["latency_ms"]),
    }  # fmt: skip
    assert body["checks"]["database"]["status"] == "up"


def test_a_service_imports_the_libraries_of_the_parts_it_has_and_no_more():
    """Issue 20: the runtime imports a part's libraries where it builds the part, so a service without a
    database starts without SQLAlchemy and Alembic, and one with a database imports Alembic in its lifespan.
    (The gateway does use boto3 since it keeps browser sessions: KMS seals them, Cognito revokes on sign-out.)"""
    code = """
import sys
import services.gateway.app
assert not {"sqlalchemy", "alembic", "asyncpg"} & set(sys.modules), "the gateway imported a part it lacks"
import services.cart.app
assert not {"sqlalchemy", "asyncpg"} & set(sys.modules), "the cart imported a part it lacks"
import services.catalog.app
assert "alembic" not in sys.modules, "Alembic imported before the lifespan"
"""
    env = os.environ | {"SHOP_TRACING": "off"}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
