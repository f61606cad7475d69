"""The order service against real PostgreSQL and the emulator: internal API, history, outbox rows."""

from __future__ import annotations

import asyncio
import itertools

import pytest
from order_support import order_body, outbox_rows, recorded, running, settings_for, user

from services.order import domain
from services.order.adapters.postgres import BY_ID
from services.order.domain import Command, OrderStatus
from services.order.schemas import OrderIn

# One path from pending to each status, as the saga and the payment events drive it.
PATHS = {
    OrderStatus.PENDING: (),
    OrderStatus.CONFIRMED: (Command.CONFIRM,),
    OrderStatus.PAID: (Command.CONFIRM, Command.PAY),
    OrderStatus.FULFILLED: (Command.CONFIRM, Command.PAY, Command.FULFIL),
    OrderStatus.CANCELLED: (Command.CONFIRM, Command.CANCEL),
    OrderStatus.REFUNDED: (Command.CONFIRM, Command.PAY, Command.REFUND),
}
ROUTE_BODIES = {Command.CONFIRM: {"payment_id": "pay-1"}, Command.CANCEL: {"reason": "customer asked"}}


@pytest.fixture
def order_settings(aws, database_secret):
    return settings_for(aws, database_secret)


async def send(client, app, order_id: str, command: Command):
    """A command as its caller sends it: the saga over HTTP, a capture through the repository the consumer uses."""
    if command is Command.PAY:
        try:
            await app.state.service.apply(order_id, command)
        except domain.IllegalTransition as exc:
            return 409, exc.extensions
        return 200, {}
    response = await client.post(f"/internal/orders/{order_id}/{command}", json=ROUTE_BODIES.get(command))
    return response.status_code, response.json()


async def test_twenty_parallel_creates_of_one_id_make_one_order_and_one_event(order_settings):
    async with running(order_settings) as (app, client):
        body = order_body("ord-parallel")
        responses = await asyncio.gather(*(client.post("/internal/orders", json=body) for _ in range(20)))
        assert sorted(r.status_code for r in responses) == [200] * 19 + [201]
        assert {r.json()["order_id"] for r in responses} == {"ord-parallel"}
        assert await outbox_rows(app, "ord-parallel") == [("OrderPlaced", False)]
        listed = (await client.get("/orders", headers=user("sub-alice"))).json()
        assert [o["order_id"] for o in listed["items"]] == ["ord-parallel"]


async def test_a_new_order_and_its_event_are_one_statement_and_a_transition_one_locked_read_and_one_write(
    order_settings,
):
    async with running(order_settings) as (app, client):
        async with recorded(app) as rec:
            warm, new = OrderIn(**order_body("ord-warm")), OrderIn(**order_body("ord-new"))
            await rec.service.place(warm.to_order(), warm.fingerprint())  # asyncpg meets the order's types once
            await rec.service.apply("ord-warm", Command.CONFIRM, payment_id="pay-1")
            await rec.statements()

            placed, created = await rec.service.place(new.to_order(), new.fingerprint())
            (made,) = await rec.statements()  # no BEGIN, no COMMIT: its own transaction
            assert made.startswith("WITH made AS (INSERT INTO orders"), made
            assert "INSERT INTO order_lines" in made, made
            assert "INSERT INTO order_status_history" in made, made
            assert "INSERT INTO outbox" in made, made
            assert "pg_notify" in made, made
            assert created

            again, created = await rec.service.place(new.to_order(), new.fingerprint())
            assert not created
            assert (again, again.created_at) == (placed, placed.created_at)
            assert await rec.statements() == [made, " ".join(BY_ID.sql.split())], "the insert meets the id; its order"

            await rec.service.apply("ord-new", Command.CONFIRM, payment_id="pay-1")
            begin, read, moved, commit = await rec.statements()
            assert (begin, commit) == ("BEGIN;", "COMMIT;")
            assert read.endswith("FOR UPDATE OF orders"), read
            assert "UPDATE orders SET status" in moved, moved
            assert "INSERT INTO outbox" in moved, moved
        stored = (await client.get("/internal/orders/ord-new")).json()
        assert stored["created_at"] == placed.created_at.isoformat()
        assert [e for e, _ in await outbox_rows(app, "ord-new")] == ["OrderPlaced", "OrderConfirmed"]


async def test_twenty_parallel_confirms_of_one_order_all_answer_it_confirmed_with_one_event(order_settings):
    # Nineteen of them wait for the row lock and read the order after the first confirm committed: they must
    # see its history too (a stale one would make them refuse confirmed -> confirmed with 409).
    async with running(order_settings) as (app, client):
        assert (await client.post("/internal/orders", json=order_body("ord-twins"))).status_code == 201
        body = ROUTE_BODIES[Command.CONFIRM]
        answers = await asyncio.gather(
            *(client.post("/internal/orders/ord-twins/confirm", json=body) for _ in range(20))
        )
        assert {(r.status_code, r.json()["status"]) for r in answers} == {(200, "confirmed")}
        assert {tuple(r.json()["history"]) for r in answers} == {("pending", "confirmed")}
        assert [e for e, _ in await outbox_rows(app, "ord-twins")] == ["OrderPlaced", "OrderConfirmed"]


async def test_the_same_id_with_another_body_is_a_conflict_and_changes_nothing(order_settings):
    async with running(order_settings) as (app, client):
        assert (await client.post("/internal/orders", json=order_body("ord-1"))).status_code == 201
        other = order_body("ord-1", currency="USD")
        refused = await client.post("/internal/orders", json=other)
        assert refused.status_code == 409
        assert refused.headers["content-type"] == "application/problem+json"
        assert "different body" in refused.json()["detail"]
        stored = (await client.get("/internal/orders/ord-1")).json()
        assert stored["currency"] == "EUR"
        assert await outbox_rows(app, "ord-1") == [("OrderPlaced", False)]


