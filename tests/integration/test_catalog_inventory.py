"""Reservations: never oversold under concurrency, all-or-nothing, idempotent by id, released, committed, expired."""

from __future__ import annotations

import asyncio
import uuid

from catalog_support import add_product, seed, seed_products, sql
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.catalog import domain
from services.catalog.adapters.inventory import PostgresInventory
from services.catalog.adapters.postgres import SCHEMA
from services.catalog.domain import ReservationLine
from services.common import db

pytest_plugins = ("catalog_fixtures",)
RESERVATIONS = "/internal/inventory/reservations"


def hold(*lines: tuple[str, int], ttl_s: int | None = None) -> dict:
    body: dict = {"lines": [{"product_id": p, "quantity": q} for p, q in lines]}
    if ttl_s:
        body["ttl_s"] = ttl_s
    return body


def stock(pg_url: str, product_id: str) -> tuple[int, int]:
    return sql(pg_url, "select on_hand, reserved from inventory where product_id = %s", product_id)[0]


async def test_forty_shoppers_racing_for_five_units_get_exactly_five(client, catalog_app, pg_url):
    await seed(catalog_app, 12)
    product = await add_product(client, stock=5)
    calls = [client.put(f"{RESERVATIONS}/race-{n}", json=hold((product["id"], 1))) for n in range(40)]
    results = await asyncio.gather(*calls)
    statuses = sorted(r.status_code for r in results)
    assert statuses.count(201) == 5
    assert statuses.count(409) == 35
    assert stock(pg_url, product["id"]) == (5, 5)
    refused = next(r for r in results if r.status_code == 409).json()
    assert (refused["product_id"], refused["available"]) == (product["id"], 0)


async def test_a_repeated_reservation_id_holds_the_stock_once(client, catalog_app, pg_url):
    await seed(catalog_app, 12)
    product = await add_product(client, stock=5)
    first = await client.put(f"{RESERVATIONS}/order-7", json=hold((product["id"], 2)))
    again = await client.put(f"{RESERVATIONS}/order-7", json=hold((product["id"], 2)))
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json() == again.json()
    assert stock(pg_url, product["id"]) == (5, 2)
    other = await client.put(f"{RESERVATIONS}/order-7", json=hold((product["id"], 3)))
    assert (other.status_code, other.json()["field"]) == (409, "reservation_id")


async def test_concurrent_retries_of_one_reservation_hold_the_stock_once(client, catalog_app, pg_url):
    await seed(catalog_app, 12)
    product = await add_product(client, stock=10)
    results = await asyncio.gather(
        *(client.put(f"{RESERVATIONS}/dup", json=hold((product["id"], 3))) for _ in range(8))
    )
    assert sorted(r.status_code for r in results) == [200] * 7 + [201]
    assert stock(pg_url, product["id"]) == (10, 3)


async def test_a_reservation_with_one_short_line_holds_nothing(client, catalog_app, pg_url):
    await seed(catalog_app, 12)
    plenty = await add_product(client, sku="A-1", stock=10)
    scarce = await add_product(client, sku="B-1", stock=1)
    r = await client.put(f"{RESERVATIONS}/basket", json=hold((plenty["id"], 4), (scarce["id"], 2)))
    assert r.status_code == 409
    assert r.json()["product_id"] == scarce["id"]
    assert stock(pg_url, plenty["id"]) == (10, 0)
    assert (await client.get(f"{RESERVATIONS}/basket")).status_code == 404
    retry = await client.put(f"{RESERVATIONS}/basket", json=hold((plenty["id"], 4), (scarce["id"], 1)))
    assert retry.status_code == 201