MALFORMED = [
    ({"lines": []}, "lines"),
    ({"lines": [{"product_id": "p-mug", "quantity": 0, "unit_price_minor": 1}]}, "lines.0.quantity"),
    ({"lines": [{"product_id": "p-mug", "quantity": 1001, "unit_price_minor": 1}]}, "lines.0.quantity"),
    ({"lines": [{"product_id": "p-mug", "quantity": 1, "unit_price_minor": -1}]}, "lines.0.unit_price_minor"),
    ({"subtotal_minor": -1}, "subtotal_minor"),
    ({"total_minor": 39.99}, "total_minor"),
    ({"total_minor": "3999"}, "total_minor"),
    ({"currency": "eur"}, "currency"),
    ({"currency": "EURO"}, "currency"),
    ({"subtotal_minor": 3000, "total_minor": 3500}, "subtotal_minor"),
    ({"total_minor": 3499}, "total_minor"),
    ({"email": "not-an-address"}, "email"),
]


async def test_a_malformed_order_is_refused_with_a_422_naming_the_field_and_stores_nothing(order_settings):
    async with running(order_settings) as (app, client):
        for change, field in MALFORMED:
            response = await client.post("/internal/orders", json=order_body("ord-bad", **change))
            assert response.status_code == 422, change
            assert field in [e["field"] for e in response.json()["errors"]], response.json()
        assert (await client.get("/internal/orders/ord-bad")).status_code == 404
        assert await outbox_rows(app, "ord-bad") == []


async def test_every_command_from_every_state_does_what_the_state_machine_says(order_settings):
    """The real service and database against the pure model, for all 6 states x 5 commands."""
    async with running(order_settings) as (app, client):
        for n, (start, command) in enumerate(itertools.product(OrderStatus, Command)):
            order_id = f"ord-{n}"
            assert (await client.post("/internal/orders", json=order_body(order_id))).status_code == 201
            for step in PATHS[start]:
                assert (await send(client, app, order_id, step))[0] == 200
            before = await app.state.service.get(order_id)
            assert before.status is start
            try:
                expected = domain.decide(before, command, payment_id="pay-1", reason="customer asked")
            except domain.IllegalTransition:
                expected = None

            status, body = await send(client, app, order_id, command)
            after = await app.state.service.get(order_id)
            events = await outbox_rows(app, order_id)
            case = f"{command} from {start}"
            if expected is None:
                assert status == 409, case
                assert (body["from_status"], body["to_status"]) == (start, domain.TARGET[command]), case
                assert after == before, case
            else:
                assert status == 200, case
                assert after.status is expected.order.status, case
            assert [e for e, _ in events] == [domain.EVENT_OF[s] for s in after.history], case
            assert len(events) == len(after.history), f"{case}: one outbox row per transition"


async def test_repeating_a_transition_returns_the_order_and_writes_no_second_event(order_settings):
    async with running(order_settings) as (app, client):
        await client.post("/internal/orders", json=order_body("ord-r"))
        for _ in range(3):
            response = await client.post("/internal/orders/ord-r/confirm", json={"payment_id": "pay-1"})
            assert response.status_code == 200
            assert response.json()["status"] == "confirmed"
        other = await client.post("/internal/orders/ord-r/confirm", json={"payment_id": "pay-2"})
        assert other.status_code == 409
        for _ in range(2):
            assert (await client.post("/internal/orders/ord-r/cancel", json={"reason": "timeout"})).status_code == 200
        assert [e for e, _ in await outbox_rows(app, "ord-r")] == ["OrderPlaced", "OrderConfirmed", "OrderCancelled"]
        assert (await client.post("/internal/orders/ord-nope/fulfil")).status_code == 404
        stored = (await client.get("/internal/orders/ord-r")).json()
        assert (stored["status"], stored["payment_id"], stored["cancel_reason"]) == ("cancelled", "pay-1", "timeout")


async def test_history_shows_signed_in_customers_their_own_orders_newest_first(order_settings):
    async with running(order_settings) as (_, client):
        for i in range(5):
            await client.post("/internal/orders", json=order_body(f"ord-a{i}", customer="sub-alice"))
        await client.post("/internal/orders", json=order_body("ord-b0", customer="sub-bob"))

        first = (await client.get("/orders", params={"page_size": 2}, headers=user("sub-alice"))).json()
        assert [o["order_id"] for o in first["items"]] == ["ord-a4", "ord-a3"]
        assert (first["total"], first["next_page"]) == (5, 2)
        last = (await client.get("/orders", params={"page": 3, "page_size": 2}, headers=user("sub-alice"))).json()
        assert ([o["order_id"] for o in last["items"]], last["next_page"]) == (["ord-a0"], None)

        bobs = (await client.get("/orders", headers=user("sub-bob"))).json()
        assert [o["order_id"] for o in bobs["items"]] == ["ord-b0"]
        assert (await client.get("/orders/ord-a0", headers=user("sub-alice"))).status_code == 200
        assert (await client.get("/orders/ord-a0", headers=user("sub-bob"))).status_code == 404
        assert (await client.get("/orders/ord-zzz", headers=user("sub-bob"))).status_code == 404

        assert (await client.get("/orders")).status_code == 401
        assert (await client.get("/orders/ord-1")).status_code == 401
        assert (await client.get("/orders", params={"page_size": 100}, headers=user("sub-a"))).status_code == 200
        too_big = await client.get("/orders", params={"page_size": 101}, headers=user("sub-a"))
        assert too_big.status_code == 422
        assert too_big.json()["errors"][0]["field"] == "page_size"