async def test_an_unknown_product_in_a_reservation_is_a_422_naming_the_line(client, catalog_app):
    await seed(catalog_app, 12)
    product = await add_product(client, stock=3)
    r = await client.put(f"{RESERVATIONS}/x", json=hold((product["id"], 1), ("p-zzz-unknown", 1)))
    assert (r.status_code, r.json()["field"]) == (422, "lines.1.product_id")
    bad = await client.put(f"{RESERVATIONS}/x", json=hold((product["id"], 0)))
    assert (bad.status_code, bad.json()["errors"][0]["field"]) == (422, "lines.0.quantity")


async def test_a_release_gives_the_stock_back_once_and_a_released_hold_cannot_be_committed(client, catalog_app, pg_url):
    await seed(catalog_app, 12)
    product = await add_product(client, stock=5)
    await client.put(f"{RESERVATIONS}/r1", json=hold((product["id"], 4)))
    first = await client.post(f"{RESERVATIONS}/r1/release")
    again = await client.post(f"{RESERVATIONS}/r1/release")
    assert (first.json()["status"], again.json()["status"]) == ("released", "released")
    assert stock(pg_url, product["id"]) == (5, 0)
    commit = await client.post(f"{RESERVATIONS}/r1/commit")
    assert (commit.status_code, commit.json()["reservation_status"]) == (409, "released")
    assert (await client.post(f"{RESERVATIONS}/nope/release")).status_code == 404


async def test_a_commit_takes_the_stock_for_good_once_and_cannot_be_released(client, catalog_app, pg_url):
    await seed(catalog_app, 12)
    product = await add_product(client, stock=5)
    await client.put(f"{RESERVATIONS}/c1", json=hold((product["id"], 2)))
    first = await client.post(f"{RESERVATIONS}/c1/commit")
    again = await client.post(f"{RESERVATIONS}/c1/commit")
    assert (first.status_code, again.status_code, again.json()["status"]) == (200, 200, "committed")
    assert stock(pg_url, product["id"]) == (3, 0)
    release = await client.post(f"{RESERVATIONS}/c1/release")
    assert (release.status_code, release.json()["reservation_status"]) == (409, "committed")
    page = (await client.get(f"/catalog/products/{product['id']}")).json()
    assert page["availability"]["available"] == 3


async def test_an_abandoned_hold_is_freed_by_the_sweeper_and_can_no_longer_be_committed(client, catalog_app, pg_url):
    await seed(catalog_app, 12)
    product = await add_product(client, stock=5)
    await client.put(f"{RESERVATIONS}/old", json=hold((product["id"], 2), ttl_s=600))
    await client.put(f"{RESERVATIONS}/fresh", json=hold((product["id"], 1), ttl_s=600))
    sql(pg_url, "update reservations set expires_at = now() - interval '1 second' where id = 'old'")
    swept = await client.post("/internal/inventory/sweep")
    assert swept.json() == {"expired": 1}
    assert stock(pg_url, product["id"]) == (5, 1)
    assert (await client.get(f"{RESERVATIONS}/old")).json()["status"] == "expired"
    assert (await client.post(f"{RESERVATIONS}/old/commit")).status_code == 409


async def test_a_commit_after_the_expiry_is_refused_even_before_the_sweeper_runs(client, catalog_app, pg_url):
    await seed(catalog_app, 12)
    product = await add_product(client, stock=5)
    await client.put(f"{RESERVATIONS}/late", json=hold((product["id"], 2)))
    sql(pg_url, "update reservations set expires_at = now() - interval '1 second' where id = 'late'")
    r = await client.post(f"{RESERVATIONS}/late/commit")
    assert (r.status_code, r.json()["reservation_status"]) == (409, "expired")
    assert stock(pg_url, product["id"]) == (5, 0)


# --------------------------------------------------------------------------- invariants

OPS = st.lists(
    st.one_of(
        st.tuples(st.just("reserve"), st.integers(0, 5), st.integers(1, 4), st.integers(1, 4)),
        st.tuples(st.just("release"), st.integers(0, 5)),
        st.tuples(st.just("commit"), st.integers(0, 5)),
        st.tuples(st.just("restock"), st.integers(0, 12)),
    ),
    min_size=1,
    max_size=25,
)


STOCK = db.Query("select product_id, on_hand, reserved from inventory where product_id = any(:ids)")


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=OPS)
def test_any_sequence_of_holds_releases_commits_and_restocks_keeps_stock_exact(pg_url, ops):
    """The database matches a plain model after every step, so 0 <= reserved <= on_hand always."""
    url = pg_url.replace("postgresql://", "postgresql+psycopg://", 1)
    if url not in _migrated:  # once per test, not per example
        db.migrate("services.catalog", url, SCHEMA)
        _migrated.add(url)
    asyncio.run(_check_against_model(url, ops))


_migrated: set[str] = set()


async def _check_against_model(url: str, ops: list[tuple]) -> None:
    database = await db.Database.connect(url, SCHEMA, max_size=1)
    inventory = PostgresInventory(database)
    try:
        a, b = await seed_products(database, 2, on_hand=6)
        model = StockModel({a: 6, b: 6})
        run = uuid.uuid4().hex[:8]
        for op in ops:
            rid = f"{run}-{op[1]}"
            if op[0] == "reserve":
                lines = (ReservationLine(a, op[2]), ReservationLine(b, op[3]))
                expect = model.reserve(rid, lines)
                outcome = await _outcome(inventory.reserve(rid, lines, 60))
                assert outcome == expect, op
            elif op[0] == "release":
                expect = model.release(rid)
                assert await _outcome(inventory.release(rid)) == expect, op
            elif op[0] == "commit":
                expect = model.commit(rid)
                assert await _outcome(inventory.commit(rid)) == expect, op
            else:
                expect = model.restock(a, op[1])
                assert await _outcome(inventory.set_stock(a, op[1])) == expect, op
            for product_id, on_hand, reserved in await database.fetch(STOCK, {"ids": [a, b]}):
                assert (on_hand, reserved) == (model.on_hand[product_id], model.reserved(product_id))
                assert 0 <= reserved <= on_hand
    finally:
        await database.close()


async def _outcome(call) -> str:
    try:
        result = await call
    except domain.CatalogError as exc:
        return type(exc).__name__
    if isinstance(result, tuple):
        return "created" if result[1] else "replayed"
    return result.status.value if hasattr(result, "status") else "ok"


class StockModel:
    """What the inventory should do, in plain Python (one caller at a time)."""

    def __init__(self, on_hand: dict[str, int]):
        self.on_hand = dict(on_hand)
        self.holds: dict[str, tuple[str, tuple[ReservationLine, ...]]] = {}

    def reserved(self, product_id: str) -> int:
        return sum(
            x.quantity for s, lines in self.holds.values() if s == "held" for x in lines if x.product_id == product_id
        )

    def reserve(self, rid: str, lines: tuple[ReservationLine, ...]) -> str:
        if rid in self.holds:
            return "replayed" if self.holds[rid][1] == lines else "Conflict"
        if any(self.on_hand[x.product_id] - self.reserved(x.product_id) < x.quantity for x in lines):
            return "InsufficientStock"
        self.holds[rid] = ("held", lines)
        return "created"

    def release(self, rid: str) -> str:
        if rid not in self.holds:
            return "NotFound"
        status, lines = self.holds[rid]
        if status == "held":
            self.holds[rid] = ("released", lines)
        return self.holds[rid][0]

    def commit(self, rid: str) -> str:
        if rid not in self.holds:
            return "NotFound"
        status, lines = self.holds[rid]
        if status == "held":
            for x in lines:
                self.on_hand[x.product_id] -= x.quantity
            self.holds[rid] = ("committed", lines)
        return self.holds[rid][0]

    def restock(self, product_id: str, on_hand: int) -> str:
        if on_hand < self.reserved(product_id):
            return "Conflict"
        self.on_hand[product_id] = on_hand
        return "ok"
